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
   as midnight of the other's zone — the same meaning, the same item; and what vobject refuses
   mended where it is (:mod:`.mending`: one kind of component, unusable alarms left out);
2. the item as the model writes it (no source): every modelled field, nothing else.

Each step that changed what a reader sees is a note on the write (:attr:`WriteResult.notes`,
a declared projection); a repair that only re-spells the text is none. Pure text handling
apart from the ``send`` callable :func:`put` is given.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import requests
from icalendar import Calendar, Component

from cirahub.connectors.caldav import dav, mending
from cirahub.core import ical
from cirahub.core.errors import MalformedItem
from cirahub.core.ical_values import compact_key
from cirahub.core.item import Item

#: answers that mean "this text is refused" (not "retry", "precondition" or "not allowed")
REFUSED = frozenset({400, 415, 422})
#: the components RFC 4791 calendar collections hold (others may be refused)
CALDAV_KINDS = frozenset({"VEVENT", "VTODO", "VJOURNAL"})
#: components the RFCs give a DTSTAMP (VALARM, VTIMEZONE and its rules have none)
_STAMPED = frozenset({"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VAVAILABILITY",
                      "AVAILABLE"})


def put(send: Callable[[str], requests.Response], item: Item, now: datetime,
        ) -> tuple[requests.Response, tuple[str, ...], str]:
    """Send ``item`` with ``send`` (one PUT of a body): as written from its source (always a
    VCALENDAR, RFC 4791 4.1), then, while the server refuses the text, repaired and then as
    the model writes it; the last answer, a note per projection that was needed and the last
    body sent (what a read-back is compared with, :mod:`.readback`)."""
    body, floating = mending.without_unknown_zones(escaped_commas(ical.to_ics(item, dtstamp=now)))
    notes: list[str] = [floating] if floating else []
    if not is_calendar_object(body):
        first: list[str] = []
        body = repaired(item, now, first, periods=False) or body
        notes.extend(f"written as a calendar object: {c}" for c in first)
    response = send(body)
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
            notes.extend(f"{kind} of this item: not written ({why}; its events are written "
                         "without it)" for kind in _left_out(body, text))
        elif changes:  # a repair that only re-spells the text is no projection
            # what was left out is a note of its own, naming its kind first
            notes.extend(f"{c} ({why})" for c in changes if "not written" in c)
            kept = [c for c in changes if "not written" not in c]
            notes.extend([f"{why}: sent repaired ({'; '.join(kept)})"] if kept else [])
        body = text
        response = send(body)
    return response, tuple(notes), body


def refused(response: requests.Response) -> bool:
    """Whether the server refused the text itself (not a precondition, auth or retry)."""
    return response.status_code in REFUSED or (
        response.status_code == 403
        and "supported-calendar-component" in dav.error_conditions(response.content))


def repaired(item: Item, dtstamp: datetime, changes: list[str] | None = None, *,
             periods: bool = True) -> str | None:
    """``item``'s text with what strict servers refuse mended (see the module docstring);
    None when nothing needed mending or the text cannot be read again. What a reader would
    see changed (a copy dropped, a date made a date-time, an RRULE line removed) is appended
    to ``changes``. ``periods``: RDATE periods are written as RDATEs and overrides too."""
    changes = changes if changes is not None else []
    text = ical.to_ics(item, dtstamp=dtstamp)
    try:
        root = Calendar.from_ical(text)
    except Exception:  # what we wrote always reads; nothing to mend if it somehow does not
        return None
    calendar = root if isinstance(root, Calendar) and root.name == "VCALENDAR" else _wrap(root)
    missing = [p for p in ("VERSION", "PRODID") if p not in calendar]
    for prop in missing:
        calendar.add(prop, {"VERSION": "2.0", "PRODID": "-//cirahub//EN"}[prop])
    if missing and calendar is root:  # a bare component has no calendar of its own to keep
        changes.append(f"the calendar's {' and '.join(missing)} added (RFC 5545 requires them)")
    kept = _one_of_each(calendar.subcomponents)
    held = {id(c) for c in kept}
    dropped = Counter(str(c.name) for c in calendar.subcomponents if id(c) not in held)
    for kind, n in sorted(dropped.items()):
        changes.append(f"{kind}: {n} further cop{'y' if n == 1 else 'ies'} with the same UID "
                       "and RECURRENCE-ID not written (the server holds one)")
    calendar.subcomponents[:] = kept
    if periods:  # after a refusal: what vobject refuses, mended (see .mending)
        mending.mend(calendar, str(item.fields.get("component") or "VEVENT"), changes)
    if periods and periods_as_overrides(calendar):
        changes.append("RDATE periods written as overrides of their occurrences")
    for component in calendar.walk():
        if component.name in _STAMPED and "DTSTAMP" not in component:
            component.add("DTSTAMP", dtstamp)
        rule = component.get("RRULE")
        if rule is not None and not isinstance(rule, list) and not rule:
            component.pop("RRULE")
            changes.append("an empty RRULE left out")
        if component.name == "VEVENT" and _same_kind_times(component):
            changes.append("a DATE beside a DATE-TIME written as midnight of its zone")
        if component.name == "VEVENT" and _floating_in_zone(component):
            changes.append("floating times beside zoned EXDATE/RDATE written in that zone "
                           "(as readers take them)")
    out: str = calendar.to_ical().decode("utf-8")
    return None if out == text else out


