"""A kind's registration says what its spokes can hold (read-only feed, tasks and journal
entries); views that cannot open a connector (``items``, ``item show``) read it there, so it
must agree with what the kind's connectors actually declare in ``Capabilities``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cirahub.connectors.kinds import all_kinds, get_kind
from cirahub.connectors.registry import open_connector
from cirahub.control.items import copy_state
from cirahub.core.item import Item
from cirahub.core.model import HubItem
from cirahub.core.options import SyncOptions
from cirahub.core.states import SpokeState
from cirahub.store.records import SpokeRecord


def _configs(tmp_path: Path) -> dict[str, dict[str, Any]]:
    """A config each kind's connector opens with, without reaching any server."""
    return {
        "vdir": {"path": str(tmp_path)},
        "caldav": {"url": "http://127.0.0.1:9/cal/"},
        "ics-url": {"url": "http://127.0.0.1:9/feed.ics"},
        "memory": {"calendar": "kinds"},
        "ews-public-folder": {"service_endpoint": "https://127.0.0.1:9/EWS/Exchange.asmx",
                              "username": "svc@example.com", "folder": "Team"},
        "ews-mailbox": {"service_endpoint": "https://127.0.0.1:9/EWS/Exchange.asmx",
                        "username": "svc@example.com", "folder": "Calendar"},
        "graph": {"tenant": "contoso.onmicrosoft.com", "client_id": "app",
                  "mailbox": "room@contoso.com"},
    }


@pytest.mark.parametrize("name", sorted(all_kinds()))
def test_registration_says_what_its_connectors_declare(name: str, tmp_path: Path) -> None:
    configs = _configs(tmp_path)
    kind = get_kind(name)
    connector = open_connector(name, kind.load_validator()(configs[name]), "pw")
    caps = connector.capabilities
    assert (kind.read_only, kind.carries_components) == (caps.read_only,
                                                         caps.carries_components)


def _spoke(kind: str) -> SpokeRecord:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    return SpokeRecord(id="s1", hub_id="h1", name="team", kind=kind, config={},
                       options=SyncOptions(), has_secret=False, pull_cursor=None, push_cursor=0,
                       state=SpokeState.OK, last_error=None, halted_reason=None, halt=None,
                       first_attach=False, created_at=now, updated_at=now)


def test_regression_a_task_waiting_for_a_caldav_spoke_is_shown_pending() -> None:
    """`items` said a VTODO was "not written: only folder (vdir) spokes hold it" for a CalDAV
    collection, which holds it (the hub pushes it there)."""
    task = Item("task@x", {"component": "VTODO", "summary": "File the report"})
    hub = HubItem(id="i1", uid=task.uid, version=1, item=task, fingerprint="f")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert copy_state(hub, _spoke("caldav"), None, [], now).state == "pending"
    memory = copy_state(hub, _spoke("memory"), None, [], now)
    assert (memory.state, memory.reason) == ("not written",
                                             "a VTODO: a memory spoke holds only events")
    feed = copy_state(hub, _spoke("ics-url"), None, [], now)
    assert (feed.state, feed.reason) == ("not written", "a read-only feed")
