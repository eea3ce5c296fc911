"""Discovery on the EWS kinds through unmodified exchangelib: the public-folder tree level by
level (shallow, paged, calendars marked), a mailbox's calendars and shared ones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cirahub.connectors.kinds import DiscoveryQuery
from cirahub.connectors.registry import discover
from cirahub.core.errors import EwsAppNotAllowed, InvalidInput

from .conftest import PASSWORD, USER, connector_config
from .online import APP_ID, CLIENT_SECRET, Online, exchange_online


@pytest.fixture
def online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Online]:
    with exchange_online(tmp_path) as o:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(o.bundle))
        yield o


def test_public_folder_tree_level_by_level_and_paged(online: Online) -> None:
    emu = online.ews
    for name in ("Events", "Rooms/Room 1", "Rooms/Room 2", "Archive/2025"):
        emu.add_public_folder(f"/Calendars/{name}")
    emu.state.add_public_folder("/Mail", folder_class="IPF.Note")
    cfg = {k: v for k, v in online.config().items() if k != "folder"}

    top = discover("ews-public-folder", cfg, CLIENT_SECRET)
    assert [(c.path, c.is_calendar, c.child_count) for c in top.calendars] == [
        ("/Calendars", False, 4), ("/Mail", False, 0)]
    assert top.next_offset is None
    finds = [r for r in emu.requests if r.op == "FindFolder"]
    assert finds and all(r.attrs.get("Traversal") == "Shallow" for r in finds)

    level = discover("ews-public-folder", cfg, CLIENT_SECRET, DiscoveryQuery(under="/Calendars", page_size=3))
    assert [c.path for c in level.calendars] == ["/Calendars/Team", "/Calendars/Events", "/Calendars/Rooms"]
    assert [c.is_calendar for c in level.calendars] == [True, True, False]
    assert level.next_offset == 3
    rest = discover("ews-public-folder", cfg, CLIENT_SECRET,
                    DiscoveryQuery(under="/Calendars", page_size=3, offset=3))
    assert [c.path for c in rest.calendars] == ["/Calendars/Archive"] and rest.next_offset is None
    rooms = discover("ews-public-folder", cfg, CLIENT_SECRET, DiscoveryQuery(under="/Calendars/Rooms"))
    assert [c.display_name for c in rooms.calendars] == ["Room 1", "Room 2"]


def test_item_counts_come_with_the_folders(online: Online) -> None:
    online.ews.user.create(online.folder_id, subject="x", start=datetime(2030, 6, 3, 9, tzinfo=UTC),
                           end=datetime(2030, 6, 3, 10, tzinfo=UTC))
    cfg = {k: v for k, v in online.config().items() if k != "folder"}
    team = discover("ews-public-folder", cfg, CLIENT_SECRET, DiscoveryQuery(under="/Calendars")).calendars[0]
    assert team.path == "/Calendars/Team" and team.item_count == 1 and team.writable


def test_discovery_errors_are_the_connector_errors(online: Online) -> None:
    online.exo.allowed_app_ids.discard(APP_ID)
    cfg = {k: v for k, v in online.config().items() if k != "folder"}
    with pytest.raises(EwsAppNotAllowed):
        discover("ews-public-folder", cfg, CLIENT_SECRET)
    with pytest.raises(InvalidInput):
        discover("ews-public-folder", cfg, CLIENT_SECRET, DiscoveryQuery(page_size=0))


def test_mailbox_calendars_and_shared_calendars(emu) -> None:
    emu.add_mailbox("boss@example.com", "x")
    emu.state.add_mailbox(USER)
    cal = emu.state.distinguished("calendar", USER)
    with emu.state.lock:
        emu.state._folder("Projects", "IPF.Appointment", cal, public=False, mailbox=USER)
    cfg = {k: v for k, v in connector_config(emu, "ews-mailbox").items() if k != "folder"}
    page = discover("ews-mailbox", cfg, PASSWORD,
                    DiscoveryQuery(mailboxes=("boss@example.com", "nobody@example.com")))
    got = [(c.path, c.display_name, c.owner) for c in page.calendars]
    assert got == [("", "Calendar", None), ("/Projects", "Projects", None), ("", "Calendar", "boss@example.com")]
