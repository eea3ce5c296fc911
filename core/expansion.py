"""Bounded recurrence expansion: every walk of an RRULE costs a bounded amount of work.

A small rule can cost minutes: ``FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;COUNT=5`` never
produces an occurrence, so dateutil walks every period up to year 9999 looking for one. Every
expansion in cirahub therefore goes through :func:`bounded_rule`, which guarantees:

- **time span**: no occurrence later than ``dtstart`` + :data:`MAX_SPAN` is looked for;
- **iterations**: the span is shortened further so that dateutil's loop (one step per
  ``INTERVAL`` × ``FREQ`` period, whatever BY-rules filter or expand) runs at most
  :data:`MAX_STEPS` steps — a SECONDLY rule is walked for about a day, a DAILY one for the
  whole span;
- the walk is reported as ``truncated`` when it stopped at that horizon before the rule's own
  end (COUNT reached or UNTIL passed), so callers treat such a series as open-ended (the
  window filter keeps it) or declare what they could not carry — never as a short series.

The window filter's question (a series' last start, :mod:`cirahub.core.filters`) is cached
under :func:`cache_key` — the series' timing fields, its fingerprint as far as expansion goes —
so an unchanged item is never expanded twice in one process. :data:`STATS` counts expansions and truncations (tests and benchmarks read it).
Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.rrule import (
    DAILY,
    HOURLY,
    MINUTELY,
    MONTHLY,
    SECONDLY,
    WEEKLY,
    YEARLY,
    rrule,
    rrulestr,
)

#: no occurrence later than this after the series' start is ever looked for
MAX_SPAN = timedelta(days=100 * 366)
#: dateutil loop steps per expansion, at most (one step = one INTERVAL × FREQ period)
MAX_STEPS = 100_000
#: occurrences taken from one rule, at most (a longer series counts as open-ended)
MAX_OCCURRENCES = 20_000
#: distinct series whose expansion is remembered (per process)
CACHE_SIZE = 8192

_PERIOD = {
    SECONDLY: timedelta(seconds=1), MINUTELY: timedelta(minutes=1), HOURLY: timedelta(hours=1),
    DAILY: timedelta(days=1), WEEKLY: timedelta(weeks=1), MONTHLY: timedelta(days=28),
    YEARLY: timedelta(days=365),
}


class ExpansionStats:
    """Process-wide counters: ``expansions`` (rules walked) and ``truncated`` (walks stopped
    at the bound)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.expansions = self.truncated = 0

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


STATS = ExpansionStats()


def horizon(rule: rrule) -> datetime:
    """The latest instant a walk of ``rule`` may reach: its start + the span allowed by
    :data:`MAX_SPAN` and :data:`MAX_STEPS` for its frequency and interval."""
    start: datetime = rule._dtstart  # type: ignore[attr-defined]
    interval = max(int(rule._interval), 1)  # type: ignore[attr-defined]
    step = _PERIOD[int(rule._freq)] * interval  # type: ignore[attr-defined]
    span = min(MAX_SPAN, step * MAX_STEPS)
    try:
        return start + span
    except OverflowError:
        return datetime.max.replace(tzinfo=start.tzinfo)


class _HorizonReached(Exception):
    """Ends a guarded walk (raised inside dateutil's loop, caught by :class:`BoundedRule`)."""


class _GuardedRule(rrule):
    """A dateutil ``rrule`` whose walk stops after ``months`` calendar months.

    Why: dateutil checks UNTIL only against a candidate that passed every BY-filter, so a
    rule whose filters never match walks on to year 9999 whatever its UNTIL. Its loop rebuilds
    its per-month masks (``_iterinfo.rebuild``) on entering each new month (each period for
    MONTHLY and YEARLY), and that rebuild reads ``_byeaster``: reading it is the step counter.
    ``tests/hardening/test_recurrence_bounds.py`` counts dateutil's own steps to prove it."""

    months = 0  # set by BoundedRule before each walk

    @property
    def _byeaster(self) -> Any:
        self.months -= 1
        if self.months < 0:
            raise _HorizonReached
        return self._easter

    @_byeaster.setter
    def _byeaster(self, value: Any) -> None:
        self._easter = value


