"""Issue 9 on the Exchange path, what Exchange has no pattern for: RDATEs, occurrences without
their series, rules no Exchange pattern expresses, floating UNTIL, tasks and journal entries.
Each is written through unmodified exchangelib to the emulator; Exchange's own CalendarView
(asked through exchangelib) must show exactly the occurrences the reference reader
(``recurring-ical-events``) reads in the file, the projection is declared, and the item reads
back as the hub's (no rewrite). The declared projection is stored per item for operators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from exchangelib import EWSDateTime, EWSTimeZone

from cirahub.connectors.base import Write
from cirahub.connectors.ews.projection import project
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_calendar, parse_item
from cirahub.core.ical_write import to_ics
from tests.ews_emulator import EwsEmulator

from .hub import EwsHub, all_ok
from .occurrences import occurrences, text_occurrences, write_and_read


def _ics(*components: list[str], kind: str = "VEVENT") -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"]
    for c in components:
        lines += [f"BEGIN:{kind}", "DTSTAMP:20260101T000000Z", *c, f"END:{kind}"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


def _exchange_view(conn: Any, first: datetime, days: int) -> list[tuple[str, str, str]]:
    """(UTC start, duration, subject) of every occurrence Exchange expands in the window."""
    utc = EWSTimeZone("UTC")
    start = EWSDateTime.from_datetime(first.astimezone(UTC).replace(tzinfo=None)).replace(tzinfo=utc)
    out = []
    for o in conn.folder.view(start=start - timedelta(days=1), end=start + timedelta(days=days)):
        begin = datetime.fromisoformat(o.start.isoformat()).astimezone(UTC)
        end = datetime.fromisoformat(o.end.isoformat()).astimezone(UTC)
        out.append((begin.strftime("%Y-%m-%dT%H:%M:%S"), str(end - begin), o.subject or ""))
    return sorted(out)


def _form(conn: Any, text: str) -> str:
    """The change of form the projection names for the item of ``text`` (exactly one)."""
    [item] = parse_calendar(text)
    [form] = project(item, conn.cfg.timezone).forms
    return form


def _written(conn: Any, text: str) -> tuple[Any, Any, Any]:
    [item] = parse_calendar(text)
    result, seen, held = write_and_read(conn, item)
    assert fingerprint(seen, conn.ignore) == fingerprint(item, conn.ignore), "reads back changed: a rewrite"
    return item, result, held


def test_regression_rdates_are_occurrences_in_exchange(conn: Any) -> None:
    """Old code: Exchange has no RDATE, the hub dropped them (an "unsupported field") and the
    spoke held one occurrence of four. Now Exchange holds all four (a daily series with the
    days between deleted, the one at another time moved): the same occurrences, a change of
    form only (not a projection)."""
    text = _ics(["UID:rdates@test", "SUMMARY:Board", "DTSTART;TZID=Europe/Berlin:20261005T100000",
                 "DTEND;TZID=Europe/Berlin:20261005T110000",
                 "RDATE;TZID=Europe/Berlin:20261012T100000,20261102T100000,20261109T140000"])
    _, result, _ = _written(conn, text)
    assert "rdates" not in conn.ignore
    assert _exchange_view(conn, datetime(2026, 10, 5, tzinfo=UTC), 60) == text_occurrences(text)
    assert len(text_occurrences(text)) == 4
    assert result.notes == ()
    assert _form(conn, text).startswith("RDATE: written as a daily Exchange series")


def test_regression_series_with_rdates_and_exdates_keeps_every_occurrence(conn: Any) -> None:
    """A weekly all-day series with one EXDATE and one extra RDATE (rie issue 148)."""
    text = _ics(["UID:mix@test", "SUMMARY:Mix", "DTSTART;VALUE=DATE:20240701", "DTEND;VALUE=DATE:20240702",
                 "RRULE:FREQ=WEEKLY;COUNT=3", "EXDATE;VALUE=DATE:20240708", "RDATE;VALUE=DATE:20240717"])
    _written(conn, text)
    starts = [s[:10] for s, _, _ in _exchange_view(conn, datetime(2024, 7, 1, tzinfo=UTC), 40)]
    assert starts == ["2024-07-01", "2024-07-15", "2024-07-17"]


def test_regression_rule_without_exchange_pattern_is_written_as_its_occurrences(conn: Any) -> None:
    """Old code: ``BYMONTH`` with several months has no Exchange pattern: the create failed
    (item_rejected) and the series was never in Exchange. Now its occurrences are."""
    text = _ics(["UID:months@test", "SUMMARY:Third Wednesday", "DTSTART;TZID=America/Vancouver:20230920T120000",
                 "DTEND;TZID=America/Vancouver:20230920T140000",
                 "RRULE:FREQ=MONTHLY;COUNT=9;BYDAY=3WE;BYMONTH=1,2,3,4,5,9,10,11,12"])
    _, result, _ = _written(conn, text)
    assert _exchange_view(conn, datetime(2023, 9, 20, tzinfo=UTC), 300) == text_occurrences(text)
    assert result.notes == () and "no Exchange pattern" in _form(conn, text)


def test_regression_occurrences_without_their_series_are_written(conn: Any) -> None:
    """Old code: a file holding only RECURRENCE-ID components (an invitation to two occurrences)
    made an item without a start; exchangelib refused it ("'start' is a required field") and
    it was lost on the Exchange path. Now both occurrences are in Exchange."""
    text = _ics(["UID:orphans@test", "SUMMARY:Moved", "RECURRENCE-ID:20250428T160500Z",
                 "DTSTART:20250428T170500Z", "DTEND:20250428T173500Z"],
                ["UID:orphans@test", "SUMMARY:Moved too", "RECURRENCE-ID:20250505T160500Z",
                 "DTSTART:20250506T160500Z", "DTEND:20250506T163500Z"])
    _, result, _ = _written(conn, text)
    assert _exchange_view(conn, datetime(2025, 4, 28, tzinfo=UTC), 30) == text_occurrences(text)
    assert result.notes == () and _form(conn, text).startswith("occurrences without their series")


def test_regression_floating_series_with_floating_until_is_written(conn: Any) -> None:
    """Old code: a floating series whose UNTIL is floating too (legal) was placed in the
    spoke's zone without its UNTIL, and dateutil refused the rule: item_rejected."""
    text = _ics(["UID:float@test", "SUMMARY:Call", "DTSTART:20070220T170000", "DTEND:20070220T180000",
                 "RRULE:FREQ=WEEKLY;UNTIL=20070619T225959"])
    _, result, _ = _written(conn, text)
    view = _exchange_view(conn, datetime(2007, 2, 20, tzinfo=UTC), 150)
    assert len(view) == len(text_occurrences(text)) == 18
    assert {s[11:16] for s, _, _ in view} == {"16:00", "15:00"}  # 17:00 Berlin, winter and summer
    assert result.notes == ("floating time placed in the spoke's zone (Europe/Berlin)",)


