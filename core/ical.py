"""iCalendar text → normalized :class:`~cirahub.core.item.Item` (parsing and normalization).

Everything a spoke hands us as iCalendar goes through :func:`parse_calendar` /
:func:`parse_item`, which produce exactly the canonical values documented in
:mod:`cirahub.core.item`, so that two texts that mean the same event give equal items (and
equal fingerprints) whatever program wrote them. The way back is :func:`to_ics` /
:func:`serialize_calendar` (in :mod:`cirahub.core.ical_write`, re-exported here).

What is read (issue 9's rule: what the reference reader can read is carried, quarantine is
for what no program could read): VEVENT series with their overrides; VTODO, VJOURNAL and
every other component but VTIMEZONE (VFREEBUSY, VAVAILABILITY, custom ones) as items of their
own (``component`` field, content carried verbatim in ``source``); events
without UID get a stable derived one; DTEND before DTSTART and negative durations are kept
as written; two masters (or two copies of one override) of a UID: the highest SEQUENCE wins,
the others (and an override left from an older version of the series, which readers skip:
:func:`~cirahub.core.recurrence.stale_modification`) stay in the source text. Every item keeps
the text it came from as ``source``. An instant in UTC (``Z``, ``TZID=UTC``...) carries no
``tz``; a TZID nothing resolves and no VTIMEZONE defines is floating time. Pure.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component, GloballyUniqueTZIDGuessed
from icalendar.prop import vBroken, vDDDLists, vDDDTypes

from cirahub.core.errors import MalformedItem
from cirahub.core.ical_fast import read_plain
from cirahub.core.ical_fields import (
    alarm_minutes,
    attendee_entry,
    check,
    event_fields,
    instant_of,
    occurrence_key,
    rdate_periods,
    series_fields,
)
from cirahub.core.ical_values import time_value
from cirahub.core.ical_write import serialize_calendar, to_ics
from cirahub.core.item import OVERRIDE_FIELDS, Item
from cirahub.core.recurrence import stale_modification
from cirahub.core.source_cache import remember
from cirahub.core.timezones import resolve_tzid
from cirahub.core.zone_rules import ZoneContext

__all__ = ["alarm_minutes", "attendee_entry", "derived_uid", "item_components", "parse_calendar",
           "parse_item", "serialize_calendar", "standard", "time_value", "to_ics"]

# resolve_tzid strips vendor prefixes on purpose; icalendar's warning about it is noise
warnings.filterwarnings("ignore", category=GloballyUniqueTZIDGuessed)

_BEGIN = re.compile(r"^BEGIN:(VEVENT|VTODO|VJOURNAL)\s*$", re.I | re.M)
#: components carried as items of their own
ITEM_COMPONENTS = ("VEVENT", "VTODO", "VJOURNAL")
#: lines a VTODO/VJOURNAL content digest ignores (stamps that change without an edit; UID)
_VOLATILE_LINES = ("DTSTAMP", "LAST-MODIFIED", "UID")


def derived_uid(identity: str) -> str:
    """A stable UID for an item that has none, from its identity in its spoke (e.g.
    ``"vdir:holiday.ics"``, or a CalDAV href): the same identity always gives the same UID."""
    return "cirahub-" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


# --- loading ---------------------------------------------------------------------------------


@dataclass
class _Loaded:
    roots: list[Calendar]
    components: list[tuple[Calendar, Component]]  # (its calendar, VEVENT/VTODO/VJOURNAL)
    zones: ZoneContext
    vtimezones: dict[str, Component] = field(default_factory=dict)


def _load(text: str) -> _Loaded:
    """Every item component of ``text`` and the resolver of its TZIDs; MalformedItem when
    it is not iCalendar at all or a component was never terminated."""
    if not isinstance(text, str) or not text.strip():
        raise MalformedItem("empty iCalendar text")
    if "BEGIN:" not in text.upper():
        raise MalformedItem("not iCalendar text (no BEGIN: line)")
    fast = read_plain(text)  # the tree icalendar would build (plain), for the common texts
    if fast is not None:
        root, events, zones = fast
        pairs: list[tuple[Calendar, Component]] = [(root, event) for event in events]
        return _Loaded([root], pairs, ZoneContext(zones, _first_year(events)), zones)
    try:
        roots = Calendar.from_ical(text, multiple=True)
    except Exception:  # icalendar fails in many ways on broken text (even AttributeError)
        raise MalformedItem("unparseable iCalendar text: not a VCALENDAR") from None
    found: list[tuple[Calendar, Component]] = []
    vtimezones: dict[str, Component] = {}
    for root in roots:
        found.extend((root, c) for c in item_components(root))
        for component in root.walk("VTIMEZONE"):
            vtimezones.setdefault(str(component.get("TZID", "")), component)
    begun = len(_BEGIN.findall(text))
    kinds = sum(1 for _, c in found if c.name in ITEM_COMPONENTS)
    if begun > kinds:  # icalendar drops components it never saw the END of
        raise MalformedItem(f"unparseable iCalendar text: {begun - kinds} component(s) not "
                            "terminated (truncated text?)")
    events = [c for _, c in found if c.name == "VEVENT"]
    return _Loaded(roots, found, ZoneContext(vtimezones, _first_year(events)), vtimezones)


def item_components(root: Component) -> list[Component]:
    """The components of a parsed tree that are items, in document order: every VEVENT,
    VTODO and VJOURNAL, and every other component holding none of them (VFREEBUSY,
    VAVAILABILITY, a stray DAYLIGHT, a custom component...: carried verbatim as an item of its
    kind), but VTIMEZONEs. Such a component without UID beside real items belongs to the text
    they travel in (it stays in their source) rather than being an item of its own. A bare
    component (a file without VCALENDAR, as some exports are) is one."""
    found = _components(root)
    real = [c for c in found if c.name in ITEM_COMPONENTS or "UID" in c]
    return real if real else found


def _components(component: Component) -> list[Component]:
    if component.name in ITEM_COMPONENTS:
        return [component]
    if component.name == "VTIMEZONE":
        return []
    if component.name == "VCALENDAR":
        return [c for sub in component.subcomponents for c in _components(sub)]
    # a custom component holding events stands for them; any other is an item itself
    inner = [c for c in component.walk() if c.name in ITEM_COMPONENTS]
    return inner or [component]


def _first_year(events: list[Component]) -> int:
    """The earliest DTSTART year (VTIMEZONE rules are matched from there on)."""
    years = []
    for event in events:
        start = event.get("DTSTART")
        if start is not None and not isinstance(start, vBroken | list):
            moment = getattr(start, "dt", None)
            if isinstance(moment, date):
                years.append(moment.year)
    return min(years) if years else 2000


def components_of(calendar: Calendar) -> tuple[list[Component], ZoneContext]:
    """The VEVENTs of a parsed calendar and the resolver of its TZIDs (for the patcher)."""
    vtimezones: dict[str, Component] = {}
    for zone in calendar.walk("VTIMEZONE"):
        vtimezones.setdefault(str(zone.get("TZID", "")), zone)
    events = list(calendar.walk("VEVENT"))
    return events, ZoneContext(vtimezones, _first_year(events))


def recurrence_key(
    component: Component, uid: str, series: Mapping[str, str] | None, zones: ZoneContext
) -> str:
    """The occurrence key of an override component's RECURRENCE-ID."""
    return occurrence_key(component["RECURRENCE-ID"], "RECURRENCE-ID", uid, series, zones)


