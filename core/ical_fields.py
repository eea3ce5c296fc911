"""One VEVENT's properties → canonical fields (the normalization half of the parser).

Used by :mod:`cirahub.core.ical` (reading) and :mod:`cirahub.core.ical_patch` (which reads
the source again to tell which fields changed). Values are exactly those documented in
:mod:`cirahub.core.item`. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from icalendar import Component
from icalendar.prop import vBroken

from cirahub.core.errors import MalformedItem
from cirahub.core.ical_values import (
    add_duration,
    as_moment,
    canonical_rrule,
    compact_key,
    instant_text,
    midnight_like,
    read_moment,
    same_zone,
    time_value,
    zone_of,
)
from cirahub.core.ical_verbatim import verbatim_value
from cirahub.core.item import OVERRIDE_FIELDS, VOLATILE_FIELDS
from cirahub.core.zone_rules import ZoneContext

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


def instant_of(prop: Any) -> str | None:
    """The UTC instant text of a date-time property (LAST-MODIFIED...), else None."""
    moment = getattr(prop, "dt", None) if not isinstance(prop, vBroken | list) else None
    return instant_text(moment) if isinstance(moment, datetime) else None


def check(event: Component, name: str, uid: str) -> Any:
    value = event.get(name)
    if isinstance(value, list) and name not in ("EXDATE", "RDATE", "CATEGORIES", "ATTENDEE"):
        value = value[0] if value else None  # a repeated single-valued property: the first
    if isinstance(value, vBroken):
        raise MalformedItem(f"{name} of {uid!r} cannot be read: {str(value)[:80]!r}", uid=uid)
    return value


def event_fields(
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
        text = _lines(str(check(event, name, uid) or ""))
        if text.strip():  # a summary as written (readers show its spaces); the others stripped
            out[key] = text if key == "summary" else text.strip()
    description = str(check(event, "DESCRIPTION", uid) or "")
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
    organizer = check(event, "ORGANIZER", uid)
    if organizer is not None and _address(str(organizer)):
        out["organizer"] = _address(str(organizer))
    attendees = _attendees(event)
    if attendees:
        out["attendees"] = attendees
    modified = check(event, "LAST-MODIFIED", uid)
    if modified is not None and isinstance(modified.dt, datetime):
        out["last_modified"] = instant_text(modified.dt)
    verbatim = verbatim_value(event, out)
    if verbatim is not None:
        out["verbatim"] = verbatim
    return out


def _lines(text: str) -> str:
    """Line ends as ``\\n`` (a raw CR can reach us through lenient parsing)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _times(event: Component, uid: str, zones: ZoneContext, *, master: bool) -> dict[str, Any]:
    start_prop = check(event, "DTSTART", uid)
    if start_prop is None:
        if master:
            raise MalformedItem(f"VEVENT {uid!r} has no DTSTART", uid=uid)
        start_prop = check(event, "RECURRENCE-ID", uid)
    start = read_moment(start_prop, "DTSTART", uid, zones)
    end_prop, duration = check(event, "DTEND", uid), check(event, "DURATION", uid)
    start_at = as_moment(start)
    if end_prop is not None:
        end = read_moment(end_prop, "DTEND", uid, zones)
        # a DATE with a DATE-TIME (some exporters write it): the date is midnight in the
        # other's zone, as the reference reader takes it; the source keeps what was written
        if "date" in start and "date" not in end:
            start = midnight_like(start_prop.dt, end_prop, zones)
            start_at = as_moment(start)
        elif "date" in end and "date" not in start:
            end = midnight_like(end_prop.dt, start_prop, zones)
    elif duration is not None and isinstance(duration.dt, timedelta):
        end = time_value(add_duration(start_at, duration.dt), start.get("tz"), start.get("vtimezone"))
    elif "date" in start:
        end = time_value(start_at + timedelta(days=1), None)  # an all-day item covers its day
    else:
        end = start
    # DTEND before DTSTART (or equal to it, all-day too), or a negative DURATION: calendar
    # programs show such events (as zero-length ones, as the reference reader expands them);
    # carried as written, never refused
    return {"start": start, "end": end}


