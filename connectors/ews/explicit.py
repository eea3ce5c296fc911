"""Occurrences no Exchange pattern expresses, written as an Exchange series all the same.

Exchange has no RDATE, no series without a master, and a fixed set of patterns. An item whose
occurrences need one of those — RDATEs, occurrences (RECURRENCE-IDs) without their series, an
RRULE with no Exchange pattern — is written as a *daily* series over the days of its
occurrences (every ``n`` days, ``n`` the greatest common divisor of the gaps), the days without
an occurrence as deleted occurrences and every occurrence whose time, duration or fields differ
from the first as a modified occurrence. Outlook then shows exactly the item's occurrences
(occurrence identity is the test): a change of form only, named in ``forms``, not a
projection; what cannot be written is declared in ``notes``.

Not possible, and declared: two occurrences on one local day, all-day and timed occurrences
mixed, a daily series of more than :data:`SLOTS` occurrences (only the occurrences within
its first :data:`SLOTS` are written). A series Exchange can express whose RDATEs fall after an open end keeps its pattern
and loses the RDATEs (declared). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from itertools import islice
from math import gcd
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from cirahub.core.errors import MalformedItem
from cirahub.core.ical_values import as_moment, compact_key, time_value
from cirahub.core.item import VOLATILE_FIELDS, Item
from cirahub.core.recurrence import is_occurrence, series_starts

from . import recurrence

#: occurrences a daily series may have, deleted ones included (each is one Exchange
#: occurrence; the days between the item's occurrences are deleted ones)
SLOTS = 200
#: the largest interval of an Exchange daily pattern
INTERVAL_MAX = 999
_TIMES = ("start", "end")
#: the fields that make a series (an occurrence has none of them)
_SERIES = ("rrule", "more_rrules", "rdates", "exdates")

Fields = dict[str, Any]


def _reason(item: Item) -> str | None:
    """Why ``item`` needs explicit occurrences, or None when Exchange expresses it."""
    f = item.fields
    if "start" not in f:
        return "occurrences without their series" if item.overrides else None
    if f.get("more_rrules"):
        return "several RRULEs"
    if f.get("rdates"):
        return "RDATE"
    rule = f.get("rrule")
    if rule:
        try:
            recurrence.from_rrule(str(rule), f["start"], item.uid)
        except recurrence.NoPattern:
            return f"RRULE {rule!r} (no Exchange pattern)"
        except (MalformedItem, ValueError, TypeError):
            return None  # unreadable or without occurrence: the series projection says so
    return None


def _expressible(item: Item) -> bool:
    """Whether Exchange has a pattern for the item's RRULE (False without one)."""
    rule = item.fields.get("rrule")
    if not rule:
        return False
    try:
        recurrence.from_rrule(str(rule), item.fields["start"], item.uid)
    except (MalformedItem, ValueError, TypeError):
        return False
    return True


def _rule_is_empty(item: Item) -> bool:
    """Whether the item's RRULE generates nothing from its start (an UNTIL before DTSTART):
    RFC 5545 still counts DTSTART, some readers do not."""
    rule, start = item.fields.get("rrule"), item.fields.get("start")
    if not rule or not isinstance(start, Mapping):
        return False
    moment = as_moment(start)
    first = moment if isinstance(moment, datetime) else datetime.combine(moment, datetime.min.time())
    try:
        return next(iter(rrulestr(str(rule), dtstart=first, cache=False)), None) is None
    except (ValueError, TypeError):
        return False


def _open_ended(rule: Any) -> bool:
    return bool(rule) and "COUNT=" not in str(rule) and "UNTIL=" not in str(rule)


