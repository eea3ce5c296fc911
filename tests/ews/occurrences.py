"""Occurrence identity, as the reference reader sees it: an item's occurrences are the start
instants (UTC, or dates for all-day), durations and summaries ``recurring-ical-events``
expands from the iCalendar text the core writes for it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import islice
from typing import Any

import icalendar
import recurring_ical_events

from cirahub.connectors.base import Write, WriteResult
from cirahub.core.ical_write import to_ics
from cirahub.core.item import Item

Occurrence = tuple[str, str, str]
#: how many occurrences are compared from 1900 on (as the fidelity harness does)
FIRST = 300


def _instant(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo else value).strftime("%Y-%m-%dT%H:%M:%S")
    return value.isoformat()


def occurrences(item: Item, first: int = FIRST) -> list[Occurrence]:
    """(start, duration, summary) of the first ``first`` occurrences from 1900, of the item's
    canonical content (the fields the EWS mapping works from, not a verbatim ``source``)."""
    return text_occurrences(to_ics(item.with_source(None)), first)


def text_occurrences(text: str, first: int = FIRST) -> list[Occurrence]:
    """The same, of an iCalendar text as the reference reader reads it."""
    cal = icalendar.Calendar.from_ical(text)
    out: list[Occurrence] = []
    for event in islice(recurring_ical_events.of(cal).after(datetime(1900, 1, 1)), first):
        start, end = event["DTSTART"].dt, event["DTEND"].dt if "DTEND" in event else event["DTSTART"].dt
        out.append((_instant(start), str(end - start), str(event.get("SUMMARY", ""))))
    return sorted(out)


def write_and_read(conn: Any, item: Item, hub_item_id: str = "hub-1") -> tuple[WriteResult, Item, Item]:
    """Create ``item`` through the connector; (result, item read back as the hub sees it,
    item as Exchange holds it)."""
    [result] = conn.write_many([Write("create", hub_item_id, item)])
    assert isinstance(result, WriteResult), result
    [seen] = conn.fetch([result.remote_id], missing_ok=False)
    [held] = conn.fetch([result.remote_id], missing_ok=False, restore=False)
    assert seen.item is not None and held.item is not None, (seen.error, held.error)
    return result, seen.item, held.item
