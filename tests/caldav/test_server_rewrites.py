"""What a CalDAV server changes in what it stores is read back after the PUT and declared on
the write (issue 9): Radicale re-serializes through vobject, which truncates an unknown
property's value at a comma and drops its quoted parameters' empty ones, drops a DURATION
beside a DTEND, and moves UTC EXDATEs of a floating series to floating times (other
occurrences for a reader). Xandikos stores the text as sent: nothing to declare there."""

from __future__ import annotations

import icalendar

from cirahub.connectors.base import Write, WriteResult
from cirahub.connectors.caldav import readback
from cirahub.core.ical import parse_item
from tests.fidelity import reference

from .conftest import make_connector
from .servers import DavServer, Radicale

_UNKNOWN_PROPERTY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:rewrite-location@test
DTSTAMP:20161031T192828Z
DTSTART:20161028T140000Z
DTEND:20161028T143000Z
SUMMARY:Daily Sync
X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS="Road 16";X-TITLE=:geo:52.38,7.52
END:VEVENT
END:VCALENDAR
"""

_DURATION_BESIDE_DTEND = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:rewrite-duration@test
DTSTAMP:20190307T194216Z
DTSTART:20190307T010000Z
DTEND:20190307T020000Z
RRULE:FREQ=DAILY;COUNT=3
SUMMARY:New Event
END:VEVENT
BEGIN:VEVENT
UID:rewrite-duration@test
DTSTAMP:20190307T194216Z
RECURRENCE-ID:20190308T010000Z
DTSTART:20190308T000000Z
DTEND:20190308T010000Z
DURATION:PT0S
SUMMARY:New Event
END:VEVENT
END:VCALENDAR
"""

_FLOATING_WITH_UTC_EXDATES = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:rewrite-exdates@test
DTSTAMP:19960401T000000Z
DTSTART:19960401T010000
DTEND:19960401T020000
RRULE:FREQ=DAILY;COUNT=10
EXDATE:19960402T010000Z,19960403T010000Z
SUMMARY:A recurring event with exdates
END:VEVENT
END:VCALENDAR
"""


def _write(server: DavServer, text: str) -> tuple[WriteResult, str]:
    """``text`` created through the connector's write_many; the result and what is stored."""
    path = server.mkcalendar()
    conn = make_connector(server.base, path)
    try:
        item = parse_item(text)
        [result] = conn.write_many([Write("create", "hub-item-1", item)])
        assert isinstance(result, WriteResult), result
        [stored] = conn.get_many([result.remote_id])
        assert stored.remote_version == result.remote_version
        assert stored.item is not None and stored.item.source is not None
        return result, stored.item.source
    finally:
        conn.close()


def _occurrences(text: str) -> list[tuple[str, float]]:
    cal = icalendar.Calendar.from_ical(text)
    return [(o[1], o[2]) for o in reference.occurrences(cal)]


def test_regression_server_rewrites_are_declared(dav_server: DavServer) -> None:
    """Before: Radicale's rewrite of X-APPLE-STRUCTURED-LOCATION (value cut at the comma,
    X-TITLE dropped) and its dropping of DURATION beside DTEND reached every reader of the
    collection with no note on the write (the fidelity harness saw them as property
    differences nothing declared)."""
    location, _ = _write(dav_server, _UNKNOWN_PROPERTY)
    duration, _ = _write(dav_server, _DURATION_BESIDE_DTEND)
    if isinstance(dav_server, Radicale):
        assert location.notes == (readback.note(["X-APPLE-STRUCTURED-LOCATION: changed"]),)
        assert duration.notes == (readback.note(["DURATION: left out"]),)
    else:
        assert location.notes == duration.notes == ()


def test_regression_floating_series_with_utc_exdates_keeps_its_occurrences(
        dav_server: DavServer) -> None:
    """Before: Radicale stored the UTC EXDATEs of a floating series as floating times, so the
    reference reader (which takes the series in the EXDATEs' zone) saw every occurrence moved
    to floating time: the one distorted file of the Radicale path. Now the write reads that
    back, sends the series in the EXDATEs' zone (the same occurrences) and declares it."""
    result, stored = _write(dav_server, _FLOATING_WITH_UTC_EXDATES)
    assert _occurrences(stored) == _occurrences(_FLOATING_WITH_UTC_EXDATES)
    if isinstance(dav_server, Radicale):
        assert len(result.notes) == 1 and "sent repaired (floating times beside zoned" \
            in result.notes[0], result.notes
    else:
        assert result.notes == ()