#: the properties X-WR-TIMEZONE applies to (as the x-wr-timezone library reads it)
_WR_PROPS = ("DTSTART", "DTEND", "RDATE", "RECURRENCE-ID", "EXDATE")


def standard(root: Component, component: Component) -> Component:
    """``component`` as RFC 5545 would say it when its calendar has ``X-WR-TIMEZONE`` (a
    Google/Apple export convention, read the way the reference reader reads it through the
    x-wr-timezone library): the UTC and floating date-times of a VEVENT's DTSTART, DTEND,
    RDATE, RECURRENCE-ID and EXDATE are in that zone (a UTC instant keeps its instant, a
    floating time gets the zone). A copy when something changed; the source text is left as
    written. A zone name nothing resolves changes nothing."""
    name = root.get("X-WR-TIMEZONE") if root is not component else None
    if component.name != "VEVENT" or not name:
        return component
    iana = resolve_tzid(str(name))
    if iana is None or iana == "UTC":
        return component
    zone = ZoneInfo(iana)
    changed: dict[str, Any] = {}
    for prop in _WR_PROPS:
        values = component.get(prop)
        if values is None:
            continue
        try:
            new = [_wr_value(v, zone) for v in (values if isinstance(values, list) else [values])]
        except Exception:  # a value icalendar cannot give: the normal reading reports it
            continue
        if any(n is not None for n in new):
            kept = [n if n is not None else v for n, v in zip(
                new, values if isinstance(values, list) else [values], strict=True)]
            changed[prop] = kept if isinstance(values, list) else kept[0]
    if not changed:
        return component
    out = component.copy()
    out.subcomponents = list(component.subcomponents)
    for prop, value in changed.items():
        out[prop] = value
    return out


