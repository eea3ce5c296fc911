"""Writing an item by patching the iCalendar text it came from (verbatim carry).

An item read from an iCalendar spoke keeps its source text (:attr:`Item.source`). Writing it
to another iCalendar spoke starts from that text:

- when the item still means exactly what its source says (same UID and fields), the source
  is written as it is, byte for byte;
- otherwise each VEVENT of the source is patched field by field: the properties of a field
  whose canonical value changed are replaced (ATTENDEEs keep their other parameters, VALARMs
  that still mean a wanted reminder stay), every other property, parameter and
  subcomponent stays as written; DTSTAMP becomes the write time and SEQUENCE goes up by one
  when the time or the recurrence changed (RFC 5546). Overrides the item no longer has are
  dropped, new ones written fresh; VTIMEZONEs are kept for every TZID still used.

The guarantee: :func:`~cirahub.core.ical.parse_item` of the result equals the item. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from icalendar import Calendar, Component

from cirahub.core.ical_fields import period_overrides
from cirahub.core.ical_props import (
    PROPERTIES,
    add_field,
    add_periods,
    add_recurrence_id,
    alarm,
    attendee,
)
from cirahub.core.ical_verbatim import noted_status
from cirahub.core.item import FIELDS, Item
from cirahub.core.source_cache import known_unchanged

#: changes of these fields move the event in time: SEQUENCE goes up (RFC 5546 §2.1.4)
_TIMING = frozenset({"start", "end", "rrule", "more_rrules", "exdates", "rdates"})
#: fields read relative to the series' start: rewritten when the start changes
_RELATIVE = ("end", "rrule", "exdates", "rdates")


@dataclass
class Patched:
    """The item's components after patching, the source calendar they came from, and the
    source's VTIMEZONEs by TZID."""

    calendar: Calendar
    components: list[Component]
    vtimezones: dict[str, Component] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    calendar: Calendar
    master: Component | None
    overrides: dict[str, Component]
    others: list[Component]
    base: Item


def _read(item: Item) -> _Source | None:
    """The parsed source of ``item`` and what it means; None when it cannot be used."""
    from cirahub.core import ical  # the parser imports the writer: import it late

    if item.source is None:
        return None
    try:
        base = ical.parse_item(item.source, fallback_uid=item.uid)
        calendar = _calendar(Calendar.from_ical(item.source))
        events, zones = ical.components_of(calendar)
    except Exception:  # a source we cannot read again is simply not used
        return None
    master, overrides, others = None, {}, []
    series = base.fields.get("start")
    for component in calendar.subcomponents:
        if component.name == "VTIMEZONE":
            continue
        if component.name != "VEVENT" or component not in events:
            others.append(component)
        elif "RECURRENCE-ID" in component:
            key = ical.recurrence_key(ical.standard(calendar, component), base.uid, series,
                                      zones)
            overrides[key] = component
        else:
            master = component
    return _Source(calendar, master, overrides, others, base)


def _calendar(root: Component) -> Calendar:
    """The VCALENDAR of a parsed source; a bare component (some exports have no VCALENDAR)
    is put in one, so that what is written from it is a complete calendar."""
    if isinstance(root, Calendar) and root.name == "VCALENDAR":
        return root
    calendar = Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", "-//cirahub//EN")
    calendar.add_component(root)
    return calendar


def unchanged(item: Item) -> bool:
    """Whether ``item`` means exactly what its source text says (it can be written as is).
    Answered without parsing when the parser remembered that text's meaning."""
    if known_unchanged(item):
        return True
    source = _read(item)
    return source is not None and source.base == item and _has_uid(source)


def _has_uid(source: _Source) -> bool:
    from cirahub.core import ical

    return all("UID" in c for c in ical.item_components(source.calendar))


def patch(item: Item, dtstamp: datetime | None) -> Patched | None:
    """The source of ``item`` patched to mean ``item``; None without a usable source."""
    source = _read(item)
    if source is None:
        return None
    if item.get("component"):  # a VTODO, VFREEBUSY... travels as it is (its UID made ours)
        for component in source.others:
            if str(component.get("UID", "")) != item.uid:
                component.pop("UID", None)
                component.add("UID", item.uid)
        return Patched(source.calendar, list(source.others), _zones_of(source.calendar))
    series: Mapping[str, str] = item.fields.get("start") or {}
    base_series = source.base.fields.get("start")
    moved = series != base_series
    out: list[Component] = []
    sequence = _sequence(source.master)
    periods_kept = not moved and item.fields.get("rdates") == source.base.fields.get("rdates")
    # the recurrence is written again: an occurrence the source has no VEVENT for that only
    # gives an RDATE its own length is an RDATE PERIOD, as the fresh writer writes it
    periods = set() if periods_kept or source.master is None else {
        k for k in period_overrides(item.fields, item.overrides) if k not in source.overrides}
    if item.fields:
        if source.master is not None:
            _patch(source.master, item.uid, source.base.fields, _without(item.fields, periods),
                   series, dtstamp, master=True)
            add_periods(source.master, {k: item.overrides[k] for k in sorted(periods)}, series)
            out.append(source.master)
        else:
            out.append(_fresh(item.uid, item.fields, series, dtstamp, sequence, master=True))
    for key in sorted(item.overrides):
        fields = item.overrides[key]
        found = source.overrides.get(key)
        if key in periods:
            continue  # written as its RDATE PERIOD (above)
        if found is None and periods_kept and source.base.overrides.get(key) == fields:
            continue  # an RDATE PERIOD of the master, still written there, says it
        if found is None:
            event = _fresh(item.uid, fields, series, dtstamp, sequence, master=False)
            add_recurrence_id(event, key, fields, series)
            out.append(event)
            continue
        old = source.base.overrides.get(key, {})
        _patch(found, item.uid, old, fields, series, dtstamp, master=False)
        if moved or old.get("range") != fields.get("range"):
            found.pop("RECURRENCE-ID", None)
            add_recurrence_id(found, key, fields, series)
        out.append(found)
    out.extend(source.others)
    return Patched(source.calendar, out, _zones_of(source.calendar))


