"""Canonical time values and RRULEs (see :mod:`cirahub.core.item`): building them from
``date``/``datetime`` objects and iCalendar properties, and turning them back.

Forms: ``{"date": "2026-03-01"}``, ``{"utc": "2026-03-01T08:00:00Z", "tz": "Europe/Berlin"}``
(``tz`` absent for UTC), ``{"floating": "2026-03-01T09:00:00"}``. A zone that only a
VTIMEZONE defines (no IANA name, no IANA zone with its rules) is kept as ``tz`` = its TZID plus
``vtimezone`` = the VTIMEZONE's text, and every computation uses that VTIMEZONE's rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from icalendar.prop import vBroken

from cirahub.core.errors import MalformedItem
from cirahub.core.timezones import resolve_tzid
from cirahub.core.zone_rules import ResolvedZone, ZoneContext, vtimezone_zone

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: RFC 5545 §3.3.10 order of the rule parts
_RULE_ORDER = (
    "FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY",
    "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST",
)


def instant_text(moment: datetime) -> str:
    """``"2026-03-01T08:00:00Z"`` for an aware datetime (naive = UTC); seconds precision."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def time_value(
    moment: date | datetime, tz: str | None, vtimezone: str | None = None
) -> dict[str, str]:
    """The canonical time value of ``moment``: a ``date`` stays a date, a naive datetime is
    floating, an aware one an instant written in ``tz`` (an IANA name, omitted for UTC; or
    a TZID defined by ``vtimezone``, the VTIMEZONE text).

    Connectors that build items without iCalendar use this so that their values match
    the parser's exactly."""
    if not isinstance(moment, datetime):
        return {"date": moment.isoformat()}
    if moment.tzinfo is None:
        return {"floating": moment.replace(microsecond=0).isoformat()}
    value = {"utc": instant_text(moment)}
    if tz and tz != "UTC":
        value["tz"] = tz
        if vtimezone:
            value["vtimezone"] = vtimezone
    return value


def zone_of(value: Mapping[str, str]) -> tzinfo:
    """The zone an instant value is written in: its VTIMEZONE's rules when it carries one,
    else its IANA zone (UTC when it has none or an unknown one)."""
    if value.get("vtimezone"):
        zone = vtimezone_zone(value["vtimezone"])
        return zone if zone is not None else UTC
    try:
        return ZoneInfo(value.get("tz") or "UTC")
    except (ValueError, OSError, KeyError):
        return ZoneInfo("UTC")


def same_zone(value: Mapping[str, str]) -> dict[str, str]:
    """The zone part of a time value (``tz`` and ``vtimezone``), to build values in it."""
    return {k: value[k] for k in ("tz", "vtimezone") if k in value}


def as_moment(value: Mapping[str, str]) -> date | datetime:
    """Inverse of :func:`time_value`: a date, a naive datetime (floating), or an aware
    datetime in the value's zone. Raises MalformedItem for anything else."""
    try:
        if "date" in value:
            return date.fromisoformat(value["date"])
        if "floating" in value:
            return datetime.fromisoformat(value["floating"])
        if "utc" in value:
            instant = datetime.fromisoformat(value["utc"].replace("Z", "+00:00"))
            return instant.astimezone(zone_of(value))
    except (TypeError, ValueError):
        pass
    raise MalformedItem(f"not a canonical time value: {dict(value)!r}")


def compact_key(value: Mapping[str, str]) -> str:
    """Occurrence key of a time value: ``20260301`` / ``20260301T080000Z`` /
    ``20260301T090000`` (floating)."""
    moment = as_moment(value)
    if not isinstance(moment, datetime):
        return moment.strftime("%Y%m%d")
    if moment.tzinfo is None:
        return moment.strftime("%Y%m%dT%H%M%S")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def key_moment(key: str, series: Mapping[str, str]) -> date | datetime:
    """An occurrence key as a date / naive / aware datetime in the series' zone."""
    if "T" not in key:
        return datetime.strptime(key, "%Y%m%d").date()
    if key.endswith("Z"):
        instant = datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return instant.astimezone(zone_of(series))
    return datetime.strptime(key, "%Y%m%dT%H%M%S")


def read_moment(
    prop: Any, name: str, uid: str, zones: ZoneContext | None = None
) -> dict[str, str]:
    """Canonical time value of a DTSTART-like property (value ``.dt``, TZID in ``.params``).

    The TZID is resolved by ``zones`` (see :class:`~cirahub.core.zone_rules.ZoneContext`;
    without one, by name only): an IANA zone, or the VTIMEZONE's own rules. A TZID nothing
    resolves is read as floating time, as the reference library reads it."""
    moment = getattr(prop, "dt", None)
    if isinstance(prop, vBroken) or not isinstance(moment, date):
        raise MalformedItem(f"{name} of {uid!r} is not a date or date-time", uid=uid)
    if not isinstance(moment, datetime):
        return time_value(moment, None)
    return _zoned(moment.replace(tzinfo=None), prop, moment, zones)


