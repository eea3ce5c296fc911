"""Series expansion in the series' own zone, and ``RANGE=THISANDFUTURE`` made explicit.

An override with ``range: THISANDFUTURE`` (``RECURRENCE-ID;RANGE=THISANDFUTURE``) moves its
own occurrence *and every later one* by the same shift, gives them its duration and its
fields (RFC 5545 §3.8.4.4). iCalendar spokes carry it as it is; a spoke that cannot (EWS,
Graph) calls :func:`expand_this_and_future` to get the same occurrences as one plain
override per occurrence. The expansion follows the reference reader
(``recurring-ical-events``): an occurrence is governed by the latest THISANDFUTURE override
whose RECURRENCE-ID is before it; occurrences with their own override keep it. Pure.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast

from dateutil.rrule import rrule, rrulestr

from cirahub.core.errors import MalformedItem
from cirahub.core.expansion import BoundedRule, bounded_rule
from cirahub.core.ical_values import as_moment, key_moment, same_zone, time_value
from cirahub.core.item import Item

#: occurrences generated after the first THISANDFUTURE override, at most (bounded work)
DEFAULT_LIMIT = 2000

Moment = date | datetime


@dataclass(frozen=True)
class ThisAndFutureExpansion:
    """The result of :func:`expand_this_and_future`. ``complete`` is False when the series
    is open-ended or longer than the limit: occurrences after the last expanded one lose
    their shift, and the caller must declare that projection."""

    item: Item
    complete: bool
    #: occurrence keys that got a generated override
    expanded: tuple[str, ...] = ()


def _naive(moment: Moment) -> datetime:
    return moment if isinstance(moment, datetime) else datetime.combine(moment, time())


def occurrence_key(moment: Moment, all_day: bool) -> str:
    """The occurrence key (see :mod:`cirahub.core.item`) of an expanded start."""
    if all_day or not isinstance(moment, datetime):
        day = moment.date() if isinstance(moment, datetime) else moment
        return day.strftime("%Y%m%d")
    if moment.tzinfo is None:
        return moment.strftime("%Y%m%dT%H%M%S")
    return time_value(moment, None)["utc"].replace("-", "").replace(":", "")


def series_starts(fields: Mapping[str, Any]) -> Iterator[tuple[str, Moment]]:
    """``(key, start)`` of every occurrence the series generates (DTSTART, RRULE, RDATEs,
    minus EXDATEs), in time order, starts in the series' zone (dates for all-day series,
    naive for floating ones). Overrides are not applied. The RRULE is walked within the
    bounds of :mod:`cirahub.core.expansion` (so this always ends, possibly after many items:
    slice it)."""
    return _series(fields)[0]


def _series(fields: Mapping[str, Any]) -> tuple[Iterator[tuple[str, Moment]], BoundedRule | None]:
    """:func:`series_starts` and the bounded walk of its RRULE (None without one), whose
    ``truncated`` says afterwards whether the bound cut the series short."""
    start_value = fields.get("start")
    if not isinstance(start_value, Mapping):
        return iter(()), None
    all_day = "date" in start_value
    first = as_moment(start_value)
    # a timed series' start is a date-time (dateutil types its rules with datetime only)
    dtstart = _naive(first) if all_day else cast(datetime, first)
    streams: list[Iterable[datetime]] = [[dtstart]]  # DTSTART is always the first occurrence
    walk = None
    for text in [fields["rrule"], *(fields.get("more_rrules") or ())] if fields.get("rrule") \
            else []:
        try:
            bounded = bounded_rule(cast(rrule, rrulestr(str(text), dtstart=dtstart,
                                                        forceset=False)))
        except (ValueError, TypeError, AttributeError) as exc:
            raise MalformedItem(f"RRULE {text!r} cannot be expanded: {exc}") from None
        walk = walk or bounded  # the first rule's bound says whether the series was cut
        streams.append(bounded)
    moments = [key_moment(key, start_value) for key in fields.get("rdates") or ()]
    streams.append(sorted(_naive(m) if all_day else cast(datetime, m) for m in moments))
    excluded = {key_moment(key, start_value) for key in fields.get("exdates") or ()}
    skip = {_naive(m) if all_day else m for m in excluded}

    def merged() -> Iterator[tuple[str, Moment]]:
        last: datetime | None = None
        for moment in heapq.merge(*streams):
            if moment == last or moment in skip:
                continue
            last = moment
            out: Moment = moment.date() if all_day else moment
            yield occurrence_key(out, all_day), out

    return merged(), walk


def _shifted(
    gov_key: str, gov: Mapping[str, Any], series: Mapping[str, Any], moment: Moment
) -> dict[str, Any] | None:
    """The fields occurrence ``moment`` gets from THISANDFUTURE override ``gov``."""
    recurrence_id = key_moment(gov_key, series)
    start, end = as_moment(gov["start"]), as_moment(gov.get("end") or gov["start"])
    if type(start) is not type(recurrence_id) or type(start) is not type(moment):
        return None  # a date against a date-time: no shift can be defined
    # same types (checked above), which neither checker can see through type()
    move: timedelta = start - recurrence_id  # pyright: ignore[reportOperatorIssue]
    duration: timedelta = end - start  # pyright: ignore[reportOperatorIssue]
    new_start = moment + move
    new_end = new_start + duration
    zone = same_zone(gov["start"])
    out = {k: v for k, v in gov.items() if k != "range"}
    out["start"] = time_value(new_start, zone.get("tz"), zone.get("vtimezone"))
    out["end"] = time_value(new_end, zone.get("tz"), zone.get("vtimezone"))
    return out


def expand_this_and_future(item: Item, *, limit: int = DEFAULT_LIMIT) -> ThisAndFutureExpansion:
    """``item`` with every ``range: THISANDFUTURE`` override turned into plain overrides:
    the override itself (without ``range``) plus one generated override per later
    occurrence it governs (shifted start, its duration, its other fields), up to ``limit``
    occurrences after the first such override. Items without one are returned unchanged
    (``complete`` True). Raises MalformedItem when the series' RRULE cannot be expanded.
    """
    ranged = sorted(k for k, ov in item.overrides.items() if ov.get("range") == "THISANDFUTURE")
    if not ranged:
        return ThisAndFutureExpansion(item, True)
    overrides = {
        k: {f: v for f, v in ov.items() if f != "range"} for k, ov in item.overrides.items()
    }
    series = item.fields.get("start")
    if not isinstance(series, Mapping):  # overrides without their master: nothing to expand
        return ThisAndFutureExpansion(Item(item.uid, item.fields, overrides), False)
    starts, walk = _series(item.fields)
    generated = itertools.dropwhile(lambda kv: kv[0] < ranged[0], starts)
    expanded: list[str] = []
    complete = True
    for count, (key, moment) in enumerate(generated):
        if count >= limit:
            complete = False
            break
        governing = [k for k in ranged if k < key]
        if key in item.overrides or not governing:
            continue
        fields = _shifted(governing[-1], item.overrides[governing[-1]], series, moment)
        if fields is not None:
            overrides[key] = fields
            expanded.append(key)
    if walk is not None and walk.truncated:
        complete = False  # the expansion bound cut the series: later occurrences lose their shift
    return ThisAndFutureExpansion(Item(item.uid, item.fields, overrides), complete, tuple(expanded))


def is_occurrence(fields: Mapping[str, Any], key: str) -> bool:
    """Whether the series of ``fields`` has an occurrence at the occurrence key ``key``
    (keys of one series sort in time order; the walk is bounded, see :func:`series_starts`)."""
    for found, _ in series_starts(fields):
        if found >= key:
            return found == key
    return False


def stale_modification(fields: Mapping[str, Any], key: str, *, own_rule: bool,
                       older: bool) -> bool:
    """Whether an overridden occurrence at ``key`` is one readers skip, as
    ``recurring-ical-events`` does since its issue 253: a RECURRENCE-ID component with an RRULE
    of its own (``own_rule``) and a lower SEQUENCE than the series (``older``), at an instant
    that is no occurrence of the series — a copy left from an older version of the series.
    The model does not hold it (the source text still carries it)."""
    return own_rule and older and not is_occurrence(fields, key)
