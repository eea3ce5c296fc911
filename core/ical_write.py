"""Normalized :class:`~cirahub.core.item.Item` → iCalendar text.

The output is a complete VCALENDAR that :func:`cirahub.core.ical.parse_item` reads back to an
equal item: a VTIMEZONE for every zone a TZID refers to, the master VEVENT and then one VEVENT
per override (RECURRENCE-ID written like the series' DTSTART), all-day values as VALUE=DATE,
EXDATE/RDATE in the series' zone; an override that only gives an RDATE its own length (what
an ``RDATE;VALUE=PERIOD`` reads as) is written as that period again. An item with a ``source`` text is written from it (verbatim
when unchanged, else patched: :mod:`cirahub.core.ical_patch`). DTSTAMP is the given stamp
(the write time, passed in), else LAST-MODIFIED, else the epoch (no clock in core).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from icalendar import Calendar, Component, Event, Journal, Timezone, Todo

from cirahub.core.errors import MalformedItem
from cirahub.core.ical_fields import period_overrides
from cirahub.core.ical_patch import patch, unchanged
from cirahub.core.ical_props import add_field, add_periods, add_recurrence_id, utc
from cirahub.core.item import FIELDS, Item
from cirahub.core.vtimezone_write import LAST_YEAR, rrule_vtimezone

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: fields only a master VEVENT carries
SERIES_FIELDS = frozenset({"rrule", "more_rrules", "exdates", "rdates"})


def to_ics(item: Item, *, dtstamp: datetime | None = None, prodid: str = "-//cirahub//EN") -> str:
    """``item`` as a complete VCALENDAR text (CRLF line ends, folded lines).

    An item that still means what its ``source`` says is that source, byte for byte; an
    item with a source otherwise is its source patched field by field
    (:mod:`cirahub.core.ical_patch`). ``dtstamp`` is the time of the write (the caller's
    clock: core reads none). Raises MalformedItem when a field holds a value that is not in
    canonical form."""
    if item.source is not None and unchanged(item):
        return item.source
    return serialize_calendar([item], dtstamp=dtstamp, prodid=prodid)


def serialize_calendar(
    items: Sequence[Item], *, dtstamp: datetime | None = None, prodid: str = "-//cirahub//EN"
) -> str:
    """Many items in one VCALENDAR (feeds, exports); VTIMEZONEs first, each zone once.
    Items with a source are patched from it (one item: its calendar's own properties too)."""
    calendar = Calendar()
    components: list[Component] = []
    kept_zones: dict[str, Component] = {}
    custom: dict[str, str] = {}
    head: Calendar | None = None
    for item in items:
        try:
            patched = patch(item, dtstamp) if item.source is not None else None
            if patched is not None and len(items) > 1:
                # its calendar's properties are not written: X-WR-TIMEZONE said spelled out
                components.extend(standard(patched.calendar, c) for c in patched.components)
                kept_zones = {**patched.vtimezones, **kept_zones}
            elif patched is not None:
                components.extend(patched.components)
                kept_zones = {**patched.vtimezones, **kept_zones}
                head = patched.calendar
            elif item.get("component"):
                components.append(_other(item, dtstamp))
            else:
                components.extend(_events(item, dtstamp))
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedItem(f"item {item.uid!r} cannot be written: {exc}", uid=item.uid) from None
        _zones(item, custom)
    if head is not None:
        for name, value in head.property_items(recursive=False)[1:-1]:
            calendar.add(name, value, encode=False)
    else:
        calendar.add("PRODID", prodid)
        calendar.add("VERSION", "2.0")
    first, last = _years(items)
    for tzid in sorted(_used_tzids(components)):
        zone = kept_zones.get(tzid)
        if zone is None and tzid in custom:  # a zone only a VTIMEZONE defines: that one
            zone = Timezone.from_ical(custom[tzid])
        if zone is None:
            zone = _vtimezone(tzid, first, last)
        if zone is not None:
            calendar.add_component(zone)
    for component in components:
        calendar.add_component(component)
    data: bytes = calendar.to_ical()
    return data.decode("utf-8")


def standard(calendar: Component, component: Component) -> Component:
    """:func:`cirahub.core.ical.standard` (the parser imports the writer: imported late)."""
    from cirahub.core import ical

    return ical.standard(calendar, component)


def _used_tzids(components: Sequence[Component]) -> set[str]:
    """Every TZID a property of ``components`` (or of their subcomponents) refers to."""
    found: set[str] = set()
    for component in components:
        for sub in component.walk():
            for values in sub.values():
                for prop in values if isinstance(values, list) else [values]:
                    params = getattr(prop, "params", None)
                    if params and "TZID" in params:
                        found.add(str(params["TZID"]))
    return found


def _other(item: Item, dtstamp: datetime | None) -> Component:
    """An item that is not an event (VTODO, VJOURNAL, VFREEBUSY...) without its source text:
    what its fields say."""
    kind = str(item.get("component"))
    component = {"VTODO": Todo, "VJOURNAL": Journal}.get(kind, Component)()
    setattr(component, "name", kind)  # noqa: B010 (a class attribute set on one instance)
    component.add("UID", item.uid)
    component.add("DTSTAMP", stamp(item.fields, dtstamp))
    if item.get("summary"):
        component.add("SUMMARY", str(item.get("summary")))
    return component


def _years(items: Sequence[Item]) -> tuple[int, int]:
    """The first year the VTIMEZONEs must cover (1970, or the earliest start/end written)
    and the last (their rules are open-ended past it)."""
    years = {1970}
    for item in items:
        for fields in (item.fields, *item.overrides.values()):
            for name in ("start", "end"):
                value = fields.get(name)
                if isinstance(value, Mapping) and value.get("utc"):
                    years.add(int(str(value["utc"])[:4]))
    return min(years), LAST_YEAR


def _vtimezone(name: str, first: int, last: int) -> Timezone | None:
    """RRULE-based VTIMEZONE of an IANA zone from ``first`` on, valid for any later date;
    None for a name zoneinfo does not know (no VTIMEZONE is needed then)."""
    return rrule_vtimezone(name, first)


def _zones(item: Item, custom: dict[str, str]) -> None:
    """Collect the zones ``item`` uses that only a VTIMEZONE defines into ``custom``."""
    for fields in (item.fields, *item.overrides.values()):
        for name in ("start", "end"):
            value = fields.get(name)
            if isinstance(value, Mapping) and value.get("vtimezone"):
                custom.setdefault(str(value["tz"]), str(value["vtimezone"]))


def _events(item: Item, dtstamp: datetime | None) -> list[Event]:
    series: Mapping[str, str] = item.fields.get("start") or {}
    out: list[Event] = []
    periods = period_overrides(item.fields, item.overrides)
    # occurrences without their series (only RECURRENCE-IDs, as an invitation to some of them
    # is written): no master, whose VEVENT would have no DTSTART
    if item.fields and ("start" in item.fields or not item.overrides):
        master = dict(item.fields)
        if periods:
            master["rdates"] = [k for k in item.fields["rdates"] if k not in periods]
        event = fresh_event(item.uid, master, dtstamp, series, master=True)
        if periods:
            add_periods(event, {k: item.overrides[k] for k in sorted(periods)}, series)
        out.append(event)
    for key in sorted(item.overrides):
        if key in periods:  # written as its RDATE PERIOD (above)
            continue
        fields = item.overrides[key]
        event = fresh_event(item.uid, fields, dtstamp, series, master=False)
        add_recurrence_id(event, key, fields, series)
        out.append(event)
    return out


def stamp(fields: Mapping[str, Any], dtstamp: datetime | None) -> datetime:
    """DTSTAMP: the write time when given, else LAST-MODIFIED, else the epoch."""
    if dtstamp is not None:
        return dtstamp.replace(tzinfo=UTC) if dtstamp.tzinfo is None else dtstamp.astimezone(UTC)
    if fields.get("last_modified"):
        return utc(fields["last_modified"])
    return _EPOCH


def fresh_event(
    uid: str, fields: Mapping[str, Any], dtstamp: datetime | None, series: Mapping[str, str],
    *, master: bool,
) -> Event:
    """A VEVENT written from ``fields`` alone (series fields only for the ``master``)."""
    event = Event()
    event.add("UID", uid)
    event.add("DTSTAMP", stamp(fields, dtstamp))
    for name in FIELDS:
        if master or name not in SERIES_FIELDS:
            add_field(event, name, fields, series)
    return event