def test_rewrites_ignore_reserialization() -> None:
    """Property order, folding, parameter quoting and a VTIMEZONE's order are no rewrite."""
    sent = _UNKNOWN_PROPERTY
    stored = sent.replace('X-ADDRESS="Road 16"', "X-ADDRESS=Road 16").replace(
        "SUMMARY:Daily Sync\n", "").replace("UID:", "SUMMARY:Daily Sync\nUID:")
    assert readback.rewrites(sent, stored) == ()
    assert readback.rewrites(sent, sent.replace("7.52", "7.5")) == (
        "X-APPLE-STRUCTURED-LOCATION: changed",)


def test_regression_a_period_of_dates_on_a_timed_series_keeps_its_occurrence() -> None:
    """Before: Radicale refuses RDATE periods; the repair wrote ``RDATE;VALUE=PERIOD:19970101/
    19970102`` of a UTC series as a floating override at midnight (icalendar reads a period
    of dates as floating midnights), which a reader took as the series' own 18:00 with no
    length. Now the period's times are taken in the series' zone, as the reference does."""
    text = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nBEGIN:VEVENT\nUID:1\n"
            "DTSTAMP:19970101T000000Z\nDTSTART:19970101T180000Z\n"
            "RDATE;VALUE=PERIOD:19970101/19970102\nEND:VEVENT\nEND:VCALENDAR\n")
    from datetime import UTC, datetime

    from cirahub.connectors.caldav import writing

    changes: list[str] = []
    mended = writing.repaired(parse_item(text), datetime(2026, 1, 1, tzinfo=UTC), changes)
    assert mended is not None and "VALUE=PERIOD" not in mended
    assert _occurrences(mended) == _occurrences(text)


def test_regression_calendar_properties_a_server_adds_are_declared() -> None:
    """The read-back compared the components only: Radicale adding PRODID and VERSION to a
    calendar that had none was silent (the copy "projected: VCALENDAR/PRODID" undeclared)."""
    event = ("BEGIN:VEVENT\r\nUID:p@test\r\nDTSTAMP:20260101T000000Z\r\n"
             "DTSTART:20260105T090000Z\r\nSUMMARY:p\r\nEND:VEVENT\r\n")
    sent = f"BEGIN:VCALENDAR\r\n{event}END:VCALENDAR\r\n"
    stored = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//X//EN\r\n{event}END:VCALENDAR\r\n"
    assert readback.rewrites(sent, stored) == ("VCALENDAR/PRODID: added",
                                               "VCALENDAR/VERSION: added")
    assert readback.rewrites(stored, stored.replace("\r\nSUMMARY", "\r\nSUMMARY")) == ()


def test_regression_a_zone_nothing_defines_is_sent_floating_when_mended() -> None:
    """A TZID without VTIMEZONE and without a known name is floating time for readers;
    Radicale's vobject, which keeps every VTIMEZONE it parsed, gave it the zone another
    calendar defined under that name (issue_526: F:16:00 became 15:00Z). The mended text
    writes such times floating, declared."""
    from datetime import UTC, datetime

    from cirahub.connectors.caldav.writing import repaired

    item = parse_item("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w@test\r\n"
                      "DTSTAMP:20260101T000000Z\r\n"
                      'DTSTART;TZID="Western/Central Europe":20211101T160000\r\n'
                      "SUMMARY:w\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    changes: list[str] = []
    text = repaired(item, datetime(2026, 1, 1, tzinfo=UTC), changes)
    assert text is not None and "DTSTART:20211101T160000\r\n" in text
    assert any("zone nothing defines" in c for c in changes), changes



def test_regression_a_value_icalendar_cannot_read_makes_no_rewrite_note_and_no_error() -> None:
    """Before: a text with a property value icalendar parses lazily and cannot read (a
    CREATED of ``20242004T175920Z``, seen in the corpus) made the comparison raise
    BrokenCalendarProperty instead of saying nothing (its contract: a text that cannot be
    read says nothing about what changed); inside the connector's read-back that would have
    failed a whole write batch after its PUTs succeeded. Our own writer leaves such a value
    out, so only a server could store it: the comparison must not depend on that."""
    broken = _UNKNOWN_PROPERTY.replace("UID:rewrite-location@test",
                                       "UID:broken@test\nCREATED:20242004T175920Z")
    assert readback.rewrites(broken, broken.replace("Daily Sync", "Daily")) == ()
    assert readback.rewrites(_UNKNOWN_PROPERTY, broken) == ()
