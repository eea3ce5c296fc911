"""The reference for occurrence identity: what ``recurring-ical-events`` expands a text to."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, timedelta

import recurring_ical_events
from icalendar import Calendar, GloballyUniqueTZIDGuessed

# vendor-prefixed TZIDs are read on purpose; the warning about it is noise here
warnings.filterwarnings("ignore", category=GloballyUniqueTZIDGuessed)

#: the span every comparison expands (from 1900, as the issue's harness does)
SPAN = (date(1900, 1, 1), date(2200, 1, 1))


def _instant(moment: date | datetime) -> str:
    if not isinstance(moment, datetime):
        return moment.isoformat()
    if moment.tzinfo is None:
        return "floating " + moment.isoformat()
    return moment.astimezone(UTC).isoformat()


def occurrences(text: str, limit: int = 300) -> list[tuple[str, timedelta, str]]:
    """(start instant in UTC / date / floating wall clock, duration, summary) of the first
    ``limit`` occurrences of every event in ``text``, sorted."""
    calendar = Calendar.from_ical(text)
    query = recurring_ical_events.of(calendar)
    out = []
    for event in query.between(*SPAN):
        start = event["DTSTART"].dt
        end = event["DTEND"].dt if "DTEND" in event else start
        out.append((_instant(start), end - start, str(event.get("SUMMARY", ""))))
        if len(out) >= limit:
            break
    return sorted(out)
