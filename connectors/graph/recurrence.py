"""Microsoft Graph recurrence (``patternedRecurrence``) ↔ canonical RRULE.

Graph patterns are a subset of RRULE: daily, weekly (several days), absolute monthly/yearly
(a day number), relative monthly/yearly (the first..fourth or last of one weekday, or of a
set of weekdays), each with an interval and a range (numbered, end date, no end). Anything
else (BYHOUR, several month days, BYSETPOS other than with a set of days, HOURLY, ...) cannot
be written to Graph and raises MalformedItem. UNTIL ↔ endDate: the end date is the local
date (in the series' zone) of UNTIL; read back, UNTIL is that date at the series' start time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from cirahub.core.errors import MalformedItem
from cirahub.core.ical_values import as_moment, canonical_rrule

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_INDEX_NAME = {v: k for k, v in _INDEX.items()}
_NO_DATE = "0001-01-01"


def _first_date(start: Mapping[str, str]) -> date:
    moment = as_moment(start)
    return moment.date() if isinstance(moment, datetime) else moment


def to_rrule(recurrence: Mapping[str, Any], start: Mapping[str, str], uid: str) -> str:
    """Canonical RRULE of a Graph ``recurrence`` for a series starting at ``start``."""
    pattern = recurrence.get("pattern") or {}
    rng = recurrence.get("range") or {}
    kind = pattern.get("type")
    days = [_DAYS[_NAMES.index(d)] for d in pattern.get("daysOfWeek") or [] if d in _NAMES]
    parts: dict[str, list[Any]] = {"INTERVAL": [int(pattern.get("interval") or 1)]}
    if kind == "daily":
        parts["FREQ"] = ["DAILY"]
    elif kind == "weekly":
        parts["FREQ"] = ["WEEKLY"]
        parts["BYDAY"] = days or [_DAYS[_first_date(start).weekday()]]
        wkst = pattern.get("firstDayOfWeek") or "sunday"
        if wkst in _NAMES and wkst != "monday":
            parts["WKST"] = [_DAYS[_NAMES.index(wkst)]]
    elif kind in ("absoluteMonthly", "absoluteYearly"):
        parts["FREQ"] = ["MONTHLY" if kind == "absoluteMonthly" else "YEARLY"]
        parts["BYMONTHDAY"] = [int(pattern.get("dayOfMonth") or _first_date(start).day)]
    elif kind in ("relativeMonthly", "relativeYearly"):
        parts["FREQ"] = ["MONTHLY" if kind == "relativeMonthly" else "YEARLY"]
        nth = _INDEX.get(pattern.get("index") or "first", 1)
        if len(days) == 1:
            parts["BYDAY"] = [f"{nth}{days[0]}"]
        elif days:
            parts["BYDAY"], parts["BYSETPOS"] = days, [nth]
        else:
            raise MalformedItem(f"relative recurrence of {uid!r} has no days", uid=uid)
    else:
        raise MalformedItem(f"recurrence pattern {kind!r} of {uid!r} is not supported", uid=uid)
    if kind in ("absoluteYearly", "relativeYearly"):
        parts["BYMONTH"] = [int(pattern.get("month") or _first_date(start).month)]
    if rng.get("type") == "numbered":
        parts["COUNT"] = [int(rng.get("numberOfOccurrences") or 1)]
    elif rng.get("type") == "endDate" and rng.get("endDate") not in (None, "", _NO_DATE):
        parts["UNTIL"] = [_until(date.fromisoformat(rng["endDate"]), start)]
    return canonical_rrule(parts, start, uid)


def _until(day: date, start: Mapping[str, str]) -> date | datetime:
    if "date" in start:
        return day
    moment = as_moment(start)
    assert isinstance(moment, datetime)
    return datetime.combine(day, moment.timetz() if moment.tzinfo else time(0)).replace(
        tzinfo=moment.tzinfo)


def _parse(rule: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        out[name.upper()] = value.split(",")
    return out


def _ordinal(entry: str) -> tuple[str, int]:
    day, nth = entry[-2:], entry[:-2]
    return _NAMES[_DAYS.index(day)], int(nth) if nth not in ("", "+") else 0


def from_rrule(rule: str, start: Mapping[str, str], uid: str, zone: str) -> dict[str, Any]:
    """A Graph ``recurrence`` for a canonical RRULE; MalformedItem when Graph cannot express
    it. ``zone`` is the range's ``recurrenceTimeZone`` (the series' zone as Graph names it)."""
    parts = _parse(rule)
    freq = parts.pop("FREQ", [""])[0]
    interval = int(parts.pop("INTERVAL", ["1"])[0])
    first = _first_date(start)

    def fail() -> MalformedItem:
        return MalformedItem(f"RRULE {rule!r} of {uid!r} cannot be expressed in Microsoft "
                             "Graph", uid=uid)

    if set(parts) - {"UNTIL", "COUNT", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST"}:
        raise fail()
    byday, bymonthday = parts.get("BYDAY", []), parts.get("BYMONTHDAY", [])
    if len(parts.get("BYMONTH", [])) > 1 or (freq != "YEARLY" and "BYMONTH" in parts):
        raise fail()
    month = int(parts["BYMONTH"][0]) if "BYMONTH" in parts else first.month
    pattern: dict[str, Any] = {"interval": interval}
    if freq == "DAILY" and not (byday or bymonthday):
        pattern["type"] = "daily"
    elif freq == "WEEKLY" and not bymonthday and "BYSETPOS" not in parts:
        pattern["type"] = "weekly"
        pattern["daysOfWeek"] = [_ordinal(d)[0] for d in byday] or [_NAMES[first.weekday()]]
        pattern["firstDayOfWeek"] = _NAMES[_DAYS.index(parts.get("WKST", ["MO"])[0])]
    elif freq in ("MONTHLY", "YEARLY") and len(bymonthday) <= 1 and not byday:
        day = int(bymonthday[0]) if bymonthday else first.day
        if day < 1:
            raise fail()
        pattern["type"] = "absoluteMonthly" if freq == "MONTHLY" else "absoluteYearly"
        pattern["dayOfMonth"] = day
    elif freq in ("MONTHLY", "YEARLY") and byday and not bymonthday:
        pattern.update(_relative(byday, parts.get("BYSETPOS"), fail))
        pattern["type"] = "relativeMonthly" if freq == "MONTHLY" else "relativeYearly"
    else:
        raise fail()
    if freq == "YEARLY":
        pattern["month"] = month
    rng: dict[str, Any] = {"startDate": first.isoformat(), "recurrenceTimeZone": zone}
    if "COUNT" in parts:
        rng.update(type="numbered", numberOfOccurrences=int(parts["COUNT"][0]))
    elif "UNTIL" in parts:
        rng.update(type="endDate", endDate=_until_date(parts["UNTIL"][0], start).isoformat())
    else:
        rng["type"] = "noEnd"
    return {"pattern": pattern, "range": rng}


def _until_date(until: str, start: Mapping[str, str]) -> date:
    if "T" not in until:
        return datetime.strptime(until, "%Y%m%d").date()
    instant = datetime.strptime(until, "%Y%m%dT%H%M%SZ").isoformat() + "Z"
    moment = as_moment({"utc": instant, **({"tz": start["tz"]} if "tz" in start else {})})
    return moment.date() if isinstance(moment, datetime) else moment


def _relative(byday: list[str], setpos: list[str] | None, fail: Any) -> dict[str, Any]:
    if len(byday) == 1 and not setpos:
        name, nth = _ordinal(byday[0])
        days = [name]
    elif setpos and len(setpos) == 1 and all(_ordinal(d)[1] == 0 for d in byday):
        days, nth = [_ordinal(d)[0] for d in byday], int(setpos[0])
    else:
        raise fail()
    if nth not in _INDEX_NAME:
        raise fail()
    return {"daysOfWeek": days, "index": _INDEX_NAME[nth]}
