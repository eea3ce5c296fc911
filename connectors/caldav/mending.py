"""Mending, for a strict server, what it refuses in an item's text while keeping the rest.

Radicale parses what it stores with vobject, which refuses some text every iCalendar reader
takes. Before this module the connector's last resort for such a text was the item as the
model writes it, which loses everything the model does not hold (X- properties, SEQUENCE,
CREATED, an attendee's RSVP...). These mend only the part refused, in the repaired text of
:func:`cirahub.connectors.caldav.writing.repaired`:

- components of several kinds under one UID (a VEVENT and a VTODO, a VEVENT and a
  VFREEBUSY; "Multiple component types in object"): the item's own kind is kept, the others
  are declared not written (one resource holds one kind);
- a VALARM whose TRIGGER is neither a duration nor a date-time (``TRIGGER;VALUE=TIME``: no
  reader can fire it; "VALUE must be DURATION or DATE-TIME"): not written, declared;
- a VTIMEZONE observance starting on a DATE (RFC 5545 wants a local date-time; "Unsupported
  DTSTART param in VTIMEZONE"): its midnight, the same onset (a re-spelling, no note);
- overridden occurrences without their series (RECURRENCE-ID components and no component
  without one: a Google export of a calendar that holds only some occurrences of a series;
  "Main component missing"): the first whose own start no other one overrides is written as
  the series, the others' RECURRENCE-IDs as its RDATEs, which they still override: readers see
  the same occurrences (declared);
- RDATE periods in an overridden occurrence (a RECURRENCE-ID component: readers take the
  occurrence it names, not its RDATEs; "PERIOD not supported"): written as their starts;
- a TZID that names no zone (no VTIMEZONE in the text, no name we know): readers take its
  times as floating, but a server that keeps the zones of every text it parsed (Radicale's
  vobject) gives them the zone another calendar defined under that name; written floating.

Each returns the notes of what a reader sees changed (appended to ``changes``). Pure.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from icalendar import Calendar, Component

from cirahub.core.ical_fast import content_lines
from cirahub.core.timezones import resolve_tzid

#: components that are never an item's kind (zones and their rules, alarms)
_NOT_KINDS = frozenset({"VTIMEZONE", "STANDARD", "DAYLIGHT", "VALARM"})
#: the TRIGGER value types RFC 5545 3.8.6.3 allows
_TRIGGER_TYPES = frozenset({"DURATION", "DATE-TIME"})


def mend(calendar: Calendar, kind: str, changes: list[str]) -> None:
    """Every mending of the module docstring on ``calendar`` (the item's text, its kind
    ``kind``: VEVENT, VTODO...), what a reader sees changed appended to ``changes``."""
    one_kind(calendar, kind, changes)
    orphan_occurrences(calendar, kind, changes)
    unreadable_alarms(calendar, changes)
    vtimezone_dates(calendar)
    override_periods(calendar, changes)
    unknown_zones(calendar, changes)


def one_kind(calendar: Calendar, kind: str, changes: list[str]) -> None:
    """Only ``kind``'s components when ``calendar`` holds several kinds of item components
    (and some of ``kind``); the others are left out, declared."""
    kinds = {str(c.name) for c in calendar.subcomponents if c.name not in _NOT_KINDS}
    if len(kinds) < 2 or kind not in kinds:
        return
    for other in sorted(kinds - {kind}):
        changes.append(f"{other} of this item: not written (the server holds one kind of "
                       f"component per resource: its {kind} is written without it)")
    calendar.subcomponents[:] = [c for c in calendar.subcomponents
                                 if c.name in _NOT_KINDS or c.name == kind]


def orphan_occurrences(calendar: Calendar, kind: str, changes: list[str]) -> None:
    """Occurrences of ``kind`` without their series written as one series of them (see the
    module docstring); left as they are when that would not say the same (a RANGE, an
    occurrence whose start another overrides, dates beside date-times)."""
    parts = [c for c in calendar.subcomponents if c.name == kind]
    if not parts or any("RECURRENCE-ID" not in c or "DTSTART" not in c
                        or _param(c, "RECURRENCE-ID", "RANGE") for c in parts):
        return
    ids = [_value(c, "RECURRENCE-ID") for c in parts]
    starts = [_value(c, "DTSTART") for c in parts]
    if len({_is_day(v) for v in ids + starts}) > 1:
        return
    series = next((c for i, c in enumerate(parts) if starts[i] not in ids[:i] + ids[i + 1:]),
                  None)
    if series is None:
        return
    own = _value(series, "RECURRENCE-ID")
    series.pop("RECURRENCE-ID")
    for value in ids:
        if value != own:
            series.add("RDATE", value)
    changes.append("occurrences without their series written as one series of them (the "
                   "server refuses them alone): the same occurrences")


def _value(component: Component, name: str) -> object:
    """The date or date-time of ``component``'s single ``name`` property."""
    return getattr(component[name], "dt", None)


def _param(component: Component, name: str, param: str) -> str:
    return str(getattr(component[name], "params", {}).get(param, ""))


