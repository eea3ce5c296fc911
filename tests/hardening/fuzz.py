"""Fuzz targets and input generators for the iCalendar reader and the CalDAV XML reader.

Used by ``test_fuzz.py`` (a bounded number of inputs in every test run) and by ``make fuzz``
(many more, ``CIRAHUB_FUZZ_EXAMPLES``). A target returns what it read, or raises the
project's error for that reader with a message; anything else is a crash.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from cirahub.connectors.caldav import dav
from cirahub.core.errors import MalformedItem, ProtocolError
from cirahub.core.filters import in_window
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_calendar
from cirahub.core.options import SyncOptions
from cirahub.core.recurrence import expand_this_and_future

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = SyncOptions(days_back=30, days_ahead=365)

# --- iCalendar ----------------------------------------------------------------------------------

_FREQS = ["SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY", "FORTNIGHTLY"]
_RULE_PARTS = st.sampled_from([
    "COUNT=5", "COUNT=0", "COUNT=-1", "COUNT=99999999", "INTERVAL=0", "INTERVAL=3",
    "UNTIL=20270101T000000Z", "UNTIL=20270101", "UNTIL=99991231T235959Z", "UNTIL=garbage",
    "BYMONTH=2", "BYMONTH=13", "BYMONTHDAY=30", "BYMONTHDAY=-1", "BYMONTHDAY=32",
    "BYDAY=MO,TU", "BYDAY=1MO", "BYDAY=-5FR", "BYDAY=XX", "BYSETPOS=-1", "BYSETPOS=400",
    "BYYEARDAY=366", "BYYEARDAY=-366", "BYWEEKNO=53", "BYHOUR=25", "BYHOUR=9",
    "BYMINUTE=0,30", "BYSECOND=60", "WKST=SU", "RSCALE=HEBREW", "X-FOO=1",
])
_RRULE = st.builds(
    lambda freq, parts: "RRULE:" + ";".join([f"FREQ={freq}", *parts]),
    st.sampled_from(_FREQS), st.lists(_RULE_PARTS, max_size=5))
_MOMENT = st.sampled_from([
    "20261201T090000Z", "20261201T090000", "20261201", "20260230T090000Z", "99991231T235959Z",
    "00010101T000000", "2026-12-01T09:00:00Z", "garbage", "", "20261201T250000",
])
_TZID = st.sampled_from(["", ";TZID=Europe/Berlin", ";TZID=W. Europe Standard Time",
                         ";TZID=/freeassociation.sourceforge.net/Tzfile/Europe/Stockholm",
                         ";TZID=Nowhere/Zone", ";TZID=\"Quoted\"", ";VALUE=DATE",
                         ";VALUE=PERIOD", ";RANGE=THISANDFUTURE"])
_LINE = st.one_of(
    _RRULE,
    st.builds(lambda n, p, m: f"{n}{p}:{m}",
              st.sampled_from(["DTSTART", "DTEND", "DUE", "EXDATE", "RDATE", "RECURRENCE-ID",
                               "LAST-MODIFIED", "DTSTAMP"]), _TZID, _MOMENT),
    st.builds(lambda v: f"DURATION:{v}", st.sampled_from(["PT1H", "P1D", "-PT1H", "P", "PT"])),
    st.builds(lambda v: f"UID:{v}", st.text(max_size=40)),
    st.builds(lambda v: f"SUMMARY:{v}", st.text(max_size=80)),
    st.sampled_from(["BEGIN:VEVENT", "END:VEVENT", "BEGIN:VTODO", "END:VTODO", "BEGIN:VALARM",
                     "END:VALARM", "BEGIN:VTIMEZONE", "END:VTIMEZONE", "BEGIN:STANDARD",
                     "END:STANDARD", "TZID:Custom/Zone", "TZOFFSETFROM:+0100",
                     "TZOFFSETTO:+2500", "CATEGORIES:a,b", "STATUS:TENTATIVE", "CLASS:PRIVATE",
                     "ATTENDEE;CN=\"x\":mailto:a@b", "SEQUENCE:-1", "PRIORITY:x",
                     "X-WR-TIMEZONE:Europe/Paris", " folded continuation", ":", ";;;",
                     "BEGIN:VCALENDAR", "END:VCALENDAR"]),
    st.text(max_size=60),
)
_EVENT_HEAD = "BEGIN:VEVENT\r\nUID:fuzz@test\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T090000Z\r\n"


@st.composite
def ical_texts(draw: st.DrawFn) -> str:
    """Mostly well-formed calendars with hostile lines inside; some pure garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=400))
    events = []
    for _ in range(draw(st.integers(0, 3))):
        lines = draw(st.lists(_LINE, max_size=12))
        events.append(_EVENT_HEAD + "".join(line + "\r\n" for line in lines) + "END:VEVENT\r\n")
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//fuzz//EN\r\n"
    tail = "END:VCALENDAR\r\n" if draw(st.booleans()) or not events else ""
    return head + "".join(events) + tail


