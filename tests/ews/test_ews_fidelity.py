"""Issue 9 on the Exchange path: one regression test per class of fidelity bug, through the EWS
emulator with unmodified exchangelib. The emulator's CalendarView (Exchange expanding the series
in its own zone, asked through exchangelib) is the ground truth of what Outlook users see; the
reference reader (``recurring-ical-events``) is the truth of what the hub item means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from exchangelib import EWSDateTime, EWSTimeZone

from cirahub.connectors.ews.projection import project
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_item
from cirahub.core.item import Item
from tests.ews_emulator import EwsEmulator

from .hub import EwsHub, all_ok
from .occurrences import occurrences, write_and_read

BERLIN = ZoneInfo("Europe/Berlin")


def _ics(*events: list[str]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"]
    for event in events:
        lines += ["BEGIN:VEVENT", "DTSTAMP:20260101T000000Z", *event, "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


def _exchange_starts(conn: Any, first: datetime, days: int = 120) -> list[datetime]:
    """Occurrence starts (UTC) as Exchange expands them, read through exchangelib."""
    utc = EWSTimeZone("UTC")
    start = EWSDateTime.from_datetime(first.astimezone(UTC).replace(tzinfo=None)).replace(tzinfo=utc)
    view = conn.folder.view(start=start - timedelta(days=1), end=start + timedelta(days=days))
    return sorted(datetime.fromisoformat(o.start.isoformat()).astimezone(UTC) for o in view)


def _starts(item: Item) -> list[datetime]:
    return sorted(datetime.fromisoformat(s).replace(tzinfo=UTC) for s, _, _ in occurrences(item))


# --- class 1: a series keeps its zone ---------------------------------------------------------


def test_weekly_meeting_keeps_its_local_time_across_dst_through_exchange(conn: Any, emu: EwsEmulator) -> None:
    """A vendor-prefixed TZID with no VTIMEZONE: written with its Windows zone, expanded by
    Exchange at 10:00 local before and after the DST change, read back in the same zone."""
    hub = parse_item(_ics(["UID:weekly@test", "SUMMARY:Weekly",
                           "DTSTART;TZID=/freeassociation.sourceforge.net/Tzfile/Europe/Stockholm:20261005T100000",
                           "DTEND;TZID=/freeassociation.sourceforge.net/Tzfile/Europe/Stockholm:20261005T110000",
                           "RRULE:FREQ=WEEKLY;COUNT=6"]))
    assert hub.fields["start"]["tz"] == "Europe/Stockholm"
    result, seen, held = write_and_read(conn, hub)
    [stored] = emu.user.items(emu.state.folder_by_path("/Calendars/Team").id)
    assert emu.state.items[stored["id"]].tz_id == "W. Europe Standard Time"
    exchange = _exchange_starts(conn, datetime(2026, 10, 5, 10, tzinfo=BERLIN))
    assert [s.astimezone(ZoneInfo("Europe/Stockholm")).hour for s in exchange] == [10] * 6
    assert {s.utcoffset() for s in (x.astimezone(BERLIN) for x in exchange)} == {timedelta(hours=2), timedelta(hours=1)}
    assert exchange == _starts(hub) == _starts(held)
    assert held.fields["start"]["tz"] == "Europe/Stockholm" and result.notes == ()
    assert fingerprint(seen, conn.ignore) == fingerprint(hub, conn.ignore)


def test_regression_series_in_a_zone_exchangelib_cannot_name_keeps_its_zone(conn: Any, emu: EwsEmulator) -> None:
    """Old code: a StartTimeZone id exchangelib does not know (here a Windows display name, as
    older clients store it) was read as no zone, so the series came back in UTC with the same
    rule and every occurrence after the DST change was an hour off."""
    folder = emu.state.folder_by_path("/Calendars/Team").id
    display = "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna"
    first = datetime(2026, 10, 5, 10, tzinfo=BERLIN)
    rid = emu.user.create(folder, tz=display, subject="Outlook weekly", start=first, end=first + timedelta(hours=1),
                          recurrence={"pattern": "Weekly", "interval": 1, "days": "Monday", "count": 6})
    [remote] = conn.get_many([rid])
    assert remote.item is not None and remote.item.fields["start"].get("tz") in ("Europe/Amsterdam", "Europe/Berlin")
    assert _starts(remote.item) == _exchange_starts(conn, first)


# --- class 2: RANGE=THISANDFUTURE -------------------------------------------------------------


def test_regression_this_and_future_is_written_as_modified_occurrences(conn: Any, emu: EwsEmulator) -> None:
    """Old code wrote a THISANDFUTURE override as a one-occurrence exception: every later
    occurrence lost its shift. Now each governed occurrence is its own modified occurrence
    (the same occurrences: a change of form, not a projection), and the item reads back as the hub's (RANGE kept, no rewrite)."""
    hub = parse_item(_ics(
        ["UID:future@test", "SUMMARY:Planning", "DTSTART;TZID=Europe/Berlin:20261005T090000",
         "DTEND;TZID=Europe/Berlin:20261005T100000", "RRULE:FREQ=WEEKLY;COUNT=10"],
        ["UID:future@test", "SUMMARY:Planning (later)", "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261026T090000",
         "DTSTART;TZID=Europe/Berlin:20261026T110000", "DTEND;TZID=Europe/Berlin:20261026T113000"]))
    assert any(ov.get("range") == "THISANDFUTURE" for ov in hub.overrides.values())
    result, seen, held = write_and_read(conn, hub)
    assert result.notes == (), "the same occurrences: a change of form, not a projection"
    assert any("THISANDFUTURE" in form for form in project(hub, conn.cfg.timezone).forms)
    assert len(held.overrides) == 7  # the 4th to the 10th occurrence
    exchange = _exchange_starts(conn, datetime(2026, 10, 5, 9, tzinfo=BERLIN))
    assert exchange == _starts(hub) == _starts(held)
    assert [s.astimezone(BERLIN).hour for s in exchange] == [9, 9, 9] + [11] * 7
    assert occurrences(held) == occurrences(hub)
    assert fingerprint(seen, conn.ignore) == fingerprint(hub, conn.ignore)