def _is_day(value: object) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def unreadable_alarms(calendar: Calendar, changes: list[str]) -> None:
    """VALARMs whose TRIGGER states a value type RFC 5545 does not allow, left out."""
    for component in calendar.walk():
        alarms = [a for a in component.subcomponents if a.name == "VALARM"]
        bad = [a for a in alarms if _trigger_type(a) not in _TRIGGER_TYPES]
        if not bad:
            continue
        component.subcomponents[:] = [c for c in component.subcomponents
                                      if not any(c is b for b in bad)]
        changes.append(f"{len(bad)} alarm{'s' if len(bad) > 1 else ''} whose TRIGGER is "
                       "neither a duration nor a date-time (no reader can fire it): not written")


def _trigger_type(alarm: Component) -> str:
    """The value type an alarm's TRIGGER states (DURATION by default, and for an alarm
    without TRIGGER, which the server takes)."""
    trigger = alarm.get("TRIGGER")
    if trigger is None:
        return "DURATION"
    params = getattr(trigger, "params", {}) or {}
    return str(params.get("VALUE", "DURATION")).upper()


def vtimezone_dates(calendar: Calendar) -> None:
    """Observances starting on a DATE given their midnight (the same onset)."""
    for zone in [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]:
        for rule in zone.subcomponents:
            start = getattr(rule.get("DTSTART"), "dt", None)
            if isinstance(start, date) and not isinstance(start, datetime):
                rule.pop("DTSTART")
                rule.add("DTSTART", datetime(start.year, start.month, start.day))


def override_periods(calendar: Calendar, changes: list[str]) -> None:
    """RDATE periods of RECURRENCE-ID components written as their starts."""
    for component in calendar.subcomponents:
        if "RECURRENCE-ID" not in component or "RDATE" not in component:
            continue
        values = component.get("RDATE")
        props = values if isinstance(values, list) else [values]
        entries = [e.dt for p in props for e in getattr(p, "dts", [])]
        if not any(isinstance(e, tuple) for e in entries):
            continue
        component.pop("RDATE")
        component.add("RDATE", [e[0] if isinstance(e, tuple) else e for e in entries])
        changes.append("RDATE periods of an overridden occurrence written as their starts "
                       "(readers take the occurrence it names)")


#: properties whose TZID gives their times a zone
_ZONED = ("DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "EXDATE", "RDATE")


def unknown_zones(calendar: Calendar, changes: list[str]) -> None:
    """Times whose TZID names no zone written as the floating times readers take them for."""
    defined = {str(z.get("TZID", "")) for z in calendar.walk("VTIMEZONE")}
    found = False
    for component in calendar.walk():
        if component.name in ("VTIMEZONE", "STANDARD", "DAYLIGHT"):
            continue
        for name in _ZONED:
            values = component.get(name)
            props = values if isinstance(values, list) else [values] if values is not None else []
            tzids = {str(getattr(p, "params", {}).get("TZID", "")) for p in props}
            if not any(t and t not in defined and resolve_tzid(t) is None for t in tzids):
                continue
            found = True
            component.pop(name)
            for prop in props:
                component.add(name, _floating(prop))
    if found:
        changes.append("times in a zone nothing defines (no VTIMEZONE, no known name) written "
                       "floating, as readers take them")


def _floating(prop: object) -> object:
    """The wall-clock times of ``prop`` without a zone (a list of them for EXDATE/RDATE)."""
    dts = getattr(prop, "dts", None)
    if dts is not None:
        return [_wall(e.dt) for e in dts]
    return _wall(getattr(prop, "dt", prop))


def _wall(value: object) -> object:
    if isinstance(value, tuple):
        return tuple(_wall(v) for v in value)
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


#: a TZID parameter's value as icalendar reads it (quoted or not)
_TZID_PARAM = re.compile(r';TZID=(?:"([^"]*)"|([^;:,]*))', re.I)


def _zones_known(text: str) -> bool:
    """Whether every TZID parameter of ``text`` names a zone its VTIMEZONEs define or we know
    (then :func:`unknown_zones` changes nothing), read off the content lines without a
    reader: what we write almost always defines its zones, and a parse of every text sent
    cost ~0.8 ms CPU per PUT. False only means "ask the reader"."""
    defined: set[str] = set()
    used: set[str] = set()
    in_zone = False
    for line in content_lines(text):
        upper = line[:15].upper()
        if upper.startswith(("BEGIN:VTIMEZONE", "END:VTIMEZONE")):
            in_zone = upper.startswith("BEGIN")
        elif in_zone and upper.startswith("TZID:"):
            defined.add(line[5:])
        else:
            # (a ";TZID=" inside a value counts too: at worst the reader is asked)
            used.update(quoted or plain for quoted, plain in _TZID_PARAM.findall(line))
    return all(t in defined or resolve_tzid(t) is not None for t in used)


def without_unknown_zones(text: str) -> tuple[str, str | None]:
    """``text`` with the times :func:`unknown_zones` writes floating, and its note; ``text``
    itself and None when it has none (or cannot be read). Sent from the first write: a server
    that gives such a TZID another calendar's zone does it on any later read too, where no
    read-back after the write can see it."""
    if "TZID" not in text.upper() or _zones_known(text):
        return text, None
    try:
        calendar = Calendar.from_ical(text)
    except Exception:  # what cannot be read is sent as it is
        return text, None
    changes: list[str] = []
    unknown_zones(calendar, changes)
    if not changes:
        return text, None
    return calendar.to_ical().decode("utf-8"), changes[0]
