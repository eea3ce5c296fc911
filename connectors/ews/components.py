"""VTODO and VJOURNAL items for Exchange, whose calendars hold appointments only: written as a
free all-day appointment on the component's own date (DTSTART, else DUE, COMPLETED, CREATED,
DTSTAMP — read from the item's iCalendar source), with its summary and description, and
declared. The hub's item behind it (kind, content) stays in the sidecar (:mod:`.sidecar`), so
hubs reading it back get the task or journal entry again. Pure."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

import icalendar

from cirahub.core.item import Item

#: where the date of a task or journal entry is taken from, in order
_DATE_PROPS = ("DTSTART", "DUE", "COMPLETED", "CREATED", "DTSTAMP")
#: used when the source names no date at all (a fixed day: the projection must be stable)
_NO_DATE = date(1970, 1, 1)


def as_appointment(item: Item, notes: list[str]) -> Item:
    """``item`` as an appointment when it is a VTODO/VJOURNAL (else unchanged)."""
    kind = item.fields.get("component")
    if not kind:
        return item
    day, prop, description = _from_source(item, str(kind))
    fields = {"summary": item.fields.get("summary") or str(kind), "start": {"date": day.isoformat()},
              "end": {"date": date.fromordinal(day.toordinal() + 1).isoformat()},
              "transparency": "TRANSPARENT"}
    if description:
        fields["description"] = description
    # hubs reading it back get its kind and summary: with its DTSTART gone, no copy stands for
    # a component that had one (the component is not written); others lose what they said
    lost = (f"the {kind} itself not written" if prop == "DTSTART"
            else "its other properties not carried")
    notes.append(f"{kind}: Exchange calendars hold appointments only; written as a free all-day "
                 f"appointment on {day.isoformat()} ({prop or 'no date in the item'}); {lost} "
                 "(they travel between iCalendar spokes only)")
    return Item(item.uid, fields)


@lru_cache(maxsize=64)
def source_calendar(source: str) -> icalendar.Calendar | None:
    """An item's iCalendar source as icalendar reads it (None when it cannot), read once for
    the several declarations of one write: parsing was the largest part of projecting an
    item. Callers only read the result (it is shared); a write batch's items fit the cache."""
    try:
        return icalendar.Calendar.from_ical(source)
    except (ValueError, TypeError):
        return None


#: components an item's source may hold that its fields carry (or that belong to them)
_CARRIED = frozenset({"VCALENDAR", "VEVENT", "VTIMEZONE", "STANDARD", "DAYLIGHT", "VALARM"})


def note_uncarried(item: Item, notes: list[str]) -> None:
    """Declare the components of the item's iCalendar source that one Exchange item cannot
    hold: another kind under the same UID (a VTODO or VFREEBUSY beside the VEVENT), or an
    unknown component wrapping it. They travel between iCalendar spokes only."""
    cal = source_calendar(item.source) if item.source else None
    if cal is None:
        return
    own = {str(item.fields.get("component") or "VEVENT")}
    names = sorted({str(c.name) for c in cal.walk() if c.name and c.name not in _CARRIED | own})
    if names:
        notes.append(f"{', '.join(names)} of this item: not written (one Exchange item holds one "
                     "appointment; carried between iCalendar spokes only)")


def _from_source(item: Item, kind: str) -> tuple[date, str | None, str | None]:
    cal = source_calendar(item.source or "")
    if cal is None:
        return _NO_DATE, None, None
    for component in cal.walk(kind):
        if str(component.get("UID", item.uid)) != item.uid or "RECURRENCE-ID" in component:
            continue
        text = str(component.get("DESCRIPTION", "")).replace("\r\n", "\n").rstrip() or None
        for prop in _DATE_PROPS:
            value = getattr(component.get(prop), "dt", None)
            if isinstance(value, datetime):
                return value.date(), prop, text
            if isinstance(value, date):
                return value, prop, text
        return _NO_DATE, None, text
    return _NO_DATE, None, None