# --- class 3: UNTIL and end dates -------------------------------------------------------------


@pytest.mark.parametrize(("start", "until", "count"), [
    # the series ending 15:14:59Z gained one at 15:15Z
    ("DTSTART:20261102T151500Z", "20261110T151459Z", 8),
    # 23:00Z is already the next day in Berlin: the day of UNTIL gained a whole occurrence
    ("DTSTART;TZID=Europe/Berlin:20261102T080000", "20261110T230000Z", 9),
], ids=["a-second-before", "next-local-day"])
def test_regression_until_maps_to_the_last_occurrence_not_the_day_of_until(
        conn: Any, start: str, until: str, count: int) -> None:
    tz = ";TZID=Europe/Berlin" if "TZID" in start else ""
    end = start.replace("DTSTART", "DTEND").replace("T151500Z", "T160000Z").replace("T080000", "T090000")
    hub = parse_item(_ics(["UID:until@test", "SUMMARY:Daily", start, end, f"RRULE:FREQ=DAILY;UNTIL={until}"]))
    assert tz or "tz" not in hub.fields["start"]
    _, seen, held = write_and_read(conn, hub)
    exchange = _exchange_starts(conn, datetime(2026, 11, 2, tzinfo=UTC), days=30)
    assert len(_starts(hub)) == count
    assert exchange == _starts(hub) == _starts(held)
    assert fingerprint(seen, conn.ignore) == fingerprint(hub, conn.ignore)  # UNTIL as the hub wrote it


def test_end_date_set_in_outlook_reads_back_as_an_until_with_the_same_occurrences(conn: Any, emu: EwsEmulator) -> None:
    folder = emu.state.folder_by_path("/Calendars/Team").id
    first = datetime(2026, 10, 20, 23, 30, tzinfo=BERLIN)  # late evening: 21:30Z, then 22:30Z
    rid = emu.user.create(folder, tz="W. Europe Standard Time", subject="Late", start=first,
                          end=first + timedelta(minutes=30),
                          recurrence={"pattern": "Daily", "interval": 1, "until": datetime(2026, 10, 30).date()})
    [remote] = conn.get_many([rid])
    assert remote.item is not None
    exchange = _exchange_starts(conn, first, days=20)
    assert len(exchange) == 11
    assert _starts(remote.item) == exchange


# --- class 4: values Exchange cannot hold -------------------------------------------------------


