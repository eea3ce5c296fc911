"""Issue 11 item 2: public-folder routing as Exchange Online needs it. With routing on, the
emulator refuses a public-folder request whose X-AnchorMailbox / X-PublicFolderMailbox do not
route to the public-folder mailboxes; the connector finds them by Autodiscover and the folder's
PR_REPLICA_LIST and sends them on every public-folder request, through unmodified exchangelib."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cirahub.connectors.base import Write, WriteResult
from cirahub.connectors.registry import open_connector
from cirahub.core.errors import CirahubError
from cirahub.core.item import Item
from tests.ews_emulator import EwsEmulator
from tests.ews_emulator.routing import Routing

from .conftest import PASSWORD, USER, connector_config
from .online import CLIENT_SECRET, SVC, exchange_online


@pytest.fixture
def routed_emu() -> Iterator[EwsEmulator]:
    with EwsEmulator({USER: PASSWORD}, routing=Routing()) as server:
        server.add_public_folder("/Calendars/Team")
        yield server


def _open(emu: EwsEmulator, **extra: Any) -> Any:
    return open_connector("ews-public-folder", connector_config(emu, "ews-public-folder", **extra), PASSWORD)


def _item(n: int) -> Item:
    start = datetime(2026, 12, 1, 9, tzinfo=UTC) + timedelta(days=n)
    return Item(f"r{n}@test", {"summary": f"Routed {n}", "start": {"utc": start.isoformat().replace("+00:00", "Z")},
                               "end": {"utc": (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z")}})


def test_public_folder_requests_carry_the_routing_headers(routed_emu: EwsEmulator) -> None:
    routing = routed_emu.routing
    assert routing is not None
    conn = _open(routed_emu, public_folder_routing=True)
    try:
        [created] = conn.write_many([Write("create", "h0", _item(0))])
        assert isinstance(created, WriteResult)
        delta = conn.delta(None, {})
        assert [r.item.uid for r in delta.changed if r.item] == ["r0@test"]
        [updated] = conn.write_many([Write("update", "h0", _item(0).replace(summary="Renamed"),
                                           created.remote_id, created.remote_version)])
        assert isinstance(updated, WriteResult)
        conn.delete(updated.remote_id, updated.remote_version)
    finally:
        conn.close()
    hierarchy = (routing.hierarchy_anchor, routing.hierarchy_mailbox)
    content = (routing.content_mailbox, routing.content_mailbox)
    ops = {op for op, _, _ in routing.seen}
    assert {"GetFolder", "FindFolder", "FindItem", "GetItem", "CreateItem", "UpdateItem", "DeleteItem"} <= ops
    for op, anchor, pf in routing.seen:
        assert (anchor, pf) == (hierarchy if op in ("GetFolder", "FindFolder") else content), op
    assert routed_emu.meeting_messages == []


def test_public_folder_requests_without_routing_headers_are_refused(routed_emu: EwsEmulator) -> None:
    conn = _open(routed_emu, max_retry_seconds=0.2)
    try:
        with pytest.raises(CirahubError) as caught:
            conn.delta(None, {})
    finally:
        conn.close()
    # exchangelib reads the refused root lookup as a missing folder
    assert caught.value.fields.get("error") in ("ErrorFolderNotFound", "ErrorNoPublicFolderReplicaAvailable")
    assert routed_emu.routing is not None and routed_emu.routing.seen
    assert not any(r.op in ("FindItem", "GetItem") for r in routed_emu.requests)
    assert all(pf is None for _, _, pf in routed_emu.routing.seen)


def test_routing_headers_are_only_sent_by_the_connector_that_routes(routed_emu: EwsEmulator) -> None:
    """The adapter hook is process-wide; a mailbox spoke on the same server sends exchangelib's
    own headers only."""
    routed = _open(routed_emu, public_folder_routing=True)
    mailbox = open_connector("ews-mailbox", connector_config(routed_emu, "ews-mailbox"), PASSWORD)
    try:
        routed.delta(None, {})
        before = len(routed_emu.requests)
        mailbox.delta(None, {})
        assert len(routed_emu.requests) > before
        assert all(r.public_folder_mailbox is None and r.mailbox == USER for r in routed_emu.requests[before:])
    finally:
        routed.close()
        mailbox.close()


def test_exchange_online_public_folder_with_oauth_is_routed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Online mode (bearer tokens only) with routing: an app-only OAuth spoke finds its routes
    by Autodiscover (with its token) and every public-folder request carries them."""
    with exchange_online(tmp_path) as online:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(online.bundle))
        domain = SVC.rsplit("@", 1)[1]
        routing = Routing(domain=domain, hierarchy_anchor=f"publicfolders@{domain}",
                          hierarchy_mailbox=f"1ec2a236-ed93-4f88-b9c6-33e63fa4aa44@{domain}",
                          content_mailbox=f"publicfolders2@{domain}")
        online.ews.route_public_folders(routing)
        conn = open_connector("ews-public-folder", online.config(public_folder_routing=True), CLIENT_SECRET)
        try:
            created = conn.create(_item(1), "hub-1")
            assert [r.remote_id for r in conn.delta(None, {}).changed] == [created.remote_id]
        finally:
            conn.close()
        assert routing.seen and all(pf is not None for _, _, pf in routing.seen)
        assert {r.op for r in online.ews.requests} >= {"FindFolder", "CreateItem", "FindItem", "GetItem"}
        assert all(v.user is not None for v in online.exo.verdicts)  # nothing refused
        unrouted = open_connector("ews-public-folder", online.config(max_retry_seconds=0.2), CLIENT_SECRET)
        try:
            with pytest.raises(CirahubError):
                unrouted.delta(None, {})
        finally:
            unrouted.close()