def _wr_value(value: Any, zone: ZoneInfo) -> Any:
    """A DTSTART-like value (or a date list) moved into ``zone``; None when unchanged."""
    def moved(moment: Any) -> Any:
        if not isinstance(moment, datetime):
            return moment
        if moment.tzinfo is None:
            return moment.replace(tzinfo=zone)
        if moment.utcoffset() == timedelta(0) and str(moment.tzname()).upper() == "UTC":
            return moment.astimezone(zone)
        return moment

    if isinstance(value, vBroken):
        return None  # reported by the normal reading
    if isinstance(value, vDDDLists):
        dts = [entry.dt for entry in value.dts]
        new = [moved(d) for d in dts]
        return None if all(a is b for a, b in zip(new, dts, strict=True)) else vDDDLists(new)
    moment = getattr(value, "dt", None)
    if not isinstance(moment, datetime):
        return None
    result = moved(moment)
    return None if result is moment else vDDDTypes(result)


def _uid_of(component: Component) -> str:
    value = component.get("UID")
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value or "").strip()


def _groups(
    loaded: _Loaded, identity: str, fallback_uid: str | None
) -> dict[str, list[tuple[Calendar, Component]]]:
    """Components by UID, in order of first appearance; a component without UID gets
    ``fallback_uid`` (the first one) or one derived from ``identity`` and its position."""
    groups: dict[str, list[tuple[Calendar, Component]]] = {}
    for index, (root, component) in enumerate(loaded.components):
        uid = _uid_of(component)
        if not uid:
            uid = fallback_uid if fallback_uid is not None else derived_uid(f"{identity}#{index}")
        groups.setdefault(uid, []).append((root, component))
    return groups


# --- entry points ----------------------------------------------------------------------------


def parse_calendar(
    text: str, *, errors: list[MalformedItem] | None = None, identity: str = ""
) -> list[Item]:
    """Every item in ``text``, one per UID, in order of first appearance, each with its own
    ``source`` (the whole text when it holds one UID, else a VCALENDAR with that UID's
    components and the VTIMEZONEs they use).

    Components without UID get a UID derived from ``identity`` (the text's identity in its
    spoke) and their position. Raises MalformedItem for text that is not iCalendar and,
    unless ``errors`` is given, for the first UID whose components cannot be normalized;
    with ``errors`` such UIDs are skipped and their errors appended there (feeds use this so
    that one broken event does not hide the others).
    """
    loaded = _load(text)
    groups = _groups(loaded, identity, None)
    items: list[Item] = []
    for uid, members in groups.items():
        try:
            item = _build_item(uid, [standard(r, c) for r, c in members], loaded.zones)
        except MalformedItem as exc:
            if errors is None:
                raise
            errors.append(exc)
            continue
        if len(groups) == 1:
            items.append(_whole(item, text, loaded))
        else:
            items.append(item.with_source(_extract(members, loaded.vtimezones)))
    return items


def parse_item(text: str, *, fallback_uid: str | None = None) -> Item:
    """The single item in ``text`` (one UID: a master and/or its overrides, or a VTODO /
    VJOURNAL), with ``source`` = ``text``. Components without UID get ``fallback_uid``
    (derive it from the item's identity in its spoke with :func:`derived_uid`), else a UID
    derived from their content.

    Raises MalformedItem when the text holds no VEVENT/VTODO/VJOURNAL, more than one UID, a
    master without DTSTART, or a value that cannot be read.
    """
    loaded = _load(text)
    identity = fallback_uid or hashlib.sha256(text.encode("utf-8")).hexdigest()
    groups = _groups(loaded, identity, fallback_uid)
    if not groups:
        raise MalformedItem("no VEVENT, VTODO or VJOURNAL in the iCalendar text")
    if len(groups) > 1:
        uids = list(groups)
        raise MalformedItem(
            f"contains {len(uids)} UIDs ({', '.join(uids[:3])}), expected one", uids=uids[:10]
        )
    uid, members = next(iter(groups.items()))
    return _whole(_build_item(uid, [standard(r, c) for r, c in members], loaded.zones), text,
                  loaded)


