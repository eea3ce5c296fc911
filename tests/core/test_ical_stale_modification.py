"""An overridden occurrence left from an older version of a series (its own RRULE, a lower
SEQUENCE, at an instant the series no longer has) is skipped by the reference reader
(``recurring-ical-events`` issue 253); the model skips it too, so a copy written from the
model has the source's occurrences."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice

import icalendar
import recurring_ical_events

from cirahub.core.ical import parse_item, to_ics

_STALE = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
    "BEGIN:VEVENT\r\nUID:111\r\nDTSTAMP:20240707T214014Z\r\nDTSTART;VALUE=DATE:20240729\r\n"
    "DTEND;VALUE=DATE:20240804\r\nSUMMARY:test\r\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO\r\n"
    "RECURRENCE-ID;VALUE=DATE:20240729\r\nSEQUENCE:{old}\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:111\r\nDTSTAMP:20240707T214014Z\r\nDTSTART;VALUE=DATE:20240701\r\n"
    "DTEND;VALUE=DATE:20240708\r\nSUMMARY:test\r\n"
    "RRULE:FREQ=WEEKLY;UNTIL=20240720;INTERVAL=2;BYDAY=MO\r\nSEQUENCE:2\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n")


def _starts(text: str) -> list[object]:
    cal = icalendar.Calendar.from_ical(text)
    found = islice(recurring_ical_events.of(cal).after(datetime(1900, 1, 1)), 50)
    return sorted(str(e["DTSTART"].dt) for e in found)


def test_regression_a_stale_modification_is_no_occurrence_of_the_copy() -> None:
    """Before: the model held it as an override, so a copy written from the model (the EWS
    path's destination) had it as a third occurrence ("2 occurrences became 3")."""
    text = _STALE.format(old=1)
    item = parse_item(text)
    assert item.overrides == {}
    assert _starts(to_ics(item.with_source(None), dtstamp=datetime(2026, 1, 1, tzinfo=UTC))) \
        == _starts(text) == ["2024-07-01", "2024-07-15"]
    assert to_ics(item) == text  # the source still carries it


def test_a_modification_of_the_current_version_is_kept() -> None:
    """Same SEQUENCE as the series: the reader shows it (an extra occurrence); so does the
    model."""
    text = _STALE.format(old=2)
    item = parse_item(text)
    assert list(item.overrides) == ["20240729"]
    assert _starts(to_ics(item.with_source(None))) == _starts(text)