def _months(start: datetime, end: datetime) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


class BoundedRule:
    """The occurrences of a dateutil ``rrule`` within :func:`horizon`, in order, with the
    rule's own COUNT applied. After (or during) iteration, ``truncated`` tells whether the
    horizon cut the rule short; ``end`` is that horizon."""

    def __init__(self, rule: rrule) -> None:
        self.count: int | None = rule._count  # type: ignore[attr-defined]
        own_until: datetime | None = rule._until  # type: ignore[attr-defined]
        self.end = horizon(rule)
        self._open = own_until is None or own_until > self.end
        # what rrule.replace does, into the guarded class; COUNT is applied here, not by
        # dateutil (a dateutil rule may not hold both COUNT and UNTIL)
        kwargs: dict[str, Any] = {
            "interval": rule._interval, "dtstart": rule._dtstart,  # type: ignore[attr-defined]
            "freq": rule._freq, "wkst": rule._wkst, "cache": False,  # type: ignore[attr-defined]
            **rule._original_rule,  # type: ignore[attr-defined]
            "count": None, "until": min(own_until or self.end, self.end)}
        self._rule = _GuardedRule(**kwargs)
        # the walk's start and its mask rebuilds: one per month (or per period) until the end
        self._budget = _months(rule._dtstart, self.end) + 3  # type: ignore[attr-defined]
        self.produced = 0
        self.truncated = False

    def __iter__(self) -> Iterator[datetime]:
        STATS.add("expansions")
        self._rule.months = self._budget
        try:
            for moment in self._rule:
                if self.count is not None and self.produced >= self.count:
                    return
                self.produced += 1
                yield moment
        except _HorizonReached:
            pass
        if self._open and (self.count is None or self.produced < self.count):
            self.truncated = True
            STATS.add("truncated")


def bounded_rule(rule: rrule) -> BoundedRule:
    """``rule`` walked within the bounds (see the module docstring)."""
    return BoundedRule(rule)


def walk(text: str, dtstart: date | datetime) -> BoundedRule:
    """The RRULE ``text`` from ``dtstart`` (a date counts as its midnight), walked within the
    bounds. Raises ValueError or TypeError (dateutil's) when it cannot be read, ValueError
    when it is not one rule."""
    rule = rrulestr(text, dtstart=dtstart, cache=False, forceset=False)
    if not isinstance(rule, rrule):
        raise ValueError("not a single RRULE")
    return BoundedRule(rule)


@dataclass(frozen=True)
class LastStart:
    """The last occurrence start of a rule (None: open-ended, or no end found within the
    bounds — ``reason`` then says which bound)."""

    last: datetime | None
    produced: int
    reason: str | None = None


def walk_to_end(rule: rrule) -> LastStart:
    """The last start of ``rule`` within the bounds; ``last`` None with a ``reason`` when the
    rule produced more than :data:`MAX_OCCURRENCES` or reached the horizon first."""
    steps = bounded_rule(rule)
    last: datetime | None = None
    for last in steps:  # noqa: B007 - keep the last
        if steps.produced > MAX_OCCURRENCES:
            return LastStart(None, steps.produced,
                             f"more than {MAX_OCCURRENCES} occurrences: treated as open-ended")
    if steps.truncated:
        return LastStart(None, steps.produced,
                         f"no end of the rule before {steps.end:%Y-%m-%d} (expansion bound of "
                         f"{MAX_STEPS} steps or {MAX_SPAN.days // 366} years): treated as "
                         "open-ended")
    return LastStart(last, steps.produced)


def cache_key(text: str, start: Mapping[str, Any]) -> str:
    """The key an expansion is cached under: the rule and the series start, canonical."""
    return json.dumps([text, start], sort_keys=True, default=str)


__all__ = ["MAX_OCCURRENCES", "MAX_SPAN", "MAX_STEPS", "STATS", "BoundedRule", "LastStart",
           "bounded_rule", "cache_key", "horizon", "walk", "walk_to_end"]
