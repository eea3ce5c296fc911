"""What a CalDAV server is sent for an item, and what when it refuses that (declared projection).

An item is first sent as :func:`cirahub.core.ical.to_ics` writes it: its source verbatim (or
patched), so a copy keeps every property and parameter. Some servers refuse text every
iCalendar reader takes: Radicale parses with vobject, which rejects a bare component without
VCALENDAR, a VFREEBUSY/VAVAILABILITY/AVAILABLE without DTSTAMP, two masters of one UID, an
empty ``RRULE:``, RDATE periods, some property spellings and DATE/DATE-TIME mixes. On such a
refusal (4xx other than a precondition, auth or conflict answer) the connector sends, in turn:

1. the *repaired* text (:func:`repaired`): the same components, in a VCALENDAR with VERSION and
   PRODID, a DTSTAMP where the RFC requires one, one copy of each master/override (the one the
   model reads: highest SEQUENCE, then the later), no empty RRULE, a DATE beside a DATE-TIME
   as midnight of the other's zone — the same meaning, the same item;
2. the item as the model writes it (no source): every modelled field, nothing else.

Each step that changed what a reader sees is a note on the write (:attr:`WriteResult.notes`,
a declared projection); a repair that only re-spells the text is none. Pure text handling
apart from the ``send`` callable :func:`put` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import requests
from icalendar import Calendar, Component

from cirahub.connectors.caldav import dav
from cirahub.core import ical
from cirahub.core.errors import MalformedItem
from cirahub.core.item import Item

#: answers that mean "this text is refused" (not "retry", "precondition" or "not allowed")
REFUSED = frozenset({400, 415, 422})
#: the components RFC 4791 calendar collections hold (others may be refused)
CALDAV_KINDS = frozenset({"VEVENT", "VTODO", "VJOURNAL"})
#: components the RFCs give a DTSTAMP (VALARM, VTIMEZONE and its rules have none)
_STAMPED = frozenset({"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VAVAILABILITY",
                      "AVAILABLE"})


def put(send: Callable[[str], requests.Response], item: Item, now: datetime,
        ) -> tuple[requests.Response, tuple[str, ...]]:
    """Send ``item`` with ``send`` (one PUT of a body): as written from its source (always a
    VCALENDAR, RFC 4791 4.1), then, while the server refuses the text, repaired and then as
    the model writes it; the last answer and a note per projection that was needed."""
    body = ical.to_ics(item, dtstamp=now)
    if not is_calendar_object(body):
        body = repaired(item, now) or body
    response = send(body)
    notes: list[str] = []
    changes: list[str] = []  # what the repair changed that a reader sees
    steps = ((lambda: repaired(item, now, changes)),
             (lambda: from_model(item, now) if item.source is not None else None))
    for step, make in enumerate(steps):
        if not refused(response):
            break
        try:
            text = make()
        except MalformedItem:  # the model cannot write it either: the refusal stands
            text = None
        if text is None or text == body:
            continue
        why = f"the server refused the text (HTTP {response.status_code})"
        if step == 1:
            notes.append(f"{why}: sent as the model writes it (what it does not model is not "
                         "carried)")
        elif changes:  # a repair that only re-spells the text is no projection
            notes.append(f"{why}: sent repaired ({'; '.join(changes)})")
        body = text
        response = send(body)
    return response, tuple(notes)


def refused(response: requests.Response) -> bool:
    """Whether the server refused the text itself (not a precondition, auth or retry)."""
    return response.status_code in REFUSED or (
        response.status_code == 403
        and "supported-calendar-component" in dav.error_conditions(response.content))


def repaired(item: Item, dtstamp: datetime, changes: list[str] | None = None) -> str | None:
    """``item``'s text with what strict servers refuse mended (see the module docstring);
    None when nothing needed mending or the text cannot be read again. What a reader would
    see changed (a copy dropped, a date made a date-time, an RRULE line removed) is appended
    to ``changes``."""
    changes = changes if changes is not None else []
    text = ical.to_ics(item, dtstamp=dtstamp)
    try:
        root = Calendar.from_ical(text)
    except Exception:  # what we wrote always reads; nothing to mend if it somehow does not
        return None
    calendar = root if isinstance(root, Calendar) and root.name == "VCALENDAR" else _wrap(root)
    for prop, value in (("VERSION", "2.0"), ("PRODID", "-//cirahub//EN")):
        if prop not in calendar:
            calendar.add(prop, value)
    kept = _one_of_each(calendar.subcomponents)
    dropped = len(calendar.subcomponents) - len(kept)
    if dropped:
        changes.append(f"{dropped} further cop{'y' if dropped == 1 else 'ies'} of a component "
                       "with the same UID and RECURRENCE-ID left out")
    calendar.subcomponents[:] = kept
    for component in calendar.walk():
        if component.name in _STAMPED and "DTSTAMP" not in component:
            component.add("DTSTAMP", dtstamp)
        rule = component.get("RRULE")
        if rule is not None and not isinstance(rule, list) and not rule:
            component.pop("RRULE")
            changes.append("an empty RRULE left out")
        if component.name == "VEVENT" and _same_kind_times(component):
            changes.append("a DATE beside a DATE-TIME written as midnight of its zone")
    out: str = calendar.to_ical().decode("utf-8")
    return None if out == text else out


def is_calendar_object(text: str) -> bool:
    """Whether ``text`` is a VCALENDAR (what a CalDAV resource must be, RFC 4791 4.1)."""
    return text.lstrip().upper().startswith("BEGIN:VCALENDAR")


def from_model(item: Item, dtstamp: datetime) -> str:
    """``item`` as the model writes it, without its source text."""
    return ical.to_ics(item.with_source(None), dtstamp=dtstamp)


def _same_kind_times(event: Component) -> bool:
    """A DATE DTSTART with a DATE-TIME DTEND (or the reverse) made both date-times: the date
    at midnight in the other's zone, which is how the model (and the reference) read it."""
    start, end = event.get("DTSTART"), event.get("DTEND")
    if start is None or end is None or isinstance(start, list) or isinstance(end, list):
        return False
    for name, value, other in (("DTSTART", start, end), ("DTEND", end, start)):
        moment, like = getattr(value, "dt", None), getattr(other, "dt", None)
        if isinstance(like, datetime) and isinstance(moment, date) and \
                not isinstance(moment, datetime):
            midnight = datetime(moment.year, moment.month, moment.day, tzinfo=like.tzinfo)
            event.pop(name)
            event.add(name, midnight)
            return True
    return False


def _wrap(component: Component) -> Calendar:
    calendar = Calendar()
    calendar.add_component(component)
    return calendar


def _one_of_each(components: list[Component]) -> list[Component]:
    """One component per (kind, UID, RECURRENCE-ID): the one a reader keeps (highest
    SEQUENCE, then the later in the text), each where it stood."""
    chosen: dict[tuple[str, str, str], Component] = {}
    for component in components:
        if component.name == "VTIMEZONE":
            continue
        rid = component.get("RECURRENCE-ID")
        key = (str(component.name), str(component.get("UID", "")),
               rid.to_ical().decode() if rid is not None and hasattr(rid, "to_ical") else "")
        best = chosen.get(key)
        if best is None or _sequence(component) >= _sequence(best):
            chosen[key] = component
    kept = {id(c) for c in chosen.values()}
    return [c for c in components if c.name == "VTIMEZONE" or id(c) in kept]


def _sequence(component: Component) -> int:
    try:
        return int(str(component.get("SEQUENCE", 0)))
    except ValueError:
        return 0
