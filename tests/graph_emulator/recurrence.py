"""Expansion of a Graph ``patternedRecurrence`` into occurrence start times (the emulator's
own reading of the documented pattern types, independent of the connector's mapping)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil import rrule

_DAYS = {"monday": rrule.MO, "tuesday": rrule.TU, "wednesday": rrule.WE, "thursday": rrule.TH,
         "friday": rrule.FR, "saturday": rrule.SA, "sunday": rrule.SU}
_INDEX = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
LIMIT = 3000


def expand(recurrence: dict[str, Any], first_start: datetime, until: datetime) -> list[datetime]:
    """Occurrence starts (aware, in ``first_start``'s zone) up to ``until``."""
    pattern, rng = recurrence["pattern"], recurrence["range"]
    kind = pattern["type"]
    interval = int(pattern.get("interval") or 1)
    days = [_DAYS[d] for d in pattern.get("daysOfWeek") or []]
    kw: dict[str, Any] = {"interval": interval, "dtstart": first_start}
    if kind == "daily":
        freq = rrule.DAILY
    elif kind == "weekly":
        freq = rrule.WEEKLY
        kw["byweekday"] = days or [first_start.weekday()]
        kw["wkst"] = _DAYS[pattern.get("firstDayOfWeek") or "sunday"]
    elif kind in ("absoluteMonthly", "absoluteYearly"):
        freq = rrule.MONTHLY if kind == "absoluteMonthly" else rrule.YEARLY
        kw["bymonthday"] = int(pattern["dayOfMonth"])
    elif kind in ("relativeMonthly", "relativeYearly"):
        freq = rrule.MONTHLY if kind == "relativeMonthly" else rrule.YEARLY
        nth = _INDEX[pattern.get("index") or "first"]
        if len(days) == 1:
            kw["byweekday"] = [days[0](nth)]
        else:
            kw["byweekday"], kw["bysetpos"] = days, nth
    else:
        raise ValueError(f"unknown pattern type {kind!r}")
    if kind in ("absoluteYearly", "relativeYearly"):
        kw["bymonth"] = int(pattern["month"])
    if rng["type"] == "numbered":
        kw["count"] = int(rng["numberOfOccurrences"])
    elif rng["type"] == "endDate":
        end = date.fromisoformat(rng["endDate"])
        kw["until"] = datetime.combine(end, time(23, 59, 59), tzinfo=first_start.tzinfo)
    out: list[datetime] = []
    for occ in rrule.rrule(freq, **kw):
        if occ > until or len(out) >= LIMIT:
            break
        out.append(occ)
    return out


def series_start(master: dict[str, Any], zone: ZoneInfo) -> datetime:
    """The first occurrence's start: the master's start time on the range's start date."""
    local = parse_local(master["start"]["dateTime"])
    start_date = date.fromisoformat(master["recurrence"]["range"]["startDate"])
    return datetime.combine(start_date, local.time(), tzinfo=zone)


def parse_local(text: str) -> datetime:
    return datetime.fromisoformat(text.split(".")[0].rstrip("Z"))


def shift(value: dict[str, str], delta: timedelta) -> dict[str, str]:
    local = parse_local(value["dateTime"]) + delta
    return {"dateTime": local.isoformat(), "timeZone": value["timeZone"]}