def test_regression_task_is_written_as_a_declared_appointment(conn: Any) -> None:
    """Old code: a VTODO was never pushed to Exchange (and refused by exchangelib if it was:
    no start), so it was lost on the Exchange path. Now it is a free all-day appointment on
    its due date, declared, and reads back as the task."""
    text = _ics(["UID:todo@test", "SUMMARY:File taxes", "DUE;VALUE=DATE:20070501", "DESCRIPTION:Form 2"],
                kind="VTODO")
    assert conn.capabilities.carries_components
    item, result, held = _written(conn, text)
    assert item.get("component") == "VTODO"
    assert held.fields["start"] == {"date": "2007-05-01"} and held.get("transparency") == "TRANSPARENT"
    assert held.get("description") == "Form 2"
    assert result.notes and result.notes[0].startswith("VTODO: Exchange calendars hold appointments only")


def test_regression_declared_projections_are_stored_per_item(store: Any, emu: EwsEmulator, tmp_path: Path) -> None:
    """Old code: the notes were only counted and logged, and a foreign organizer was dropped
    without a word. Now each (spoke, hub item) keeps what the spoke changed, for operators (``Store.list_projections``);
    an item written again as it is loses its row."""
    folder = tmp_path / "cal"
    folder.mkdir()
    alarms = [f"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:R\r\nTRIGGER:-PT{m}M\r\nEND:VALARM" for m in (15, 30)]
    (folder / "r.ics").write_text(_ics(["UID:r@test", "SUMMARY:R", "DTSTART:20261201T090000Z",
                                        "DTEND:20261201T100000Z", *alarms]))
    (folder / "p.ics").write_text(_ics(["UID:p@test", "SUMMARY:Plain", "DTSTART:20261201T090000Z",
                                        "DTEND:20261201T100000Z"]))
    (folder / "o.ics").write_text(_ics(["UID:o@test", "SUMMARY:Theirs", "DTSTART:20261202T090000Z",
                                        "DTEND:20261202T100000Z", "ORGANIZER:mailto:boss@other.example"]))
    emu.add_public_folder("/Calendars/Team")
    hub = EwsHub(store, emu)
    try:
        hub.add_vdir("files", str(folder))
        exchange = hub.add_public("exchange", "/Calendars/Team")
        all_ok(hub.sync_all(rounds=2))
        by_uid = {e.uid: e.notes for e in store.list_projections(spoke_id=exchange.id)}
        assert sorted(by_uid) == ["o@test", "r@test"]  # the plain one is held as it is
        assert by_uid["r@test"] == ("2 alarms: Exchange holds one reminder (15 minutes before)",)
        # a foreign organizer Exchange cannot hold (the folder's owner organizes) is declared
        assert by_uid["o@test"] == ("organizer: not written (this spoke kind cannot hold it)",)
        assert [e.uid for e in store.list_projections(hub="team")] == ["o@test", "r@test"]
        (folder / "r.ics").write_text(_ics(["UID:r@test", "SUMMARY:R", "DTSTART:20261201T090000Z",
                                            "DTEND:20261201T100000Z"]))
        all_ok(hub.sync_all(rounds=2))
        assert [e.uid for e in store.list_projections(spoke_id=exchange.id)] == ["o@test"]
    finally:
        hub.close()