def _zoned(wall: datetime, prop: Any, moment: datetime, zones: ZoneContext | None,
           ) -> dict[str, str]:
    """Wall clock ``wall`` in the zone of ``prop`` (whose value is ``moment``)."""
    tzid = getattr(prop, "params", {}).get("TZID")
    if tzid:
        resolved = _resolve(str(tzid), zones)
        if resolved is None:
            return time_value(wall, None)
        return time_value(wall.replace(tzinfo=resolved.info()), resolved.tz, resolved.vtimezone)
    if moment.tzinfo is None:
        return time_value(wall, None)
    return time_value(wall.replace(tzinfo=moment.tzinfo), None)


def midnight_like(day: date, prop: Any, zones: ZoneContext | None = None) -> dict[str, str]:
    """A DATE paired with the DATE-TIME ``prop`` (DTSTART;VALUE=DATE with a timed DTEND, or
    the reverse), read as the reference reader compares the two: midnight of that day in the
    date-time's zone (UTC, a TZID, or floating)."""
    moment = prop.dt
    return _zoned(datetime(day.year, day.month, day.day), prop, moment, zones)


def _resolve(tzid: str, zones: ZoneContext | None) -> ResolvedZone | None:
    if zones is not None:
        return zones.resolve(tzid)
    iana = resolve_tzid(tzid)
    return ResolvedZone(iana) if iana is not None else None


# --- RRULE -------------------------------------------------------------------------------------


def _until_text(until: date | datetime, series: Mapping[str, str]) -> str:
    """UNTIL in the series' terms: a date (all-day), UTC (instants), wall clock (floating).

    UNTIL values of the wrong type are read as the reference reader
    (``recurring-ical-events``) reads them: a DATE on a timed series is midnight of that day
    (UTC for a zoned series, wall clock for a floating one), a local date-time on a zoned
    series is taken as UTC."""
    if "date" in series:
        day = until.date() if isinstance(until, datetime) else until
        return day.strftime("%Y%m%d")
    if not isinstance(until, datetime):
        until = datetime.combine(until, time(0, 0))
    if "floating" in series:
        if until.tzinfo is not None:
            until = until.astimezone(UTC).replace(tzinfo=None)
        return until.strftime("%Y%m%dT%H%M%S")
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return until.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _byday_sort(entry: str) -> tuple[int, int]:
    day = entry[-2:]
    ordinal = int(entry[:-2]) if entry[:-2] not in ("", "+", "-") else 0
    return (_WEEKDAYS.index(day) if day in _WEEKDAYS else 7, ordinal)


def _part(name: str, values: list[Any], series: Mapping[str, str]) -> str | None:
    """One rule part in canonical text, or None when it states the default."""
    if name == "UNTIL":
        return _until_text(values[0], series)
    if name == "BYDAY":
        days = {str(v).strip().upper().lstrip("+") for v in values}
        return ",".join(sorted(days, key=_byday_sort))
    if name in ("INTERVAL", "COUNT"):
        number = int(values[0])
        return None if name == "INTERVAL" and number == 1 else str(number)
    if name.startswith("BY"):
        return ",".join(str(n) for n in sorted({int(v) for v in values}))
    text = ",".join(str(v).strip().upper() for v in values)
    return None if name == "WKST" and text == "MO" else text


def canonical_rrule(rule: Mapping[str, list[Any]], series: Mapping[str, str], uid: str) -> str:
    """The canonical text of a parsed RRULE (an icalendar ``vRecur``): parts in RFC order,
    defaults (INTERVAL=1, WKST=MO) dropped, BY* values sorted, UNTIL as :func:`_until_text`.
    Unknown parts are kept after the known ones, sorted. Raises MalformedItem without FREQ."""
    parts = {str(k).upper(): (v if isinstance(v, list) else [v]) for k, v in rule.items()}
    if not parts.get("FREQ"):
        raise MalformedItem(f"RRULE of {uid!r} has no FREQ", uid=uid)
    try:
        order = [k for k in _RULE_ORDER if k in parts]
        order += sorted(k for k in parts if k not in _RULE_ORDER)
        out = []
        for name in order:
            text = _part(name, parts[name], series)
            if text is not None:
                out.append(f"{name}={text}")
    except (TypeError, ValueError) as exc:
        raise MalformedItem(f"RRULE of {uid!r} cannot be read: {exc}", uid=uid) from None
    return ";".join(out)


def add_duration(moment: date | datetime, delta: timedelta) -> date | datetime:
    """``moment + delta`` as RFC 5545 means a DURATION: whole days are calendar days (same wall
    clock across DST), hours/minutes/seconds are exact time."""
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        if delta.seconds or delta.microseconds:
            return (moment.astimezone(UTC) + delta).astimezone(moment.tzinfo)
        return moment + delta  # aware arithmetic keeps the wall clock
    return moment + delta
