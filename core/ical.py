"""iCalendar text → normalized :class:`~cirahub.core.item.Item` (parsing and normalization).

Everything a spoke hands us as iCalendar goes through :func:`parse_calendar` /
:func:`parse_item`, which produce exactly the canonical values documented in
:mod:`cirahub.core.item`, so that two texts that mean the same event give equal items (and
equal fingerprints) whatever program wrote them. The way back is :func:`to_ics` /
:func:`serialize_calendar` (in :mod:`cirahub.core.ical_write`, re-exported here).

Decisions beyond ``item.py``: an instant in UTC (``Z``, ``TZID=UTC``, ``Etc/UTC``...) carries
no ``tz`` (absent ``tz`` = expand in UTC), and so does an instant whose zone is only an
embedded VTIMEZONE with no IANA match. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from icalendar import Calendar, Component, GloballyUniqueTZIDGuessed
from icalendar.prop import vBroken

from cirahub.core.errors import MalformedItem
from cirahub.core.ical_values import (
    add_duration,
    as_moment,
    canonical_rrule,
    compact_key,
    instant_text,
    read_moment,
    time_value,
    zone_of,
)
from cirahub.core.ical_write import serialize_calendar, to_ics
from cirahub.core.item import Item
from cirahub.core.zone_rules import ZoneContext

__all__ = ["parse_calendar", "parse_item", "serialize_calendar", "time_value", "to_ics"]

# resolve_tzid strips vendor prefixes on purpose; icalendar's warning about it is noise
warnings.filterwarnings("ignore", category=GloballyUniqueTZIDGuessed)

_BEGIN_EVENT = re.compile(r"^BEGIN:VEVENT\s*$", re.I | re.M)
_BROKEN_LINE = re.compile(r"parsed into parts: '([A-Za-z0-9-]+)[;:]")
#: properties whose loss would change the item: a line of these that cannot be parsed at all
#: makes the item malformed (broken X- and unknown lines are ignored, as they would be anyway)
_USED = frozenset({
    "SUMMARY", "DESCRIPTION", "LOCATION", "URL", "DTSTART", "DTEND", "DURATION", "STATUS",
    "TRANSP", "CLASS", "CATEGORIES", "PRIORITY", "RRULE", "EXDATE", "RDATE", "ORGANIZER",
    "ATTENDEE", "RECURRENCE-ID", "UID",
})
_ALARM_ACTIONS = frozenset({"DISPLAY", "AUDIO"})
_PRIORITY_HIGH = range(1, 5)
_PRIORITY_LOW = range(6, 10)


# --- entry points ----------------------------------------------------------------------------


def _load(text: str) -> tuple[list[Component], ZoneContext]:
    """All VEVENT components of ``text`` and the resolver of its TZIDs; MalformedItem when
    it is not iCalendar at all."""
    if not isinstance(text, str) or not text.strip():
        raise MalformedItem("empty iCalendar text")
    if "BEGIN:" not in text.upper():
        raise MalformedItem("not iCalendar text (no BEGIN: line)")
    try:
        roots = Calendar.from_ical(text, multiple=True)
    except Exception as exc:  # icalendar fails in many ways on broken text (even AttributeError)
        raise MalformedItem(f"unparseable iCalendar text: {exc}") from None
    events: list[Component] = []
    vtimezones: dict[str, Component] = {}
    for root in roots:
        events.extend(root.walk("VEVENT"))
        for zone in root.walk("VTIMEZONE"):
            vtimezones.setdefault(str(zone.get("TZID", "")), zone)
    begun = len(_BEGIN_EVENT.findall(text))
    if begun > len(events):  # icalendar drops components it never saw the END of
        raise MalformedItem(
            f"unparseable iCalendar text: {begun - len(events)} VEVENT(s) not terminated "
            "(truncated text?)"
        )
    return events, ZoneContext(vtimezones, _first_year(events))


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


def parse_calendar(text: str, *, errors: list[MalformedItem] | None = None) -> list[Item]:
    """Every event in ``text`` as one :class:`Item` per UID, in order of first appearance.

    The VEVENT without RECURRENCE-ID gives the item's fields; each RECURRENCE-ID VEVENT becomes
    an override under its occurrence key (an override without its master is kept, with empty
    fields). VTODO/VJOURNAL are ignored. Raises MalformedItem for text that is not iCalendar
    and, unless ``errors`` is given, for the first UID whose events cannot be normalized; with
    ``errors`` such UIDs are skipped and their errors appended there (feeds use this so that
    one broken event does not hide the others).
    """
    groups: dict[str, list[Component]] = {}
    loaded, zones = _load(text)
    for event in loaded:
        uid = str(event.get("UID", "")).strip()
        if not uid:
            error = MalformedItem(
                f"VEVENT without UID (summary {str(event.get('SUMMARY', ''))[:60]!r})"
            )
            if errors is None:
                raise error
            errors.append(error)
            continue
        groups.setdefault(uid, []).append(event)
    items: list[Item] = []
    for uid, events in groups.items():
        try:
            items.append(_build_item(uid, events, zones))
        except MalformedItem as exc:
            if errors is None:
                raise
            errors.append(exc)
    return items


def parse_item(text: str) -> Item:
    """The single item in ``text`` (one UID: a master and/or its overrides).

    Raises MalformedItem when the text holds no VEVENT, a VEVENT without UID, more than one
    UID, a master without DTSTART, DTEND before DTSTART, an unknown TZID with no VTIMEZONE,
    or any value that cannot be read.
    """
    events, zones = _load(text)
    if not events:
        raise MalformedItem("no VEVENT in the iCalendar text")
    uids = list(dict.fromkeys(str(e.get("UID", "")).strip() for e in events))
    if "" in uids:
        raise MalformedItem("VEVENT without UID")
    if len(uids) > 1:
        raise MalformedItem(
            f"contains {len(uids)} UIDs ({', '.join(uids[:3])}), expected one", uids=uids[:10]
        )
    return _build_item(uids[0], events, zones)


# --- one UID -----------------------------------------------------------------------------------


def _build_item(uid: str, events: list[Component], zones: ZoneContext) -> Item:
    try:
        return _normalize(uid, events, zones)
    except (AttributeError, TypeError, ValueError, KeyError, IndexError, OverflowError) as exc:
        # odd values icalendar let through (e.g. a date-time far out of range)
        raise MalformedItem(f"UID {uid!r} cannot be normalized: {exc}", uid=uid) from None


def _normalize(uid: str, events: list[Component], zones: ZoneContext) -> Item:
    masters = [e for e in events if "RECURRENCE-ID" not in e]
    if len(masters) > 1:
        raise MalformedItem(f"UID {uid!r} has {len(masters)} VEVENTs without RECURRENCE-ID", uid=uid)
    fields: dict[str, Any] = {}
    if masters:
        fields = _event_fields(masters[0], uid, zones, master=True)
        _series_fields(masters[0], uid, fields, zones)
    overrides: dict[str, dict[str, Any]] = {}
    for event in events:
        if "RECURRENCE-ID" not in event:
            continue
        recurrence_id = event["RECURRENCE-ID"]
        key = _occurrence_key(recurrence_id, "RECURRENCE-ID", uid, fields.get("start"), zones)
        if key in overrides:
            raise MalformedItem(f"UID {uid!r} overrides occurrence {key} twice", uid=uid)
        overrides[key] = _event_fields(event, uid, zones, master=False)
        params = getattr(recurrence_id, "params", {})
        if str(params.get("RANGE", "")).strip().upper() == "THISANDFUTURE":
            overrides[key]["range"] = "THISANDFUTURE"
    return Item(uid, fields, overrides)


def _check(event: Component, name: str, uid: str) -> Any:
    value = event.get(name)
    if isinstance(value, list) and name not in ("EXDATE", "RDATE", "CATEGORIES", "ATTENDEE"):
        value = value[0] if value else None  # a repeated single-valued property: the first
    if isinstance(value, vBroken):
        raise MalformedItem(f"{name} of {uid!r} cannot be read: {str(value)[:80]!r}", uid=uid)
    return value


def _event_fields(
    event: Component, uid: str, zones: ZoneContext, *, master: bool
) -> dict[str, Any]:
    """Normalized fields of one VEVENT (without the series fields)."""
    for name, message in getattr(event, "errors", ()):
        match = _BROKEN_LINE.search(message) if name is None else None
        line = (name or (match.group(1) if match else "")).upper()
        if line in _USED:
            raise MalformedItem(f"{line} of {uid!r} cannot be read: {message[:120]}", uid=uid)
    out: dict[str, Any] = {}
    for name, key in (("SUMMARY", "summary"), ("LOCATION", "location"), ("URL", "url")):
        text = _lines(str(_check(event, name, uid) or "")).strip()
        if text:
            out[key] = text
    description = str(_check(event, "DESCRIPTION", uid) or "")
    description = _lines(description).rstrip()
    if description:
        out["description"] = description
    out.update(_times(event, uid, zones, master=master))
    _enums(event, uid, out)
    categories = _categories(event)
    if categories:
        out["categories"] = categories
    alarms = _alarms(event, out)
    if alarms:
        out["alarms"] = alarms
    organizer = _check(event, "ORGANIZER", uid)
    if organizer is not None and _address(str(organizer)):
        out["organizer"] = _address(str(organizer))
    attendees = _attendees(event)
    if attendees:
        out["attendees"] = attendees
    modified = _check(event, "LAST-MODIFIED", uid)
    if modified is not None and isinstance(modified.dt, datetime):
        out["last_modified"] = instant_text(modified.dt)
    return out


def _lines(text: str) -> str:
    """Line ends as ``\\n`` (a raw CR can reach us through lenient parsing)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _times(event: Component, uid: str, zones: ZoneContext, *, master: bool) -> dict[str, Any]:
    start_prop = _check(event, "DTSTART", uid)
    if start_prop is None:
        if master:
            raise MalformedItem(f"VEVENT {uid!r} has no DTSTART", uid=uid)
        start_prop = _check(event, "RECURRENCE-ID", uid)
    start = read_moment(start_prop, "DTSTART", uid, zones)
    end_prop, duration = _check(event, "DTEND", uid), _check(event, "DURATION", uid)
    start_at = as_moment(start)
    if end_prop is not None:
        end = read_moment(end_prop, "DTEND", uid, zones)
        if ("date" in start) != ("date" in end):
            raise MalformedItem(
                f"VEVENT {uid!r}: DTSTART and DTEND mix a date and a date-time", uid=uid
            )
    elif duration is not None and isinstance(duration.dt, timedelta):
        end = time_value(add_duration(start_at, duration.dt), start.get("tz"), start.get("vtimezone"))
    else:
        end = start
    if "date" in start and as_moment(end) <= start_at:
        end = time_value(start_at + timedelta(days=1), None)  # an all-day item covers its day
    if _sort_moment(end) < _sort_moment(start):
        raise MalformedItem(f"VEVENT {uid!r}: DTEND is before DTSTART", uid=uid)
    return {"start": start, "end": end}