def make_explicit(item: Item, notes: list[str], zone: str | None, forms: list[str]) -> Item:
    """``item`` as a series Exchange can hold (see the module docstring); ``zone`` (IANA,
    None = UTC) places floating times. Items Exchange expresses are returned unchanged. Every
    occurrence written is a change of form only (``forms``); occurrences lost are declared
    (``notes``)."""
    item = _without_excluded(item)
    reason = _reason(item)
    if reason is None:
        return item
    rules = [item.fields.get("rrule"), *(item.fields.get("more_rrules") or [])]
    if reason == "several RRULEs" and any(_open_ended(r) for r in rules):
        return make_explicit(_first_rule(item, notes, "a rule has no end"), notes, zone, forms)
    if reason == "RDATE" and _open_ended(item.fields.get("rrule")) and _expressible(item):
        return _without_rdates(item, notes, "the series has no end")
    if _rule_is_empty(item):
        notes.append("series without an occurrence of its rule: its start is kept as one")
    try:
        occurrences = _occurrences(item, zone, notes)
    except (MalformedItem, ValueError, TypeError) as exc:
        return _without_rdates(item, notes, f"its occurrences cannot be expanded: {exc}")
    more = len(occurrences) > SLOTS  # beyond what one explicit series holds
    occurrences = occurrences[:SLOTS]
    days = [_day(o["start"]) for o in occurrences]
    kinds = {type(d) is datetime for d in (as_moment(o["start"]) for o in occurrences)}
    if not occurrences or len(kinds) > 1 or len(set(days)) < len(days):
        why = "it has two occurrences on one day" if occurrences else "it has no occurrence"
        return _without_rdates(item, notes, why if len(kinds) <= 1 else "all-day and timed occurrences mix")
    out, written = _daily(item.uid, occurrences, days)
    cut = len(occurrences) - written
    if (cut or more) and reason == "RDATE" and _expressible(item) and (more or cut >= len(item.fields["rdates"])):
        # too far apart or too many for one daily series: the pattern without its RDATEs loses fewer
        return _without_rdates(item, notes, f"more than {SLOTS} occurrences or days apart")
    if (cut or more) and reason == "several RRULEs":
        return make_explicit(_first_rule(item, notes, f"more than {SLOTS} occurrences or days apart"),
                             notes, zone, forms)
    if more:
        notes.append(f"{reason}: occurrences after the first {SLOTS} not written")
    shape = (f"a daily Exchange series of {written} occurrences ({len(out.get('exdates') or [])} "
             f"days deleted, {len(out.overrides)} occurrences modified)" if out.get("rrule")
             else "a single appointment")
    (notes if cut or more else forms).append(
        f"{reason}: written as {shape}; Exchange has no pattern for them"
        + (f"; {cut} later occurrences not written" if cut else ""))
    return out


def _first_rule(item: Item, notes: list[str], why: str) -> Item:
    """``item`` with its first RRULE alone, the others declared not written."""
    more = item.fields.get("more_rrules") or []
    notes.append(f"RRULE: {len(more)} further rules not written ({why}; Exchange holds one "
                 "pattern per series)")
    return Item(item.uid, {k: v for k, v in item.fields.items() if k != "more_rrules"}, item.overrides)


def _without_excluded(item: Item) -> Item:
    """``item`` without the RDATEs its EXDATEs exclude (RFC 5545: they add no occurrence)."""
    rdates, exdates = item.fields.get("rdates") or [], set(item.fields.get("exdates") or [])
    kept = [k for k in rdates if k not in exdates]
    if len(kept) == len(rdates):
        return item
    fields = {k: v for k, v in item.fields.items() if k != "rdates"}
    return Item(item.uid, {**fields, "rdates": kept} if kept else fields, item.overrides)


def _without_rdates(item: Item, notes: list[str], why: str) -> Item:
    rdates = item.fields.get("rdates") or []
    if not rdates or "start" not in item.fields:
        return item
    notes.append(f"RDATE: {len(rdates)} extra occurrences not written ({why}; Exchange has no RDATE)")
    fields = {k: v for k, v in item.fields.items() if k != "rdates"}
    # their overrides (an RDATE PERIOD's own length) go with them: left in, no Exchange
    # occurrence would hold them and the sidecar, seeing them written, would not keep them
    gone = {k for k in rdates if k in item.overrides and not is_occurrence(fields, k)}
    return Item(item.uid, fields, {k: v for k, v in item.overrides.items() if k not in gone})


def _placed(value: Mapping[str, str], zone: str | None) -> dict[str, str]:
    if "floating" not in value:
        return dict(value)
    name = zone or "UTC"
    return time_value(datetime.fromisoformat(value["floating"]).replace(tzinfo=ZoneInfo(name)), name)


def _day(value: Mapping[str, str]) -> date:
    moment = as_moment(value)
    return moment.date() if isinstance(moment, datetime) else moment