def periods_as_overrides(calendar: Calendar) -> bool:
    """Each RDATE PERIOD of the masters in ``calendar`` (Radicale refuses them) written as an
    RDATE of the period's start and, when the period is not the series' own length, an
    override of that occurrence (a copy of the master with the period's start and end): the
    same occurrences, as the reader models them. Whether anything changed."""
    changed = False
    for master in [c for c in calendar.subcomponents
                   if c.name == "VEVENT" and "RECURRENCE-ID" not in c and "RDATE" in c]:
        values = master.get("RDATE")
        props = values if isinstance(values, list) else [values]
        periods = [e.dt for p in props for e in getattr(p, "dts", []) if isinstance(e.dt, tuple)]
        if not periods:
            continue
        changed = True
        zone = _series_zone(master)
        if zone is not None:  # a period of dates on a timed series: from midnight to midnight
            periods = [(_at_midnight(a, zone), _at_midnight(b, zone)) for a, b in periods]
        starts = [_at_midnight(e.dt[0] if isinstance(e.dt, tuple) else e.dt, zone)
                  for p in props for e in getattr(p, "dts", [])]
        master.pop("RDATE")
        master.add("RDATE", starts)
        length = _length(master)
        for first, last in periods:
            end = first + last if isinstance(last, timedelta) else last
            if length is None or end - first != length:
                calendar.add_component(_occurrence(master, first, end))
    return changed


#: the zone of a timed series whose DTSTART is floating (dates become naive midnights)
_FLOATING = object()


def _series_zone(master: Component) -> object | None:
    """The zone of a timed series' DTSTART (:data:`_FLOATING` for a floating one); None for
    an all-day series, whose dates stay dates."""
    start = getattr(master.get("DTSTART"), "dt", None)
    if not isinstance(start, datetime):
        return None
    return start.tzinfo if start.tzinfo is not None else _FLOATING


def _at_midnight(moment: Any, zone: Any) -> Any:
    """A date of a timed series (zone not None) as its midnight in the series' zone, and a
    floating time of a zoned series as a time in that zone, as the reference reader (and
    the model) take them; anything else as it is. (icalendar reads a PERIOD of dates,
    ``19970101/19970102``, as floating midnights.)"""
    if zone is None or not isinstance(moment, date):
        return moment
    if isinstance(moment, datetime):
        if moment.tzinfo is not None or zone is _FLOATING:
            return moment
        return moment.replace(tzinfo=zone)
    midnight = datetime(moment.year, moment.month, moment.day)
    return midnight if zone is _FLOATING else midnight.replace(tzinfo=zone)


def _length(master: Component) -> timedelta | None:
    start, end = master.get("DTSTART"), master.get("DTEND")
    if start is None or isinstance(start, list):
        return None
    if end is not None and not isinstance(end, list):
        return end.dt - start.dt  # type: ignore[no-any-return]
    duration = master.get("DURATION")
    return duration.dt if duration is not None and not isinstance(duration, list) else timedelta(0)


def _occurrence(master: Component, start: datetime, end: datetime) -> Component:
    """An override of ``master``'s occurrence at ``start``: every property of the master but
    the recurrence and times, its alarms, and the period's start and end."""
    override = master.copy()
    override.subcomponents = list(master.subcomponents)
    for name in ("RRULE", "RDATE", "EXDATE", "EXRULE", "DTSTART", "DTEND", "DURATION"):
        override.pop(name, None)
    override.add("DTSTART", start)
    override.add("DTEND", end)
    override.add("RECURRENCE-ID", start)
    return override


def unstorable(item: Item) -> str | None:
    """What an event is that strict servers (Radicale) refuse however it is written: only
    overridden occurrences (no series), or a series whose RRULE ends (UNTIL) before its
    DTSTART, which has no occurrence at all. None for anything else."""
    if item.overrides and not item.fields:
        return "occurrences without their series"
    rule, start = str(item.get("rrule") or ""), item.get("start")
    until = next((p[len("UNTIL="):] for p in rule.split(";") if p.startswith("UNTIL=")), "")
    if until and isinstance(start, dict) and _key_before(until, compact_key(start)):
        return "a series that ends (RRULE UNTIL) before it starts: it has no occurrence"
    return None


