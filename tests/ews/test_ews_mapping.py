"""Mapping round trips through the emulator: zones, HTML bodies, user-made series."""

from __future__ import annotations

from datetime import UTC, datetime

from cirahub.core.item import Item
from tests.ews_emulator import EwsEmulator


def test_lossy_windows_zone_keeps_the_hubs_iana_name(emu: EwsEmulator, public) -> None:
    item = Item("cph@test", {"summary": "Copenhagen", "rrule": "FREQ=DAILY;COUNT=3",
                             "start": {"utc": "2026-03-02T08:00:00Z", "tz": "Europe/Copenhagen"},
                             "end": {"utc": "2026-03-02T09:00:00Z", "tz": "Europe/Copenhagen"}})
    res = public.create(item, "hub-cph")
    [got] = public.get_many([res.remote_id])
    assert got.item.get("start") == item.get("start") and got.item.get("rrule") == "FREQ=DAILY;COUNT=3"


def test_outlook_series_with_moved_and_deleted_occurrence(emu: EwsEmulator, public) -> None:
    folder = emu.state.folder_by_path("/Calendars/Team").id
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)  # 09:00 in "W. Europe Standard Time"
    master = emu.user.create(folder, tz="W. Europe Standard Time", subject="Standup", start=start,
                             end=start.replace(minute=15), body="<p>Agenda&nbsp;<b>now</b></p>",
                             body_type="HTML", sensitivity="Private",
                             recurrence={"pattern": "Weekly", "interval": 1, "days": "Monday", "count": 6})
    emu.user.modify_occurrence(master, datetime(2026, 3, 9, 8, tzinfo=UTC), subject="Standup (moved)",
                               start=datetime(2026, 3, 9, 10, tzinfo=UTC), end=datetime(2026, 3, 9, 10, 15, tzinfo=UTC))
    emu.user.delete_occurrence(master, datetime(2026, 3, 30, 7, tzinfo=UTC))  # after DST: 09:00 local
    [got] = public.delta(None, {}).changed
    item = got.item
    assert item.get("rrule") == "FREQ=WEEKLY;COUNT=6;BYDAY=MO"
    assert item.get("start") == {"utc": "2026-03-02T08:00:00Z", "tz": "Europe/Berlin"}
    assert item.get("exdates") == ["20260330T070000Z"]
    assert item.get("description") == "Agenda now" and item.get("privacy") == "PRIVATE"
    assert item.overrides["20260309T080000Z"]["start"]["utc"] == "2026-03-09T10:00:00Z"
    # writing the same series into a second folder reproduces it exactly
    emu.add_public_folder("/Calendars/Copy")
    from cirahub.connectors.registry import open_connector

    from .conftest import PASSWORD, connector_config
    other = open_connector("ews-public-folder", connector_config(emu, "ews-public-folder", folder="/Calendars/Copy"), PASSWORD)
    res = other.create(item, "hub-series")
    [copy] = other.get_many([res.remote_id])
    strip = lambda i: {k: v for k, v in i.fields.items() if k != "last_modified"}  # noqa: E731
    assert strip(copy.item) == strip(item)
    assert {k: {f: x for f, x in v.items() if f != "last_modified"} for k, v in copy.item.overrides.items()} == {
        k: {f: x for f, x in v.items() if f != "last_modified"} for k, v in item.overrides.items()}
    assert emu.meeting_messages == []
