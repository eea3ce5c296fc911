"""Per-spoke filters: the time window and the content filters (private, categories, tentative).

Pure functions; the caller passes ``now``. A filter only says whether an item belongs in a
spoke: an item leaving the window or a filter is never a deletion (the planner decides what
that means). Busy mode is a *transform*, not a filter, and is not handled here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from dateutil.rrule import rrule, rrulestr

from cirahub.core.expansion import CACHE_SIZE, cache_key, walk_to_end
from cirahub.core.ical_values import zone_of
from cirahub.core.item import Item
from cirahub.core.options import PrivateMode, SyncOptions


def _aware(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def window_bounds(options: SyncOptions, now: datetime) -> tuple[datetime | None, datetime | None]:
    """``(start, end)`` of the spoke's window as UTC-aware datetimes; ``None`` = unbounded.

    ``now`` may be naive (taken as UTC) or aware.
    """
    now = _aware(now)
    start = None if options.days_back is None else now - timedelta(days=options.days_back)
    end = None if options.days_ahead is None else now + timedelta(days=options.days_ahead)
    return start, end


def _parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _day_start(text: str) -> datetime:
    return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)


def time_value_utc(value: Mapping[str, Any]) -> datetime:
    """A canonical time value as a UTC-aware datetime: an instant as itself, a date as its
    midnight UTC, a floating time as if it were UTC. Raises ``ValueError`` on other shapes."""
    if "utc" in value:
        return _parse_utc(value["utc"])
    if "date" in value:
        return _day_start(value["date"])
    if "floating" in value:
        return datetime.fromisoformat(value["floating"]).replace(tzinfo=UTC)
    raise ValueError(f"not a time value: {value!r}")


def _local_start(value: Mapping[str, Any]) -> datetime:
    """The series start as dateutil needs it: aware in its zone, or naive (dates, floating)."""
    if "utc" in value:
        instant = _parse_utc(value["utc"])
        return instant.astimezone(zone_of(value)) if value.get("tz") else instant
    return time_value_utc(value).replace(tzinfo=None)


def _to_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _build_rule(text: str, dtstart: datetime) -> rrule | None:
    try:
        return rrulestr(text, dtstart=dtstart, forceset=False)  # type: ignore[return-value]
    except ValueError:
        # UNTIL in UTC against a naive (floating/all-day) start, or the reverse: compare as
        # wall-clock times, which is what a floating series means.
        bare = ";".join(
            (p.rstrip("Z") if p.upper().startswith("UNTIL=") else p) for p in text.split(";")
        )
        try:
            return rrulestr(bare, dtstart=dtstart.replace(tzinfo=None))  # type: ignore[return-value]
        except ValueError:
            return None


def _last_rule_start(text: str, start: Mapping[str, Any]) -> datetime | None:
    """Start of the last occurrence of the RRULE (UTC); None when the series is open-ended
    (no UNTIL/COUNT, unparsable, longer than the expansion bounds of
    :mod:`cirahub.core.expansion`). Cached by rule and start: an unchanged series is walked
    once per process."""
    upper = text.upper()
    if "UNTIL=" not in upper and "COUNT=" not in upper:
        return None
    return _last_start_of(cache_key(text, start))


@lru_cache(maxsize=CACHE_SIZE)
def _last_start_of(key: str) -> datetime | None:
    text, start = json.loads(key)
    rule = _build_rule(text, _local_start(start))
    if rule is None:
        return None
    found = walk_to_end(rule)
    if found.reason is not None:
        return None
    if found.last is None:
        return time_value_utc(start)  # a rule that yields nothing: only DTSTART remains
    return _to_utc(found.last)


def _occurrence_key_utc(key: str) -> datetime:
    if "T" in key:
        fmt = "%Y%m%dT%H%M%SZ" if key.endswith("Z") else "%Y%m%dT%H%M%S"
        return datetime.strptime(key, fmt).replace(tzinfo=UTC)
    return datetime.strptime(key, "%Y%m%d").replace(tzinfo=UTC)


def _span(fields: Mapping[str, Any]) -> tuple[datetime, datetime | None] | None:
    """``(first start, last end)`` of one field set in UTC; last end None = open-ended."""
    start = fields.get("start")
    if not isinstance(start, Mapping):
        return None
    first = time_value_utc(start)
    end = fields.get("end")
    last_end = time_value_utc(end) if isinstance(end, Mapping) else first
    if "date" in start and last_end <= first:
        last_end = first + timedelta(days=1)  # an all-day item covers its whole day
    duration = last_end - first
    last_start: datetime | None = first
    for rule in [fields["rrule"], *(fields.get("more_rrules") or ())] if fields.get("rrule") \
            else []:
        ends = _last_rule_start(str(rule), start)
        last_start = None if ends is None or last_start is None else max(last_start, ends)
    if last_start is not None:
        for key in fields.get("rdates") or ():
            last_start = max(last_start, _occurrence_key_utc(key))
    return first, (None if last_start is None else last_start + duration)


def _spans(item: Item) -> Iterable[tuple[datetime, datetime | None]]:
    try:
        master = _span(item.fields)
    except (TypeError, ValueError):  # not canonical: cannot be placed, so it is kept
        master = None
    if master is not None:
        yield master
    for key, fields in item.overrides.items():
        try:
            span = _span(fields)
            if span is not None and fields.get("range") == "THISANDFUTURE" and master:
                span = _this_and_future_span(span, _occurrence_key_utc(key), item, master)
        except (TypeError, ValueError):
            continue
        if span is not None:
            yield span


def _this_and_future_span(
    own: tuple[datetime, datetime | None], replaced: datetime, item: Item,
    master: tuple[datetime, datetime | None],
) -> tuple[datetime, datetime | None]:
    """A THISANDFUTURE override reaches to the series' last occurrence, moved by its shift
    and with its own duration."""
    first, own_end = own
    if master[1] is None or own_end is None:
        return first, None
    start, end = item.fields.get("start"), item.fields.get("end")
    duration = timedelta(0)
    if isinstance(start, Mapping) and isinstance(end, Mapping):
        duration = max(time_value_utc(end) - time_value_utc(start), timedelta(0))
    last_start = master[1] - duration
    return first, max(own_end, last_start + (first - replaced) + (own_end - first))


def in_window(item: Item, options: SyncOptions, now: datetime) -> bool:
    """Whether any part of ``item`` (a single event, any occurrence of a series, or an
    override) overlaps the spoke's window.

    A series counts from its first start to the end of its last occurrence (RRULE with
    UNTIL/COUNT and RDATEs; without either it is open-ended). All-day dates cover the whole
    day; floating times are compared as UTC. Bounds are inclusive. An item without any start
    is kept (it cannot be placed, and dropping it silently would hide it).
    """
    lo, hi = window_bounds(options, now)
    if lo is None and hi is None:
        return True  # no window: every item is in it (its series need not be walked)
    spans = list(_spans(item))
    if not spans:
        return True
    for first, last_end in spans:
        if hi is not None and first > hi:
            continue
        if lo is not None and last_end is not None and last_end < lo:
            continue
        return True
    return False


def filters_content(options: SyncOptions) -> bool:
    """Whether :func:`content_filter` can refuse any item under ``options``: False (no
    category list, private items kept, tentative ones too) means it passes every item, so a
    caller may skip it (a push of 5,000 items: 5,000 category sets made for nothing)."""
    return bool(options.categories_include or options.categories_exclude
                or options.private == PrivateMode.SKIP or not options.tentative)


def content_filter(item: Item, options: SyncOptions) -> str | None:
    """None when ``item`` passes the private / category / tentative filters, else the reason:
    ``"private"``, ``"category-include"``, ``"category-exclude"`` or ``"tentative"``.

    Category names compare case-insensitively and trimmed (spokes differ in case).
    """
    if item.get("privacy") in ("PRIVATE", "CONFIDENTIAL") and options.private == PrivateMode.SKIP:
        return "private"
    if options.categories_include or options.categories_exclude:  # (else none to compare)
        categories = {str(c).strip().casefold() for c in item.get("categories") or ()}
        include = {c.strip().casefold() for c in options.categories_include}
        exclude = {c.strip().casefold() for c in options.categories_exclude}
        if include and not categories & include:
            return "category-include"
        if categories & exclude:
            return "category-exclude"
    if item.get("status") == "TENTATIVE" and not options.tentative:
        return "tentative"
    return None