def _sort_moment(value: Mapping[str, str]) -> datetime:
    moment = as_moment(value)
    if not isinstance(moment, datetime):
        return datetime.combine(moment, time(), UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _enums(event: Component, uid: str, out: dict[str, Any]) -> None:
    status = str(_check(event, "STATUS", uid) or "").strip().upper()
    if status in ("TENTATIVE", "CANCELLED"):
        out["status"] = status
    if str(_check(event, "TRANSP", uid) or "").strip().upper() == "TRANSPARENT":
        out["transparency"] = "TRANSPARENT"
    privacy = str(_check(event, "CLASS", uid) or "").strip().upper()
    if privacy in ("PRIVATE", "CONFIDENTIAL"):
        out["privacy"] = privacy
    priority = _check(event, "PRIORITY", uid)
    try:
        level = int(priority) if priority is not None else 0
    except (TypeError, ValueError):
        level = 0
    if level in _PRIORITY_HIGH:
        out["importance"] = "high"
    elif level in _PRIORITY_LOW:
        out["importance"] = "low"


def _categories(event: Component) -> list[str]:
    values = event.get("CATEGORIES")
    if values is None:
        return []
    props = values if isinstance(values, list) else [values]
    names: set[str] = set()
    for prop in props:
        cats = getattr(prop, "cats", None)
        for name in cats if cats is not None else str(prop).split(","):
            if str(name).strip():
                names.add(str(name).strip())
    return sorted(names)


def _alarms(event: Component, fields: Mapping[str, Any]) -> list[int]:
    """Minutes before start of each display/audio reminder (negative = after start)."""
    start, end = _sort_moment(fields["start"]), _sort_moment(fields["end"])
    minutes: set[int] = set()
    for alarm in event.subcomponents:
        if alarm.name != "VALARM":
            continue
        if str(alarm.get("ACTION", "")).strip().upper() not in _ALARM_ACTIONS:
            continue
        trigger = alarm.get("TRIGGER")
        moment = getattr(trigger, "dt", None)
        if isinstance(moment, timedelta):
            related_end = str(trigger.params.get("RELATED", "START")).upper() == "END"
            offset = moment + (end - start) if related_end else moment
            minutes.add(round(-offset.total_seconds() / 60))
        elif isinstance(moment, datetime):
            at = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
            minutes.add(round((start - at).total_seconds() / 60))
    return sorted(minutes)


def _address(value: str) -> str:
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:"):]
    return value.strip().lower()


def _attendees(event: Component) -> list[dict[str, str]]:
    values = event.get("ATTENDEE")
    if values is None:
        return []
    props = values if isinstance(values, list) else [values]
    found: dict[str, dict[str, str]] = {}
    for prop in props:
        email = _address(str(prop))
        if not email or email in found:
            continue
        params = getattr(prop, "params", {})
        entry = {
            "email": email,
            "role": str(params.get("ROLE") or "REQ-PARTICIPANT").strip().upper(),
            "partstat": str(params.get("PARTSTAT") or "NEEDS-ACTION").strip().upper(),
        }
        name = str(params.get("CN") or "").strip()
        if name:
            entry["name"] = name
        found[email] = entry
    return [found[k] for k in sorted(found)]


# --- series ------------------------------------------------------------------------------------


def _series_fields(
    event: Component, uid: str, fields: dict[str, Any], zones: ZoneContext
) -> None:
    rule = _check(event, "RRULE", uid)
    if isinstance(rule, list):
        rule = rule[0] if rule else None
    if rule is not None:
        fields["rrule"] = canonical_rrule(rule, fields["start"], uid)
    for name, key in (("EXDATE", "exdates"), ("RDATE", "rdates")):
        keys = _date_list(event, name, uid, fields["start"], zones)
        if keys:
            fields[key] = keys


def _date_list(
    event: Component, name: str, uid: str, series: Mapping[str, str], zones: ZoneContext
) -> list[str]:
    values = _check(event, name, uid)
    if values is None:
        return []
    keys: set[str] = set()
    for prop in values if isinstance(values, list) else [values]:
        tzid = prop.params.get("TZID")
        for entry in getattr(prop, "dts", []):
            moment = entry.dt
            if isinstance(moment, tuple):  # a PERIOD: the occurrence starts at its start
                moment = moment[0]
            keys.add(_key_of(moment, tzid, name, uid, series, zones))
    return sorted(keys)


def _occurrence_key(
    prop: Any, name: str, uid: str, series: Mapping[str, str] | None, zones: ZoneContext
) -> str:
    if isinstance(prop, vBroken) or not hasattr(prop, "dt"):
        raise MalformedItem(f"{name} of {uid!r} cannot be read", uid=uid)
    return _key_of(prop.dt, prop.params.get("TZID"), name, uid, series, zones)


def _key_of(
    moment: date | datetime,
    tzid: Any,
    name: str,
    uid: str,
    series: Mapping[str, str] | None,
    zones: ZoneContext,
) -> str:
    """Occurrence key of one EXDATE/RDATE/RECURRENCE-ID value of the series starting at
    ``series``: the value is read in the series' terms (a date in an all-day series, an
    instant in a timed one; a floating value in a zoned series is taken in that zone)."""
    series = series or {}
    if "date" in series:
        day = moment.date() if isinstance(moment, datetime) else moment
        return day.strftime("%Y%m%d")
    if not isinstance(moment, datetime) and ("utc" in series or "floating" in series):
        # a date in a timed series means that day's occurrence
        local = as_moment(series)
        assert isinstance(local, datetime)
        moment = datetime.combine(moment, local.time().replace(tzinfo=None), local.tzinfo)
        return compact_key(time_value(moment, None)) if moment.tzinfo else compact_key(
            {"floating": moment.isoformat()}
        )
    value = read_moment(_Prop(moment, tzid), name, uid, zones)
    if "floating" in value and "utc" in series:
        wall = as_moment(value).replace(tzinfo=zone_of(series))  # type: ignore[call-arg]
        value = time_value(wall, series.get("tz"), series.get("vtimezone"))
    return compact_key(value)


class _Prop:
    """A stand-in for an icalendar date property (value + TZID) of a list entry."""

    def __init__(self, moment: date | datetime, tzid: Any) -> None:
        self.dt = moment
        self.params = {"TZID": str(tzid)} if tzid else {}