def _occurrences(item: Item, zone: str | None, notes: list[str]) -> list[Fields]:
    """The first SLOTS occurrences and one more if there is one, as full fields (times
    placed, sorted)."""
    f = item.fields
    if "start" not in f:
        found = [dict(v) for v in item.overrides.values() if isinstance(v.get("start"), Mapping)]
    else:
        base = {k: v for k, v in f.items() if k not in _SERIES}
        first = as_moment(f["start"])
        length = as_moment(f.get("end") or f["start"]) - first  # type: ignore[operator]
        found = []
        seen: set[str] = set()
        for key, moment in islice(series_starts(f), SLOTS + 1):
            seen.add(key)
            if key in item.overrides:
                found.append(dict(item.overrides[key]))
                continue
            occ = dict(base)
            occ["start"] = _value_like(moment, f["start"])
            occ["end"] = _value_like(moment + length, f["start"])
            found.append(occ)
        stray = [k for k in item.overrides if k not in seen]
        if stray and len(seen) <= SLOTS:  # every occurrence seen
            notes.append(f"overrides of {len(stray)} instants that are no occurrence: not written")
    floating = False
    for occ in found:
        occ.pop("range", None)
        for name in _TIMES:
            if isinstance(occ.get(name), Mapping):
                floating = floating or "floating" in occ[name]
                occ[name] = _placed(occ[name], zone)
    if floating:
        notes.append(f"floating time placed in the spoke's zone ({zone or 'UTC'})")
        occ.setdefault("end", occ["start"])
    found.sort(key=lambda o: compact_key(o["start"]))
    return found[:SLOTS + 1]


def _value_like(moment: date | datetime, like: Mapping[str, str]) -> dict[str, str]:
    return time_value(moment, like.get("tz"), like.get("vtimezone"))


def _daily(uid: str, occurrences: list[Fields], days: list[date]) -> tuple[Item, int]:
    """The daily series over ``occurrences`` (one per day, sorted): (item, occurrences kept)."""
    first = occurrences[0]
    step = _step(days)
    while step and (days[-1] - days[0]).days // step >= SLOTS:  # keep the first SLOTS slots
        days = [d for d in days if (d - days[0]).days < SLOTS * step]
        occurrences = occurrences[:len(days)]
        step = _step(days)
    master = {k: v for k, v in first.items() if k not in _SERIES}
    if not step:
        return Item(uid, master), 1
    count = (days[-1] - days[0]).days // step + 1
    master["rrule"] = f"FREQ=DAILY;COUNT={count}" + (f";INTERVAL={step}" if step > 1 else "")
    start = as_moment(first["start"])
    length = as_moment(first["end"]) - start  # type: ignore[operator]
    by_day = dict(zip(days, occurrences, strict=True))
    skip = {*_TIMES, "rrule", *VOLATILE_FIELDS}
    same = {k: v for k, v in master.items() if k not in skip}
    exdates: list[str] = []
    overrides: dict[str, Fields] = {}
    for n in range(count):
        day = days[0] + timedelta(days=n * step)
        slot = _slot(start, day)
        key = compact_key(_value_like(slot, first["start"]))
        occ = by_day.get(day)
        if occ is None:
            exdates.append(key)
            continue
        moment = as_moment(occ["start"])
        if (moment != slot or as_moment(occ["end"]) - moment != length  # type: ignore[operator]
                or {k: v for k, v in occ.items() if k not in skip} != same):
            overrides[key] = occ
    if exdates:
        master["exdates"] = sorted(exdates)
    return Item(uid, master, overrides), len(occurrences)


def _step(days: list[date]) -> int:
    """Days between the daily series' occurrences: the greatest common divisor of the gaps."""
    step = 0
    for d in days[1:]:
        step = gcd(step, (d - days[0]).days)
    # Exchange's daily interval is 1..999: a divisor of the step keeps every occurrence a slot
    return max((n for n in range(1, min(step, INTERVAL_MAX) + 1) if step % n == 0), default=0)


def _slot(start: date | datetime, day: date) -> date | datetime:
    """The daily series' occurrence on ``day``: the first occurrence's wall-clock time there."""
    if not isinstance(start, datetime):
        return day
    return datetime.combine(day, start.time(), tzinfo=start.tzinfo)