def _whole(item: Item, text: str, loaded: _Loaded) -> Item:
    """``item`` with the whole ``text`` as its source; remembered as what that text means
    (:mod:`cirahub.core.source_cache`) when the writer could pass it through as it is: one
    VCALENDAR, every item component at its top level and with a UID."""
    item = item.with_source(text)
    if len(loaded.roots) == 1:
        top = {id(c) for c in loaded.roots[0].subcomponents}
        if all("UID" in c and id(c) in top for _, c in loaded.components):
            remember(item)
    return item


def _extract(members: list[tuple[Calendar, Component]], vtimezones: Mapping[str, Component]) -> str:
    """A VCALENDAR with the calendar properties of the members' calendar, the VTIMEZONEs
    their properties use and the members themselves."""
    calendar = Calendar()
    for name, value in members[0][0].property_items(recursive=False)[1:-1]:
        calendar.add(name, value, encode=False)
    used = {
        str(prop.params["TZID"])
        for _, component in members for sub in component.walk()
        for values in sub.values()
        for prop in (values if isinstance(values, list) else [values])
        if hasattr(prop, "params") and "TZID" in prop.params
    }
    for tzid in sorted(used):
        if tzid in vtimezones:
            calendar.add_component(vtimezones[tzid])
    for _, component in members:
        calendar.add_component(component)
    data: bytes = calendar.to_ical()
    return data.decode("utf-8")


# --- one UID -----------------------------------------------------------------------------------


def _build_item(uid: str, components: list[Component], zones: ZoneContext) -> Item:
    try:
        events = [c for c in components if c.name == "VEVENT"]
        if events:
            return _normalize(uid, events, zones)
        return _other_item(uid, components[0])
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        # odd values icalendar let through (e.g. a date-time far out of range)
        raise MalformedItem(f"UID {uid!r} cannot be normalized: {exc}", uid=uid) from None


def _sequence(component: Component) -> int:
    try:
        return int(str(component.get("SEQUENCE", 0)))
    except ValueError:
        return 0


def _latest(components: list[Component]) -> Component:
    """Of several components standing for the same thing, the one a reader keeps: the
    highest SEQUENCE, then the later in the text."""
    return max(reversed(components), key=_sequence)


def _normalize(uid: str, events: list[Component], zones: ZoneContext) -> Item:
    masters = [e for e in events if "RECURRENCE-ID" not in e]
    fields: dict[str, Any] = {}
    if masters:
        master = _latest(masters)
        fields = event_fields(master, uid, zones, master=True)
        series_fields(master, uid, fields, zones)
    by_key: dict[str, list[Component]] = {}
    for event in events:
        if "RECURRENCE-ID" in event:
            key = recurrence_key(event, uid, fields.get("start"), zones)
            by_key.setdefault(key, []).append(event)
    overrides: dict[str, dict[str, Any]] = {}
    if masters:  # an RDATE PERIOD of its own length: an override of that occurrence
        for key, times in rdate_periods(master, uid, fields, zones).items():
            overrides[key] = {**{k: v for k, v in fields.items() if k in OVERRIDE_FIELDS},
                              **times}
    for key, copies in by_key.items():
        event = _latest(copies)
        if masters and stale_modification(fields, key, own_rule="RRULE" in event,
                                          older=_sequence(event) < _sequence(master)):
            continue  # left from an older version of the series: readers skip it
        overrides[key] = event_fields(event, uid, zones, master=False)
        params = getattr(check(event, "RECURRENCE-ID", uid), "params", {})
        if str(params.get("RANGE", "")).strip().upper() == "THISANDFUTURE":
            overrides[key]["range"] = "THISANDFUTURE"
    return Item(uid, fields, overrides)


def _other_item(uid: str, component: Component) -> Item:
    """A component that is not an event (VTODO, VJOURNAL, VFREEBUSY, VAVAILABILITY, one of a
    kind the model does not know): its kind, summary and a digest of its content (what changes
    when it is edited); the component itself travels in ``source``."""
    lines = [
        line for line in component.to_ical().decode("utf-8").splitlines()
        if line and not line.upper().startswith(_VOLATILE_LINES)
    ]
    fields: dict[str, Any] = {
        "component": component.name,
        "content": hashlib.sha256("\n".join(sorted(lines)).encode("utf-8")).hexdigest()[:32],
    }
    summary = str(component.get("SUMMARY") or "").strip()
    if summary:
        fields["summary"] = summary
    modified = component.get("LAST-MODIFIED")
    moment = instant_of(modified)
    if moment is not None:
        fields["last_modified"] = moment
    return Item(uid, fields)