def test_regression_alarm_after_the_start_is_projected_never_fatal(store: Any, emu: EwsEmulator, tmp_path: Path) -> None:
    """Old code: an alarm after the start became a negative reminder, exchangelib refused the
    whole batch before sending and every create in it failed on every run. Now the reminder is
    at the start (declared), the other items of the batch are written, and the next run writes
    nothing: the item reads back as the hub's."""
    folder = tmp_path / "cal"
    folder.mkdir()
    for n in range(3):
        alarm = ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:x", "TRIGGER;RELATED=START:PT15M", "END:VALARM"]
        text = _ics([f"UID:a{n}@test", f"SUMMARY:Item {n}", f"DTSTART:2026120{n + 1}T090000Z",
                     f"DTEND:2026120{n + 1}T100000Z", *(alarm if n == 1 else [])])
        (folder / f"a{n}.ics").write_text(text)
    hub = EwsHub(store, emu)
    try:
        hub.add_vdir("files", str(folder))
        hub.add_public("exchange", "/Calendars/Team")
        assert hub.hub_items() == {} and hub.sync("files").ok
        assert hub.hub_items()["a1@test"].get("alarms") == [-15]
        run = hub.sync("exchange")
        assert run.ok and run.counts["pushed"] == 3 and run.counts.get("projected") == 1, (run.counts, run.error)
        stored = {i["subject"]: i for i in hub.items("exchange")}
        assert sorted(stored) == ["Item 0", "Item 1", "Item 2"]
        writes = hub.writes()
        all_ok(hub.sync_all(rounds=2))
        assert hub.writes() == writes, "the projected item was rewritten"
        assert hub.hub_items()["a1@test"].get("alarms") == [-15]
        assert "TRIGGER:PT15M" in (folder / "a1.ics").read_text().replace("TRIGGER;RELATED=START:PT15M", "TRIGGER:PT15M")
    finally:
        hub.close()
    assert emu.meeting_messages == []


def test_every_value_exchange_cannot_hold_is_projected_and_read_back_as_written(conn: Any, emu: EwsEmulator) -> None:
    """Each mapped field's out-of-range values: written as Exchange can hold them (declared,
    one note each), read back as the hub's values while nobody edits them in Outlook."""
    hub = Item("limits@test", {
        "summary": "S" * 300, "location": "L" * 300, "description": "body",
        "categories": ["C" * 300, *(f"tag{n:03}" for n in range(120))],
        "alarms": [-30, 3_000_000], "status": "CANCELLED", "importance": "high", "privacy": "CONFIDENTIAL",
        "start": {"utc": "2026-12-01T09:00:00Z", "tz": "Europe/Berlin"},
        "end": {"utc": "2026-12-01T08:00:00Z", "tz": "Europe/Berlin"},
    })
    result, seen, held = write_and_read(conn, hub)
    [stored] = emu.user.items(emu.state.folder_by_path("/Calendars/Team").id)
    assert len(stored["subject"]) == 255 and len(stored["location"]) == 255
    assert stored["body"].startswith("S" * 300) and stored["body"].endswith("body")
    assert len(stored["categories"]) == 100 and max(len(c) for c in stored["categories"]) == 255
    assert stored["end"] == stored["start"]
    assert held.fields["alarms"] == [0] and "status" not in held.fields
    assert held.fields["importance"] == "high" and held.fields["privacy"] == "CONFIDENTIAL"
    assert len(result.notes) == 7, result.notes
    assert fingerprint(seen, conn.ignore) == fingerprint(hub, conn.ignore)
    # an edit in Outlook wins over the hub's value behind the projection
    emu.user.update(stored["id"], subject="Renamed in Outlook")
    [after] = conn.get_many([stored["id"]])
    assert after.item is not None and after.item.fields["summary"] == "Renamed in Outlook"
    assert after.item.fields["location"] == "L" * 300


def test_a_date_exchange_cannot_store_fails_that_item_alone(conn: Any) -> None:
    from cirahub.connectors.base import Write
    from cirahub.core.errors import ItemRejected

    good = Item("good@test", {"summary": "ok", "start": {"utc": "2026-12-01T09:00:00Z"}, "end": {"utc": "2026-12-01T10:00:00Z"}})
    far = Item("far@test", {"summary": "far", "start": {"utc": "9999-12-01T09:00:00Z"}, "end": {"utc": "9999-12-01T10:00:00Z"}})
    bad, ok = conn.write_many([Write("create", "h-far", far), Write("create", "h-good", good)])
    assert isinstance(bad, ItemRejected) and "9999-12-01" in bad.message
    assert not isinstance(ok, Exception)