def test_single_item_without_rdates_is_not_touched(conn: Any) -> None:
    item = parse_item(_ics(["UID:one@test", "SUMMARY:One", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z"]))
    [result] = conn.write_many([Write("create", "hub-one", item)])
    assert result.notes == ()


#: Outlook's "Customized Time Zone" for central Europe, as Exchange sends it (Bias = UTC - local)
CUSTOM_EU = (
    '<Periods><Period Bias="-PT1H" Name="Standard" Id="trule:Microsoft/Registry/Customized/2006-Standard"/>'
    '<Period Bias="-PT2H" Name="Daylight" Id="trule:Microsoft/Registry/Customized/2006-Daylight"/></Periods>'
    '<TransitionsGroups><TransitionsGroup Id="0">'
    '<RecurringDayTransition><To Kind="Period">trule:Microsoft/Registry/Customized/2006-Daylight</To>'
    '<TimeOffset>PT2H</TimeOffset><Month>3</Month><DayOfWeek>Sunday</DayOfWeek><Occurrence>-1</Occurrence>'
    '</RecurringDayTransition>'
    '<RecurringDayTransition><To Kind="Period">trule:Microsoft/Registry/Customized/2006-Standard</To>'
    '<TimeOffset>PT3H</TimeOffset><Month>10</Month><DayOfWeek>Sunday</DayOfWeek><Occurrence>-1</Occurrence>'
    '</RecurringDayTransition></TransitionsGroup></TransitionsGroups>'
    '<Transitions><Transition><To Kind="Group">0</To></Transition></Transitions>'
)


def test_regression_customized_time_zone_series_keeps_its_local_time(conn: Any, emu: EwsEmulator) -> None:
    """Old code: a series created in Outlook in a "Customized Time Zone" (rules inside
    StartTimeZone, no registry name) was read in UTC (exchangelib only reads the id) with its
    local rule, so every occurrence after the DST change was an hour off. Now the rules are
    matched to the IANA zone that has them, and the hub's occurrences are Exchange's."""
    folder = emu.state.folder_by_path("/Calendars/Team").id
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2026, 10, 13, 10, 0, tzinfo=berlin)
    rid = emu.user.create(folder, tz="Customized Time Zone", tz_rules=CUSTOM_EU, subject="Weekly",
                          start=first, end=first + timedelta(hours=1),
                          recurrence={"pattern": "Weekly", "interval": 1, "days": "Tuesday", "count": 4})
    [remote] = conn.get_many([rid])
    assert remote.item is not None
    exchange = _exchange_view(conn, first, 30)
    assert [s[11:16] for s, _, _ in exchange] == ["08:00", "08:00", "09:00", "09:00"]  # 10:00 local
    assert text_occurrences(to_ics(remote.item.with_source(None))) == exchange
    assert ZoneInfo(remote.item.fields["start"]["tz"]).utcoffset(datetime(2026, 7, 1)) == timedelta(hours=2)


def test_regression_a_second_component_of_the_same_uid_is_declared(conn: Any) -> None:
    """Old code: a VTODO sharing its UID with a VEVENT (one item in the hub, the task in its
    source) vanished on the Exchange path without a word. One Exchange item holds the
    appointment; the task is declared not written (it travels between iCalendar spokes)."""
    text = "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN",
                        "BEGIN:VEVENT", "UID:both@test", "DTSTAMP:20260101T000000Z", "SUMMARY:Both",
                        "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "END:VEVENT",
                        "BEGIN:VTODO", "UID:both@test", "DTSTAMP:20260101T000000Z", "SUMMARY:Both",
                        "DUE:20261201T100000Z", "END:VTODO", "END:VCALENDAR", ""])
    _, result, held = _written(conn, text)
    assert held.fields["start"] == {"utc": "2026-12-01T09:00:00Z"}
    assert result.notes == ("VTODO of this item: not written (one Exchange item holds one appointment; "
                            "carried between iCalendar spokes only)",)


def test_regression_rdates_years_apart_fit_exchange_daily_interval(conn: Any) -> None:
    """Old code (of this change): two occurrences ten years apart made a daily series every
    3668 days, which exchangelib refuses (interval 1..999): the create failed every run."""
    text = _ics(["UID:decade@test", "SUMMARY:Reunion", "DTSTART:20100101T120000Z", "DTEND:20100101T130000Z",
                 "RDATE:20200117T120000Z"])
    _, _, held = _written(conn, text)
    assert held.fields["rrule"] == "FREQ=DAILY;COUNT=5;INTERVAL=917"
    assert occurrences(held) == text_occurrences(text)  # what Exchange holds, as the reference reads it
    # and Exchange itself shows the second one (a calendar view spans at most two years)
    assert [s for s, _, _ in _exchange_view(conn, datetime(2020, 1, 10, tzinfo=UTC), 20)] == ["2020-01-17T12:00:00"]