def sort_moment(value: Mapping[str, str]) -> datetime:
    moment = as_moment(value)
    if not isinstance(moment, datetime):
        return datetime.combine(moment, time(), UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _enums(event: Component, uid: str, out: dict[str, Any]) -> None:
    status = str(check(event, "STATUS", uid) or "").strip().upper()
    if status in ("TENTATIVE", "CANCELLED"):
        out["status"] = status
    if str(check(event, "TRANSP", uid) or "").strip().upper() == "TRANSPARENT":
        out["transparency"] = "TRANSPARENT"
    privacy = str(check(event, "CLASS", uid) or "").strip().upper()
    if privacy in ("PRIVATE", "CONFIDENTIAL"):
        out["privacy"] = privacy
    priority = check(event, "PRIORITY", uid)
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
    minutes = {alarm_minutes(a, fields) for a in event.subcomponents if a.name == "VALARM"}
    return sorted(m for m in minutes if m is not None)


def alarm_minutes(alarm: Component, fields: Mapping[str, Any]) -> int | None:
    """Minutes before ``fields``' start of one VALARM; None when it is not a display/audio
    reminder or has no usable trigger."""
    if str(alarm.get("ACTION", "")).strip().upper() not in _ALARM_ACTIONS:
        return None
    start, end = sort_moment(fields["start"]), sort_moment(fields["end"])
    trigger = alarm.get("TRIGGER")
    moment = getattr(trigger, "dt", None)
    if isinstance(moment, timedelta):
        related_end = str(trigger.params.get("RELATED", "START")).upper() == "END"
        offset = moment + (end - start) if related_end else moment
        return round(-offset.total_seconds() / 60)
    if isinstance(moment, datetime):
        at = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        return round((start - at).total_seconds() / 60)
    return None


def _address(value: str) -> str:
    value = value.strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:"):]
    return value.strip().lower()


def _attendees(event: Component) -> list[dict[str, str]]:
    values = event.get("ATTENDEE")
    if values is None:
        return []
    found: dict[str, dict[str, str]] = {}
    for prop in values if isinstance(values, list) else [values]:
        entry = attendee_entry(prop)
        if entry is not None and entry["email"] not in found:
            found[entry["email"]] = entry
    return [found[k] for k in sorted(found)]


def attendee_entry(prop: Any) -> dict[str, str] | None:
    """The canonical entry of one ATTENDEE property; None without an address."""
    email = _address(str(prop))
    if not email:
        return None
    params = getattr(prop, "params", {})
    entry = {
        "email": email,
        "role": str(params.get("ROLE") or "REQ-PARTICIPANT").strip().upper(),
        "partstat": str(params.get("PARTSTAT") or "NEEDS-ACTION").strip().upper(),
    }
    # a trailing backslash would escape the next delimiter when written again: dropped
    name = str(params.get("CN") or "").strip().rstrip("\\").strip()
    if name:
        entry["name"] = name
    return entry


# --- series ------------------------------------------------------------------------------------


def series_fields(
    event: Component, uid: str, fields: dict[str, Any], zones: ZoneContext
) -> None:
    found = event.get("RRULE")
    rules = [r for r in (found if isinstance(found, list) else [found]) if r]
    # an empty ``RRULE:`` (some exporters write one) repeats nothing
    canonical = [canonical_rrule(r, fields["start"], uid) for r in rules]
    if canonical:
        fields["rrule"] = canonical[0]
        more = sorted(set(canonical[1:]) - {canonical[0]})
        if more:  # several RRULEs: the series is their union (as the reference reads it)
            fields["more_rrules"] = more
    for name, key in (("EXDATE", "exdates"), ("RDATE", "rdates")):
        keys = _date_list(event, name, uid, fields["start"], zones)
        if keys:
            fields[key] = keys


def _date_list(
    event: Component, name: str, uid: str, series: Mapping[str, str], zones: ZoneContext
) -> list[str]:
    values = check(event, name, uid)
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


def rdate_periods(
    event: Component, uid: str, fields: Mapping[str, Any], zones: ZoneContext
) -> dict[str, dict[str, Any]]:
    """Occurrence key → ``{"start", "end"}`` of each RDATE PERIOD (``start/end`` or
    ``start/duration``) whose length is not the series' own: such an occurrence lasts as its
    period says (as the reference reader expands it), which the model holds as an override of
    that occurrence. A period of the series' length is an RDATE like any other."""
    values = check(event, "RDATE", uid)
    if values is None or "start" not in fields:
        return {}
    series = fields["start"]
    length = sort_moment(fields["end"]) - sort_moment(series)
    out: dict[str, dict[str, Any]] = {}
    for prop in values if isinstance(values, list) else [values]:
        tzid = prop.params.get("TZID")
        for entry in getattr(prop, "dts", []):
            if not isinstance(entry.dt, tuple):
                continue
            first, last = entry.dt
            if not isinstance(first, datetime) or "date" in series:
                continue  # a period of dates: its day is the occurrence (nothing to override)
            start = _in_series(read_moment(_Prop(first, tzid), "RDATE", uid, zones), series)
            begin = as_moment(start)
            end_at = add_duration(begin, last) if isinstance(last, timedelta) else as_moment(
                _in_series(read_moment(_Prop(last, tzid), "RDATE", uid, zones), series))
            end = time_value(end_at, start.get("tz"), start.get("vtimezone"))
            if sort_moment(end) - sort_moment(start) != length:
                out[_key_of(first, tzid, "RDATE", uid, series, zones)] = {"start": start,
                                                                           "end": end}
    return out


def period_overrides(fields: Mapping[str, Any],
                     overrides: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The keys of ``overrides`` that :func:`rdate_periods` reads from RDATE PERIODs (the
    inverse, for the writer): an RDATE of a timed series whose override starts at the RDATE
    itself and holds nothing but the master's own occurrence fields (volatile ones aside) and
    its end. Those are
    written back as ``RDATE;VALUE=PERIOD``, as a careful client writes them, not as a
    VEVENT per occurrence."""
    series = fields.get("start")
    rdates = set(fields.get("rdates") or ())
    if not isinstance(series, Mapping) or "date" in series or not rdates:
        return set()
    # volatile fields (LAST-MODIFIED) are no content: a spoke may stamp the master alone
    skip = VOLATILE_FIELDS | {"start", "end"}
    shared = {k: v for k, v in fields.items() if k in OVERRIDE_FIELDS and k not in skip}
    out = set()
    for key, ov in overrides.items():
        start = ov.get("start")
        if key not in rdates or not isinstance(start, Mapping) or "end" not in ov \
                or "range" in ov or "date" in start:
            continue
        if same_zone(start) != same_zone(series) or compact_key(start) != key:
            continue
        if {k: v for k, v in ov.items() if k not in skip} == shared:
            out.add(key)
    return out


def _in_series(value: dict[str, str], series: Mapping[str, str]) -> dict[str, str]:
    """A floating value of a zoned series, taken in the series' zone (as its keys are)."""
    if "floating" in value and "utc" in series:
        wall = as_moment(value).replace(tzinfo=zone_of(series))  # type: ignore[call-arg]
        return time_value(wall, series.get("tz"), series.get("vtimezone"))
    return value


def occurrence_key(
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
    return compact_key(_in_series(read_moment(_Prop(moment, tzid), name, uid, zones), series))


class _Prop:
    """A stand-in for an icalendar date property (value + TZID) of a list entry."""

    def __init__(self, moment: date | datetime, tzid: Any) -> None:
        self.dt = moment
        self.params = {"TZID": str(tzid)} if tzid else {}