def read_ical(text: str) -> int:
    """The reader, as a feed or vdir uses it: parse, then place each item in a window,
    fingerprint it and expand its THISANDFUTURE overrides. Returns the items read."""
    errors: list[MalformedItem] = []
    items = parse_calendar(text, errors=errors, identity="fuzz")
    for error in errors:
        assert error.message.strip()
    for item in items:
        in_window(item, WINDOW, NOW)
        fingerprint(item)
        try:
            expand_this_and_future(item)
        except MalformedItem as exc:
            assert exc.message.strip()
    return len(items)


# --- CalDAV XML ---------------------------------------------------------------------------------

_XML_PIECE = st.sampled_from([
    "<d:response>", "</d:response>", "<d:href>/c/a.ics</d:href>", "<d:href></d:href>",
    "<d:href>http://other.example/c/%zz.ics</d:href>", "<d:propstat>", "</d:propstat>",
    "<d:prop>", "</d:prop>", "<d:getetag>\"1\"</d:getetag>", "<d:status>HTTP/1.1 200 OK</d:status>",
    "<d:status>HTTP/1.1 404 Not Found</d:status>", "<d:status>garbage</d:status>",
    "<d:status></d:status>", "<c:calendar-data>BEGIN:VCALENDAR</c:calendar-data>",
    "<d:sync-token>t1</d:sync-token>", "<d:resourcetype><d:collection/><c:calendar/></d:resourcetype>",
    "<d:supported-report-set><d:supported-report><d:report><d:sync-collection/></d:report>"
    "</d:supported-report></d:supported-report-set>", "<x:unknown xmlns:x='urn:x'/>",
    "<![CDATA[<notxml>]]>", "&amp;", "&bogus;", "<", ">", "<!-- c -->",
])
_PROLOGUES = st.sampled_from([
    "", "<?xml version='1.0' encoding='utf-8'?>",
    "<!DOCTYPE m [<!ENTITY a 'lol'>]>", "<!DOCTYPE m SYSTEM 'file:///etc/passwd'>",
    "<?xml version='1.0' encoding='latin-1'?>",
])


@st.composite
def dav_bodies(draw: st.DrawFn) -> bytes:
    """Multistatus answers with hostile parts; some pure garbage bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    root = draw(st.sampled_from(["d:multistatus", "d:error", "multistatus", "d:prop"]))
    pieces = "".join(draw(st.lists(_XML_PIECE, max_size=25)))
    close = f"</{root}>" if draw(st.booleans()) else ""
    return (draw(_PROLOGUES) + f"<{root} xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'>"
            + pieces + close).encode("utf-8")


def read_dav(body: bytes) -> int:
    """The XML reader as the CalDAV connector uses it. Returns the responses read."""
    dav.error_conditions(body)  # never raises
    parsed = dav.parse_multistatus(body, "REPORT")
    for response in parsed.responses:
        response.text(dav.GETETAG)
        response.text(dav.CALENDAR_DATA)
        response.child_href(dav.CURRENT_USER_PRINCIPAL)
        response.has_type(dav.CALENDAR)
        response.reports()
    return len(parsed.responses)


__all__ = ["MalformedItem", "ProtocolError", "dav_bodies", "ical_texts", "read_dav", "read_ical"]