def _without(fields: Mapping[str, Any], periods: set[str]) -> Mapping[str, Any]:
    """The master's fields with the RDATEs written as periods left out of ``rdates``."""
    if not periods:
        return fields
    return {**fields, "rdates": [k for k in fields.get("rdates") or () if k not in periods]}


def _zones_of(calendar: Calendar) -> dict[str, Component]:
    return {str(z.get("TZID", "")): z for z in calendar.subcomponents if z.name == "VTIMEZONE"}


def _sequence(component: Component | None) -> int | None:
    if component is None or "SEQUENCE" not in component:
        return None
    try:
        return int(str(component["SEQUENCE"]))
    except ValueError:
        return None


def _fresh(uid: str, fields: Mapping[str, Any], series: Mapping[str, str],
           dtstamp: datetime | None, sequence: int | None, *, master: bool) -> Component:
    from cirahub.core.ical_write import fresh_event

    event = fresh_event(uid, fields, dtstamp, series, master=master)
    if sequence is not None:
        event.add("SEQUENCE", sequence)
    return event


def _changed(old: Mapping[str, Any], new: Mapping[str, Any], master: bool) -> set[str]:
    names = {f for f in FIELDS if old.get(f) != new.get(f)}
    if noted_status(old) != noted_status(new):  # STATUS:CONFIRMED came or went
        names.add("status")
    if "start" in names:  # these are read relative to the start: write them again
        names.update(f for f in _RELATIVE if f in new or f in old)
    if "more_rrules" in names:  # the RRULE lines are written together
        names.add("rrule")
    if not master:
        names -= {"rrule", "more_rrules", "exdates", "rdates"}
    return names


def _patch(
    component: Component, uid: str, old: Mapping[str, Any], new: Mapping[str, Any],
    series: Mapping[str, str], dtstamp: datetime | None, *, master: bool,
) -> None:
    changed = _changed(old, new, master)
    if str(component.get("UID", "")) != uid:
        component.pop("UID", None)
        component.add("UID", uid)
        changed.add("uid")
    if not changed:
        return
    for name in changed - {"uid"}:
        if name == "attendees":
            _patch_attendees(component, new.get("attendees") or ())
        elif name not in ("alarms", "range"):
            for prop in PROPERTIES[name]:
                component.pop(prop, None)
            add_field(component, name, new, series)
    if changed & {"alarms", "start", "end"}:
        _patch_alarms(component, new)
    if changed & _TIMING:
        sequence = _sequence(component)
        component.pop("SEQUENCE", None)
        component.add("SEQUENCE", (sequence or 0) + 1)
    if dtstamp is not None:
        component.pop("DTSTAMP", None)
        component.add("DTSTAMP", dtstamp)


def _patch_attendees(component: Component, wanted: Iterable[Mapping[str, str]]) -> None:
    from cirahub.core.ical import attendee_entry

    values = component.pop("ATTENDEE", None)
    existing: dict[str, Any] = {}
    for prop in values if isinstance(values, list) else [values] if values is not None else []:
        entry = attendee_entry(prop)
        if entry is not None:
            existing.setdefault(entry["email"], (prop, entry))
    for wanted_entry in wanted:
        prop, seen = existing.get(str(wanted_entry["email"]), (None, None))
        same = seen == dict(wanted_entry)
        component.add("ATTENDEE", prop if same else attendee(wanted_entry, prop))


def _patch_alarms(component: Component, fields: Mapping[str, Any]) -> None:
    """Keep each display/audio VALARM that still means a wanted reminder (once per
    reminder), drop the others, add the missing ones; other alarms (EMAIL...) stay."""
    from cirahub.core.ical import alarm_minutes

    wanted = set(fields.get("alarms") or ())
    kept: list[Component] = []
    for sub in component.subcomponents:
        if sub.name != "VALARM":
            kept.append(sub)
            continue
        minutes = alarm_minutes(sub, fields) if "start" in fields else None
        if minutes is None and str(sub.get("ACTION", "")).upper() not in ("DISPLAY", "AUDIO"):
            kept.append(sub)  # not a reminder the model knows: carried as it is
        elif minutes in wanted:
            wanted.discard(minutes)
            kept.append(sub)
    component.subcomponents[:] = kept
    for minutes in sorted(wanted):
        component.add_component(alarm(int(minutes)))
