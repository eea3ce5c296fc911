"""EWS recurrence (pattern + range) ↔ canonical RRULE, and occurrence keys ↔ instance indexes.

Exchange patterns are a subset of RRULE: one of daily / weekly (several days) / monthly or
yearly on a day number / monthly or yearly on the n-th (or last) weekday, with a count, an
end date or no end. Anything else (BYHOUR, several month days, BYSETPOS, HOURLY, ...) cannot
be written to Exchange and raises MalformedItem. UNTIL ↔ EndDate: the end date is the local
date (in the series' zone) of the series' *last occurrence* (not of UNTIL, which may fall later
that day or on a later day with no occurrence); read back, UNTIL is that date at the series'
start time, which yields the same occurrences.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from exchangelib.recurrence import (
    AbsoluteMonthlyPattern,
    AbsoluteYearlyPattern,
    DailyPattern,
    EndDatePattern,
    NoEndPattern,
    NumberedPattern,
    Recurrence,
    RelativeMonthlyPattern,
    RelativeYearlyPattern,
    WeeklyPattern,
)

from cirahub.core.errors import MalformedItem
from cirahub.core.expansion import walk
from cirahub.core.ical_values import as_moment, canonical_rrule, compact_key, time_value

_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
#: exchangelib week_number 1..4 = First..Fourth, 5 = Last
_LAST = 5


class NoPattern(MalformedItem):
    """An RRULE no Exchange pattern expresses (its occurrences may still be written one by
    one: :mod:`.explicit`)."""


def _d(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def to_rrule(rec: Recurrence, start: Mapping[str, str], uid: str) -> str:
    """Canonical RRULE text of an exchangelib Recurrence for a series starting at ``start``."""
    p, b = rec.pattern, rec.boundary
    parts: dict[str, list[Any]] = {}
    interval = getattr(p, "interval", 1) or 1
    if isinstance(p, DailyPattern):
        parts["FREQ"] = ["DAILY"]
    elif isinstance(p, WeeklyPattern):
        parts["FREQ"] = ["WEEKLY"]
        parts["BYDAY"] = [_DAYS[int(d) - 1] for d in p.weekdays]
        if p.first_day_of_week and int(p.first_day_of_week) != 1:
            parts["WKST"] = [_DAYS[int(p.first_day_of_week) - 1]]
    elif isinstance(p, AbsoluteMonthlyPattern | AbsoluteYearlyPattern):
        parts["FREQ"] = ["MONTHLY" if isinstance(p, AbsoluteMonthlyPattern) else "YEARLY"]
        parts["BYMONTHDAY"] = [p.day_of_month]
    elif isinstance(p, RelativeMonthlyPattern | RelativeYearlyPattern):
        parts["FREQ"] = ["MONTHLY" if isinstance(p, RelativeMonthlyPattern) else "YEARLY"]
        nth = -1 if int(p.week_number) == _LAST else int(p.week_number)
        weekday = int(p.weekday)
        if weekday <= 7:
            parts["BYDAY"] = [f"{nth}{_DAYS[weekday - 1]}"]
        else:  # Day / Weekday / WeekendDay: the n-th of a set of days
            days = {8: _DAYS, 9: _DAYS[:5], 10: _DAYS[5:]}[weekday]
            parts["BYDAY"], parts["BYSETPOS"] = list(days), [nth]
    else:
        raise MalformedItem(f"recurrence pattern {type(p).__name__} of {uid!r} is not supported", uid=uid)
    if isinstance(p, AbsoluteYearlyPattern | RelativeYearlyPattern):
        parts["BYMONTH"] = [int(p.month)]
    else:
        parts["INTERVAL"] = [interval]
    if isinstance(b, NumberedPattern):
        parts["COUNT"] = [b.number]
    elif isinstance(b, EndDatePattern):
        parts["UNTIL"] = [_until(_d(b.end), start)]
    return canonical_rrule(parts, start, uid)


def _until(day: date, start: Mapping[str, str]) -> date | datetime:
    if "date" in start:
        return day
    moment = as_moment(start)
    assert isinstance(moment, datetime)
    return datetime.combine(day, moment.timetz() if moment.tzinfo else time(0)).replace(tzinfo=moment.tzinfo)


def _parse(rule: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in rule.split(";"):
        name, _, value = part.partition("=")
        out[name.upper()] = value.split(",")
    return out


def _ordinal(entry: str) -> tuple[int, int]:
    day, nth = entry[-2:], entry[:-2]
    return _DAYS.index(day) + 1, int(nth) if nth not in ("", "+") else 0


def from_rrule(rule: str, start: Mapping[str, str], uid: str) -> Recurrence:
    """An exchangelib Recurrence for a canonical RRULE; MalformedItem when Exchange cannot
    express it."""
    parts = _parse(rule)
    freq = parts.pop("FREQ", [""])[0]
    interval = int(parts.pop("INTERVAL", ["1"])[0])
    moment = as_moment(start)
    first = _d(moment)
    bad = set(parts) - {"UNTIL", "COUNT", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST"}

    def fail() -> MalformedItem:
        return NoPattern(f"RRULE {rule!r} of {uid!r} cannot be expressed in Exchange", uid=uid)

    if bad:
        raise fail()
    byday, bymonthday = parts.get("BYDAY", []), parts.get("BYMONTHDAY", [])
    month = int(parts["BYMONTH"][0]) if "BYMONTH" in parts else first.month
    pattern: Any
    if freq == "DAILY" and not (byday or bymonthday):
        pattern = DailyPattern(interval=interval)
    elif freq == "WEEKLY" and not bymonthday:
        days = [_ordinal(d)[0] for d in byday] or [first.isoweekday()]
        wkst = _DAYS.index(parts.get("WKST", ["MO"])[0]) + 1
        pattern = WeeklyPattern(interval=interval, weekdays=days, first_day_of_week=wkst)
    elif freq in ("MONTHLY", "YEARLY") and len(bymonthday) <= 1 and not byday:
        day = int(bymonthday[0]) if bymonthday else first.day
        if day < 1:
            raise fail()
        pattern = (AbsoluteMonthlyPattern(interval=interval, day_of_month=day) if freq == "MONTHLY"
                   else AbsoluteYearlyPattern(day_of_month=day, month=month))
    elif freq in ("MONTHLY", "YEARLY") and byday and not bymonthday:
        pattern = _relative(freq, interval, byday, parts.get("BYSETPOS"), month, fail)
    else:
        raise fail()
    if (freq == "YEARLY" and interval != 1) or len(parts.get("BYMONTH", [])) > 1:
        raise fail()
    if "COUNT" in parts:
        return Recurrence(pattern=pattern, boundary=NumberedPattern(start=first, number=int(parts["COUNT"][0])))
    if "UNTIL" in parts:
        end = last_day(rule, start)
        if end is None:
            raise MalformedItem(f"RRULE {rule!r} of {uid!r} has no occurrence", uid=uid)
        return Recurrence(pattern=pattern, boundary=EndDatePattern(start=first, end=end))
    return Recurrence(pattern=pattern, boundary=NoEndPattern(start=first))


def last_day(rule: str, start: Mapping[str, str]) -> date | None:
    """The local date (in the series' zone) of the series' last occurrence, or None when it
    has none. Exchange ends a series on a *date* and keeps every occurrence on or before it,
    so this — not the date of UNTIL — is the EndDate that keeps the occurrence set: an UNTIL
    of 15:14:59Z must not take in an occurrence at 15:15Z that day."""
    moment = as_moment(start)
    all_day = not isinstance(moment, datetime)
    dtstart = datetime.combine(moment, time(0)) if all_day else moment
    last = None
    steps = walk(rule, dtstart)
    for n, occ in enumerate(steps):
        last = occ
        if n >= MAX_OCCURRENCES:
            break
    if steps.truncated:
        raise MalformedItem(f"RRULE {rule!r} has no end before {steps.end:%Y-%m-%d} (expansion "
                            "bound): Exchange cannot be given its end date")
    return None if last is None else _d(last)


#: occurrences looked at when searching a series' last one (UNTIL series are finite)
MAX_OCCURRENCES = 100_000


def _relative(freq: str, interval: int, byday: list[str], setpos: list[str] | None, month: int,
              fail: Any) -> Any:
    sets = {tuple(_DAYS): 8, tuple(_DAYS[:5]): 9, tuple(_DAYS[5:]): 10}
    if len(byday) == 1 and not setpos:
        weekday, nth = _ordinal(byday[0])
    elif setpos and len(setpos) == 1 and tuple(d[-2:] for d in byday) in sets:
        weekday, nth = sets[tuple(d[-2:] for d in byday)], int(setpos[0])
    else:
        raise fail()
    if nth not in (1, 2, 3, 4, -1):
        raise fail()
    week = _LAST if nth == -1 else nth
    if freq == "MONTHLY":
        return RelativeMonthlyPattern(interval=interval, weekday=weekday, week_number=week)
    return RelativeYearlyPattern(weekday=weekday, week_number=week, month=month)


def occurrence_keys(rule: str, start: Mapping[str, str], limit_key: str) -> list[str]:
    """Occurrence keys of the series in order, up to and including ``limit_key``.
    Position + 1 is Exchange's instance index (deleted occurrences count)."""
    moment = as_moment(start)
    all_day = not isinstance(moment, datetime)
    dtstart = datetime.combine(moment, time(0)) if all_day else moment
    keys: list[str] = []
    for n, occ in enumerate(walk(rule, dtstart)):
        key = compact_key(time_value(occ.date() if all_day else occ, None))
        keys.append(key)
        if key >= limit_key or n > 5000:
            break
    return keys


def instance_index(rule: str, start: Mapping[str, str], key: str) -> int | None:
    """1-based instance index of the occurrence with ``key``, or None when it is not one."""
    keys = occurrence_keys(rule, start, key)
    return keys.index(key) + 1 if key in keys else None


def instance_indexes(rule: str, start: Mapping[str, str], keys: list[str]) -> dict[str, int]:
    """1-based instance indexes of those ``keys`` that are occurrences (one expansion for all)."""
    if not keys:
        return {}
    found = occurrence_keys(rule, start, max(keys))
    positions = {k: n for n, k in enumerate(found, start=1)}
    return {k: positions[k] for k in keys if k in positions}