def _key_before(until: str, start: str) -> bool:
    """Whether the UNTIL text ``until`` is before the occurrence key ``start`` (both compact:
    a date, a UTC instant or a floating time; a date stands for its whole day)."""
    if len(until) == 8 or len(start) == 8:
        return until[:8] < start[:8]
    return until.rstrip("Z") < start.rstrip("Z")


#: single-valued TEXT properties: a comma in their value must be escaped (RFC 5545 3.3.11)
_TEXT_PROPS = frozenset({"SUMMARY", "LOCATION", "DESCRIPTION", "COMMENT", "CONTACT"})
_FOLD = re.compile(r"\r?\n[ \t]")
_BARE_COMMA = re.compile(r"(?<!\\),")


def escaped_commas(text: str) -> str:
    """``text`` with each unescaped comma of a SUMMARY, LOCATION, DESCRIPTION, COMMENT or
    CONTACT value escaped. Exports write ``LOCATION:aka bild, wien``, which icalendar reads
    whole but Radicale's parser (vobject) reads as a list and keeps only ``aka bild`` of; the
    escaped text means the same to every reader. The text itself when nothing needs it."""
    if "," not in text:
        return text
    lines = _FOLD.sub("", text).split("\n")
    changed = False
    for n, line in enumerate(lines):
        name = re.split(r"[;:]", line, maxsplit=1)[0].strip().upper()
        if name not in _TEXT_PROPS:
            continue
        at = _value_start(line)
        if at is not None and _BARE_COMMA.search(line, at):
            lines[n] = line[:at] + _BARE_COMMA.sub(r"\\,", line[at:])
            changed = True
    return _folded(lines) if changed else text


def _value_start(line: str) -> int | None:
    """Where the value of a content line starts (after the first colon outside quotes)."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            return i + 1
    return None


def _folded(lines: list[str]) -> str:
    """Content lines folded at 75 octets (RFC 5545 3.1, never inside a UTF-8 sequence),
    CRLF line ends."""
    out: list[str] = []
    for line in lines:
        data, lead = line.rstrip("\r").encode("utf-8"), b""
        while len(lead) + len(data) > 75:
            cut = 75 - len(lead)
            while cut > 1 and (data[cut] & 0xC0) == 0x80:
                cut -= 1
            out.append((lead + data[:cut]).decode("utf-8"))
            data, lead = data[cut:], b" "
        out.append((lead + data).decode("utf-8"))
    return "\r\n".join(out)


def is_calendar_object(text: str) -> bool:
    """Whether ``text`` is a VCALENDAR (what a CalDAV resource must be, RFC 4791 4.1)."""
    return text.lstrip().upper().startswith("BEGIN:VCALENDAR")


def from_model(item: Item, dtstamp: datetime) -> str:
    """``item`` as the model writes it, without its source text."""
    return ical.to_ics(item.with_source(None), dtstamp=dtstamp)


def _left_out(before: str, after: str) -> list[str]:
    """The kinds of component ``before`` holds that ``after`` does not (a custom component
    wrapping the events, which the model does not write)."""
    def kinds(text: str) -> set[str]:
        try:
            return {str(c.name) for c in Calendar.from_ical(text).walk()}
        except Exception:  # what cannot be read names nothing
            return set()
    return sorted(kinds(before) - kinds(after) - {"VCALENDAR", "VTIMEZONE", "STANDARD",
                                                   "DAYLIGHT"})


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


def _floating_in_zone(event: Component) -> bool:
    """A floating DTSTART beside EXDATEs or RDATEs in a zone: its floating times (DTSTART,
    DTEND and floating EXDATE/RDATE entries) written in that zone, which is how the
    reference reader (``recurring-ical-events``) reads the series. Servers that store the
    text parsed (Radicale) instead move the EXDATEs to the floating time, which excludes
    other occurrences for such a reader. Whether anything changed."""
    start = event.get("DTSTART")
    moment = getattr(start, "dt", None)
    if not isinstance(moment, datetime) or moment.tzinfo is not None:
        return False
    lists = [(name, p) for name in ("EXDATE", "RDATE")
             for p in (event.get(name) if isinstance(event.get(name), list)
                       else [event.get(name)] if event.get(name) is not None else [])]
    zone = next((e.dt.tzinfo for _, p in lists for e in getattr(p, "dts", [])
                 if isinstance(e.dt, datetime) and e.dt.tzinfo is not None), None)
    if zone is None:
        return False
    for name in ("DTSTART", "DTEND"):
        value = getattr(event.get(name), "dt", None)
        if isinstance(value, datetime) and value.tzinfo is None:
            event.pop(name)
            event.add(name, value.replace(tzinfo=zone))
    for name in ("EXDATE", "RDATE"):
        values = [p for n, p in lists if n == name]
        if not values:
            continue
        event.pop(name)
        for p in values:
            entries = [e.dt.replace(tzinfo=zone) if isinstance(e.dt, datetime)
                       and e.dt.tzinfo is None else e.dt for e in p.dts]
            event.add(name, entries)
    return True


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
