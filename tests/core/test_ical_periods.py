"""RDATE periods written back as periods (issue 9): the model reads an ``RDATE;VALUE=PERIOD``
of its own length as an override of that occurrence; the writer used to write that override
as a VEVENT of its own, so a copy written from the model (a hub item that came back from
Exchange) had one component more than its source, with its own SUMMARY and the rest."""

from __future__ import annotations

import icalendar
import pytest

from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_item, to_ics
from cirahub.core.item import Item
from tests.fidelity import reference

_UTC = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:rdate_period
DTSTAMP:19961201T000000Z
SUMMARY:RDATE period
DTSTART:19961230T020000Z
DTEND:19961230T060000Z
RDATE;VALUE=PERIOD:19970101T180000Z/19970102T070000Z,19970103T180000Z/PT2H
END:VEVENT
END:VCALENDAR
"""

_ZONED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:zoned_period
DTSTAMP:20240101T000000Z
SUMMARY:In Berlin
DTSTART;TZID=Europe/Berlin:20240325T100000
DTEND;TZID=Europe/Berlin:20240325T110000
RRULE:FREQ=WEEKLY;COUNT=3
RDATE;TZID=Europe/Berlin;VALUE=PERIOD:20240327T100000/20240327T130000
END:VEVENT
END:VCALENDAR
"""

_DATES = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:1
DTSTAMP:19970101T000000Z
DTSTART:19970101T180000Z
RDATE;VALUE=PERIOD:19970101/19970102
END:VEVENT
END:VCALENDAR
"""


def _occurrences(text: str) -> list[tuple[str, float]]:
    return [(o[1], o[2]) for o in reference.occurrences(icalendar.Calendar.from_ical(text))]


@pytest.mark.parametrize("text", [_UTC, _ZONED, _DATES], ids=["utc", "zoned", "dates"])
def test_regression_rdate_periods_are_written_as_periods(text: str) -> None:
    item = parse_item(text)
    assert item.overrides  # the model holds each period as an override
    written = to_ics(item.with_source(None))
    assert written.count("BEGIN:VEVENT") == 1, written
    assert "VALUE=PERIOD" in written
    assert _occurrences(written) == _occurrences(text)
    assert fingerprint(parse_item(written)) == fingerprint(item)


def test_a_period_override_stamped_apart_from_its_master_is_still_a_period() -> None:
    """A spoke that stamps LAST-MODIFIED on the master only (Exchange) changes no meaning."""
    item = parse_item(_UTC)
    fields = {**item.fields, "last_modified": "2026-12-01T10:00:00Z"}
    overrides = {k: {f: v for f, v in ov.items() if f != "last_modified"}
                 for k, ov in item.overrides.items()}
    written = to_ics(Item(item.uid, fields, overrides))
    assert written.count("BEGIN:VEVENT") == 1, written


def test_a_moved_or_edited_occurrence_stays_an_override() -> None:
    item = parse_item(_UTC)
    key = sorted(item.overrides)[0]
    edited = {**item.overrides[key], "summary": "moved elsewhere"}
    written = to_ics(Item(item.uid, item.fields, {**item.overrides, key: edited}))
    assert written.count("BEGIN:VEVENT") == 2, written
    assert fingerprint(parse_item(written)) == fingerprint(
        Item(item.uid, item.fields, {**item.overrides, key: edited}))
