"""Occurrence identity through the iCalendar writer (issue 9): a random series as another
program writes it — IANA, Windows, vendor-prefixed and VTIMEZONE-only zones, DST-crossing
rules, COUNT and UNTIL in both forms, EXDATE, RDATE, overrides incl. RANGE=THISANDFUTURE,
all-day and floating — read, written again *from its fields alone* (no source text to hide
behind), and expanded by the reference reader: the same start instants, durations and
summaries. The same holds after THISANDFUTURE is expanded into plain overrides (what spokes
that cannot carry it receive)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from occurrences import occurrences

from cirahub.core.ical import parse_item, to_ics
from cirahub.core.recurrence import expand_this_and_future

pytestmark = pytest.mark.filterwarnings("ignore::icalendar.GloballyUniqueTZIDGuessed")

EU_RULES = (
    "BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n"
    "BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)
ODD_RULES = (
    "BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n"
    "BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0430\r\nTZOFFSETTO:+0330\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=9\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0330\r\nTZOFFSETTO:+0430\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=5\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)
#: (TZID as written, VTIMEZONE template or None); None as TZID = UTC, "floating", "date"
ZONES: list[tuple[str, str | None]] = [
    ("Europe/Berlin", None),
    ("America/New_York", None),
    ("Australia/Sydney", None),
    ("W. Europe Standard Time", None),
    ("/mozilla.org/20070129_1/America/New_York", None),
    ("/Europe/Stockholm", None),
    ("Customized Time Zone", EU_RULES),
    ("Odd Time", ODD_RULES),
    ("UTC", None),
    ("floating", None),
    ("date", None),
]
STEPS = {"DAILY": timedelta(days=1), "WEEKLY": timedelta(weeks=1)}


def _fmt(moment: datetime | date, tzid: str) -> tuple[str, str]:
    """(parameters, value) of a date-time property written in ``tzid``."""
    if tzid == "date":
        day = moment.date() if isinstance(moment, datetime) else moment
        return ";VALUE=DATE", day.strftime("%Y%m%d")
    assert isinstance(moment, datetime)
    if tzid == "floating":
        return "", moment.strftime("%Y%m%dT%H%M%S")
    if tzid == "UTC":
        return "", moment.strftime("%Y%m%dT%H%M%SZ")
    return f";TZID={tzid}", moment.strftime("%Y%m%dT%H%M%S")


def _prop(name: str, moment: datetime | date, tzid: str, extra: str = "") -> str:
    params, value = _fmt(moment, tzid)
    return f"{name}{extra}{params}:{value}\r\n"


@st.composite
def series(draw: st.DrawFn) -> str:
    tzid, template = draw(st.sampled_from(ZONES))
    day = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)))
    start: datetime | date = datetime.combine(
        day, time(draw(st.integers(6, 20)), draw(st.sampled_from([0, 15, 30, 45]))))
    if tzid == "date":
        start = day
        length: timedelta = timedelta(days=draw(st.integers(1, 3)))
    else:
        length = timedelta(minutes=draw(st.integers(0, 300)))
    freq = draw(st.sampled_from(["DAILY", "WEEKLY"]))
    step = STEPS[freq] * draw(st.integers(1, 3))
    count = draw(st.integers(2, 40))
    last = start + step * (count - 1)
    until_form = draw(st.sampled_from(["COUNT", "UNTIL-UTC", "UNTIL-DATE", "UNTIL-LOCAL"]))
    if until_form == "COUNT":
        rule = f"FREQ={freq};INTERVAL={step // STEPS[freq]};COUNT={count}"
    elif until_form == "UNTIL-DATE" or tzid == "date":
        day_of = last.date() if isinstance(last, datetime) else last
        rule = f"FREQ={freq};INTERVAL={step // STEPS[freq]};UNTIL={day_of:%Y%m%d}"
    elif until_form == "UNTIL-LOCAL" or tzid == "floating":
        # legal only for a floating series; real files have it on zoned ones too
        rule = f"FREQ={freq};INTERVAL={step // STEPS[freq]};UNTIL={last:%Y%m%dT%H%M%S}"
    else:
        rule = f"FREQ={freq};INTERVAL={step // STEPS[freq]};UNTIL={last:%Y%m%dT%H%M%S}Z"
    picks = draw(st.lists(st.integers(1, count - 1), max_size=4, unique=True))
    body = (
        "BEGIN:VEVENT\r\nUID:series@example.com\r\nDTSTAMP:20240101T000000Z\r\n"
        + _prop("DTSTART", start, tzid) + _prop("DTEND", start + length, tzid)
        + f"RRULE:{rule}\r\nSUMMARY:series\r\n"
    )
    exdates = picks[: len(picks) // 2]
    for n in exdates:
        body += _prop("EXDATE", start + n * step, tzid)
    if draw(st.booleans()):
        body += _prop("RDATE", start + step * count + timedelta(days=draw(st.integers(1, 9))), tzid)
    body += "END:VEVENT\r\n"
    for index, n in enumerate(sorted(picks[len(picks) // 2:])):
        moved = start + n * step + timedelta(hours=draw(st.integers(-30, 30)))
        if tzid == "date":
            moved = start + n * step + timedelta(days=draw(st.integers(-2, 2)))
        ranged = ";RANGE=THISANDFUTURE" if index == 0 and draw(st.booleans()) else ""
        body += (
            "BEGIN:VEVENT\r\nUID:series@example.com\r\nDTSTAMP:20240101T000000Z\r\n"
            + _prop("RECURRENCE-ID", start + n * step, tzid, ranged)
            + _prop("DTSTART", moved, tzid) + _prop("DTEND", moved + length, tzid)
            + f"SUMMARY:moved {n}\r\nEND:VEVENT\r\n"
        )
    zone = template.format(tzid=tzid) if template else ""
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Series//EN\r\n" + zone + body
            + "END:VCALENDAR\r\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(series())
def test_regression_random_series_keep_their_occurrences_through_the_writer(text: str) -> None:
    item = parse_item(text)
    reference = occurrences(text)
    written = to_ics(item.with_source(None))  # from the fields alone
    assert occurrences(written) == reference
    assert parse_item(written) == item.with_source(None)
    expansion = expand_this_and_future(item)
    assert expansion.complete
    assert occurrences(to_ics(expansion.item.with_source(None))) == reference
