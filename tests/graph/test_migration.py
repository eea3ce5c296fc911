"""The road past EWS (docs/exchange-online.md): a public-folder calendar moves to a shared
mailbox before EWS ends in Exchange Online. One hub holds the public folder (EWS, signed in
with OAuth app-only against the emulated Exchange Online) and a shared-mailbox calendar
(Graph, same app registration); after a sync every item is in the shared mailbox once, no
invitation went out, and detaching the public folder deletes nothing anywhere."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cirahub.actors.cycle import LocalMerger, SyncCycle
from cirahub.connectors.registry import open_connector, validate_config
from cirahub.core.options import SyncOptions
from tests.ews.online import APP_ID, CLIENT_SECRET, TENANT, Online, exchange_online
from tests.graph_emulator import GraphEmulator

GRAPH = "https://graph.microsoft.com"
SHARED = "team-calendar@contoso.onmicrosoft.com"


@pytest.fixture
def online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Online, GraphEmulator]]:
    with exchange_online(tmp_path) as o:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(o.bundle))
        # one app registration with both permissions, as the docs' step 1 sets it up
        tenant = o.tokens.directory.find_tenant(TENANT)
        assert tenant is not None
        tenant.apps[APP_ID].roles[GRAPH] = {"Calendars.ReadWrite"}
        with GraphEmulator(o.tokens) as graph:
            graph.add_mailbox(SHARED)
            yield o, graph
            assert graph.attendee_writes == 0, "Graph would have sent invitations"
            assert graph.unauthorized == 0  # every request carried a valid token
        assert o.ews.meeting_messages == [], "EWS would have sent meeting mail"


def _seed_public_folder(o: Online) -> int:
    """A public-folder calendar as teams have it: meetings with attendees, a weekly series,
    an all-day event, a private item."""
    user = o.ews.user
    base = datetime(2026, 12, 7, 8, tzinfo=UTC)
    for n in range(6):
        user.create(o.folder_id, subject=f"Customer call {n}", start=base + timedelta(days=n, hours=n % 3),
                    end=base + timedelta(days=n, hours=n % 3 + 1))
    user.create(o.folder_id, subject="Quarterly planning", start=base + timedelta(days=2, hours=5),
                end=base + timedelta(days=2, hours=7),
                required=["bob@contoso.example"], optional=["carol@contoso.example"])
    user.create(o.folder_id, subject="Team standup", start=base, end=base + timedelta(minutes=15),
                recurrence={"pattern": "Weekly", "days": "Monday", "count": 6})
    user.create(o.folder_id, subject="Office closed", start=datetime(2026, 12, 24).date(),
                end=datetime(2026, 12, 27).date())
    return 9


def _graph_config(o: Online, graph: GraphEmulator) -> dict[str, Any]:
    return {"tenant": TENANT, "client_id": APP_ID, "mailbox": SHARED, "authority": o.tokens.authority,
            "ca_file": o.tokens.ca_file, "graph_url": graph.url, "max_retry_seconds": 5}


def test_migration_recipe_public_folder_to_shared_mailbox(store: Any, online: tuple[Online, GraphEmulator]) -> None:
    o, graph = online
    count = _seed_public_folder(o)
    hub = store.create_hub("team")
    merger = LocalMerger(store)
    spokes = {}
    # step 3: the hub with the public folder (EWS, OAuth app-only) and the shared mailbox (Graph)
    for name, kind, config in (("public", "ews-public-folder", o.config()),
                               ("shared", "graph", _graph_config(o, graph))):
        record = store.add_spoke("team", name, kind, validate_config(kind, config), SyncOptions(),
                                 secret=CLIENT_SECRET)
        conn = open_connector(kind, record.config, store.get_spoke_secret(record.id))
        spokes[name] = (record, conn, SyncCycle(store, conn, record.id, merger))
    # step 4: sync until both sides agree
    for _ in range(2):
        for _, _, cycle in spokes.values():
            summary = cycle.run("test")
            assert summary.ok, (summary.status, summary.error)
    shared = [e for e in graph.store.events.values()]
    subjects = Counter(e.data.get("subject") for e in shared)
    assert sum(subjects.values()) == count and all(n == 1 for n in subjects.values()), subjects
    [planning] = [e for e in shared if e.data.get("subject") == "Quarterly planning"]
    assert not planning.data.get("attendees")  # an appointment: nobody was invited ...
    assert "bob@contoso.example" in planning.data["body"]["content"]  # ... the list is in the body
    [standup] = [e for e in shared if e.data.get("subject") == "Team standup"]
    assert standup.is_series
    # both ways while people move over: an edit in the shared mailbox reaches the public folder
    [call] = [e for e in shared if e.data.get("subject") == "Customer call 0"]
    with graph.store.lock:
        graph.store.update(call, None, {"subject": "Customer call 0 (moved to Teams)"})
    for name in ("shared", "public"):
        assert spokes[name][2].run("test").ok
    assert len(o.ews.user.find(o.folder_id, "Customer call 0 (moved to Teams)")) == 1
    # step 5: detach the public folder; nothing is deleted, here or there
    public_before = len(o.ews.user.items(o.folder_id))
    store.remove_spoke(spokes["public"][0].id)
    spokes["public"][1].close()
    for _ in range(2):
        summary = spokes["shared"][2].run("test")
        assert summary.ok and not summary.counts.get("tombstone_hub_item")
    assert len(graph.store.events) == count
    assert len(o.ews.user.items(o.folder_id)) == public_before == count
    assert len([h for h in store.hub_items_changed_since(hub.id, 0) if h.item is not None]) == count
    spokes["shared"][1].close()
