"""What an Exchange calendar item can hold, in canonical terms: :func:`project` turns a hub item
into the item Exchange will hold (and give back), and lists what it had to change.

Nothing here is fatal for a value Exchange cannot hold: it is clamped, cut, moved or dropped,
and declared (:attr:`Projected.notes`; docs/sync.md, "Exchange"). The writer keeps the
original values in the item's sidecar property, so reading back an item nobody edited gives
the hub's values again (:mod:`.sidecar`). Only what cannot be stored at all — a date outside
Exchange's calendar, a zone without a Windows zone on a series — raises
:class:`~cirahub.core.errors.ItemRejected`, failing that item's write alone; a rule Exchange
can neither express nor have written occurrence by occurrence is written as its first event.

Limits (Microsoft's EWS reference): Subject ≤ 255 characters; ReminderMinutesBeforeStart
0..2629800 (an alarm after the start becomes a reminder at the start); a duration ≤ 5 years and
no longer than the gap to the next occurrence; dates from 1601-04-01 to 4500-08-31; one
reminder; free/busy holds one of Tentative/Free; no CANCELLED for an appointment.
Location (≤ 255) and categories (≤ 255 characters each, at most 100) follow Outlook's limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import islice, pairwise
from typing import Any
from zoneinfo import ZoneInfo

from cirahub.core.errors import ItemRejected, MalformedItem
from cirahub.core.expansion import walk
from cirahub.core.ical_values import as_moment, compact_key, key_moment, time_value
from cirahub.core.item import Item

from . import recurrence, zones
from .components import as_appointment, note_uncarried
from .explicit import make_explicit
from .future import expand_future
from .source_notes import note_source

SUBJECT_MAX = 255
LOCATION_MAX = 255
CATEGORY_MAX = 255
CATEGORIES_MAX = 100
REMINDER_MAX = 2_629_800
DURATION_MAX = timedelta(days=5 * 365)
FIRST_DAY = date(1601, 4, 1)
LAST_DAY = date(4500, 8, 31)
#: occurrences compared for Exchange's "an occurrence may not overlap the next" rule
_GAP_SAMPLE = 60


@dataclass(frozen=True)
class Projected:
    """The item as Exchange holds it, and what was changed to get there (one line each)."""

    item: Item
    notes: tuple[str, ...] = ()
    #: changes of form only: Exchange shows the same occurrences with the same fields (RDATEs
    #: as a daily series, THISANDFUTURE as modified occurrences); not a projection
    forms: tuple[str, ...] = ()


def project(item: Item, spoke_zone: str | None) -> Projected:
    """The projection of ``item`` onto Exchange; ``spoke_zone`` (IANA, None = UTC) is where
    floating times are placed. Raises ItemRejected for what Exchange cannot store at all."""
    notes: list[str] = []
    forms: list[str] = []
    note_uncarried(item, notes)
    note_source(item, notes)
    item = as_appointment(expand_future(item, notes, forms), notes)
    item = make_explicit(item, notes, spoke_zone, forms)
    fields = _fields(item.fields, notes, "", spoke_zone, item.uid)
    overrides = {k: _fields(v, notes, f"occurrence {k}: ", spoke_zone, item.uid)
                 for k, v in item.overrides.items()}
    series = bool(fields.get("rrule")) and "start" in fields
    fields = _zoned(fields, notes, "", item.uid, series=series)
    overrides = {k: _zoned(v, notes, f"occurrence {k}: ", item.uid, series=False) for k, v in overrides.items()}
    if series:
        fields, overrides = _series(item.uid, fields, overrides, notes)
    return Projected(Item(item.uid, fields, overrides), tuple(notes), tuple(forms))


def _zoned(fields: dict[str, Any], notes: list[str], where: str, uid: str, *, series: bool) -> dict[str, Any]:
    """A series keeps its zone or is not written (the same rule in another zone would move
    its occurrences at each DST change); a single item is an instant and may lose it."""
    out = dict(fields)
    for name in ("start", "end"):
        value = out.get(name)
        if not isinstance(value, Mapping) or "utc" not in value:
            continue
        zone = value.get("tz")
        known = zone is not None and zones.ews_timezone(zone) is not None
        if (zone is None and "vtimezone" not in value) or known:
            continue
        label = zone or "its VTIMEZONE"
        if series and name == "start":
            raise ItemRejected(f"the series' time zone {label!r} has no Exchange (Windows) zone; written "
                               "in another zone its occurrences would move at DST changes", uid=uid)
        out[name] = {"utc": value["utc"]}
        notes.append(f"{where}{name} zone {label!r} has no Exchange zone: the instant is kept, in UTC")
    return out


# --- one item's (or occurrence's) fields --------------------------------------------------------


def _cut(text: str, limit: int) -> str:
    return text[:limit].rstrip()


def _fields(fields: Mapping[str, Any], notes: list[str], where: str, zone: str | None,
            uid: str) -> dict[str, Any]:
    out = dict(fields)
    summary = out.get("summary")
    if isinstance(summary, str) and summary != summary.strip():
        # what Outlook shows either way (and a trimming server keeps): the hub's spaces come
        # back from the sidecar, so this is no projection
        out["summary"] = summary = summary.strip()
    if isinstance(summary, str) and len(summary) > SUBJECT_MAX:
        out["summary"] = _cut(summary, SUBJECT_MAX)
        body = out.get("description")
        out["description"] = f"{summary}\n\n{body}" if body else summary
        notes.append(f"{where}summary over {SUBJECT_MAX} characters: cut, the full text opens the description")
    location = out.get("location")
    if isinstance(location, str) and len(location) > LOCATION_MAX:
        out["location"] = _cut(location, LOCATION_MAX)
        notes.append(f"{where}location over {LOCATION_MAX} characters: cut")
    if out.get("categories"):
        _categories(out, notes, where)
    if out.get("alarms"):
        _alarms(out, notes, where)
    if out.get("status") == "CANCELLED":
        del out["status"]
        notes.append(f"{where}status CANCELLED: Exchange has no cancelled appointment; not written")
    if out.get("status") == "TENTATIVE" and out.get("transparency") == "TRANSPARENT":
        del out["transparency"]
        notes.append(f"{where}tentative and free: Exchange holds one free/busy value (Tentative)")
    _times(out, notes, where, zone, uid)
    return out


def _categories(out: dict[str, Any], notes: list[str], where: str) -> None:
    given = list(out["categories"])
    kept = sorted({c for c in (_cut(str(c).strip(), CATEGORY_MAX) for c in given) if c})[:CATEGORIES_MAX]
    if kept != given:
        notes.append(f"{where}categories: cut to {CATEGORY_MAX} characters each, at most {CATEGORIES_MAX}")
    if kept:
        out["categories"] = kept
    else:
        del out["categories"]


def _alarms(out: dict[str, Any], notes: list[str], where: str) -> None:
    alarms = sorted(int(a) for a in out["alarms"])
    held = [a for a in alarms if 0 <= a <= REMINDER_MAX]
    first = held[0] if held else min(max(alarms[0], 0), REMINDER_MAX)
    if len(alarms) > 1:
        notes.append(f"{where}{len(alarms)} alarms: Exchange holds one reminder ({first} minutes before)")
    if not held:
        what = "after the start: reminder at the start" if alarms[0] < 0 else f"clamped to {REMINDER_MAX} minutes"
        notes.append(f"{where}alarm {alarms[0]} minutes before the start is {what}")
    out["alarms"] = [first]


def _times(out: dict[str, Any], notes: list[str], where: str, zone: str | None, uid: str) -> None:
    start, end = out.get("start"), out.get("end")
    if not start:
        return
    if "floating" in start:
        out["start"] = start = _placed(start, zone)
        notes.append(f"{where}floating time placed in the spoke's zone ({zone or 'UTC'})")
        if out.get("rrule"):
            out["rrule"] = _placed_until(str(out["rrule"]), zone)
    if end and "floating" in end:
        out["end"] = end = _placed(end, zone)
    first = as_moment(start)
    last = as_moment(end) if end else first
    for moment in (first, last):
        day = moment.date() if isinstance(moment, datetime) else moment
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ItemRejected(f"{where}{day.isoformat()} is outside the dates Exchange can store "
                               f"({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})", uid=uid)
    if isinstance(first, datetime) != isinstance(last, datetime):
        last = first + (timedelta(days=1) if not isinstance(first, datetime) else timedelta(0))
    minimum = timedelta(days=1) if not isinstance(first, datetime) else timedelta(0)
    if last - first < minimum:  # type: ignore[operator]
        last = first + minimum
        notes.append(f"{where}end before the start: {'one day' if minimum else 'no duration'} kept")
    elif last - first > DURATION_MAX:  # type: ignore[operator]
        last = first + DURATION_MAX
        notes.append(f"{where}duration over 5 years: cut to 5 years")
    if end is not None or last != first:
        out["end"] = _value_like(last, out.get("end") or start)


def _placed(value: Mapping[str, str], zone: str | None) -> dict[str, str]:
    wall = datetime.fromisoformat(value["floating"])
    name = zone or "UTC"
    return time_value(wall.replace(tzinfo=ZoneInfo(name)), name)


def _placed_until(rule: str, zone: str | None) -> str:
    """A floating series' rule with its floating UNTIL placed in the same zone as its start
    (then in UTC, as RFC 5545 wants for a zoned start)."""
    parts = rule.split(";")
    for n, part in enumerate(parts):
        name, _, value = part.partition("=")
        if name.upper() == "UNTIL" and "T" in value and not value.endswith("Z"):
            wall = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=ZoneInfo(zone or "UTC"))
            parts[n] = "UNTIL=" + wall.astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")
    return ";".join(parts)


def _value_like(moment: date | datetime, like: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(moment, datetime):
        return time_value(moment, None)
    return time_value(moment, like.get("tz"))


# --- a series ---------------------------------------------------------------------------------


def _series(uid: str, fields: dict[str, Any], overrides: dict[str, dict[str, Any]],
            notes: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    rule, start = fields["rrule"], fields["start"]
    limit = max([compact_key(start), *(fields.get("exdates") or []), *overrides])
    try:
        keys = recurrence.occurrence_keys(rule, start, limit)
    except (ValueError, TypeError, MalformedItem) as exc:
        return _first_alone(fields, overrides, notes, f"RRULE {rule!r} cannot be expanded ({exc})")
    if not keys:
        notes.append("series without an occurrence of its rule: written as its first event alone")
        return {k: v for k, v in fields.items() if k not in ("rrule", "exdates")}, {}
    if keys[0] != compact_key(start):
        fields = _moved_start(fields, keys[0])
        notes.append("the series' start is not an occurrence of its rule: Exchange starts it at its "
                     "first occurrence")
    try:
        fields["rrule"] = recurrence.to_rrule(recurrence.from_rrule(rule, fields["start"], uid),
                                              fields["start"], uid)
    except MalformedItem as exc:
        return _first_alone(fields, overrides, notes, str(exc))
    _clamp_to_gap(fields, notes)
    known = set(keys)
    exdates = [k for k in fields.get("exdates") or [] if k in known]
    if exdates:
        fields["exdates"] = exdates
    else:
        fields.pop("exdates", None)
    dropped = sorted(k for k in overrides if k not in known or k in exdates)
    if dropped:
        notes.append(f"overrides of {len(dropped)} instants that are no occurrence: not written")
    kept = {k: v for k, v in overrides.items() if k not in dropped}
    return fields, kept


def _first_alone(fields: dict[str, Any], overrides: Mapping[str, Any], notes: list[str],
                 why: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A series Exchange can neither express nor have written occurrence by occurrence (a rule
    in another calendar scale, a part no reader knows): its first event alone, declared (the
    hub's rule stays in the sidecar, so hubs reading it back get the series again)."""
    lost = f"; its {len(overrides)} modified occurrences not written" if overrides else ""
    notes.append(f"{why}: Exchange cannot hold the series, written as its first event alone{lost}")
    return {k: v for k, v in fields.items() if k not in ("rrule", "exdates")}, {}


def _moved_start(fields: dict[str, Any], key: str) -> dict[str, Any]:
    start = fields["start"]
    moment, old = key_moment(key, start), as_moment(start)
    out = dict(fields)
    out["start"] = _value_like(moment, start)
    if fields.get("end"):
        out["end"] = _value_like(moment + (as_moment(fields["end"]) - old), fields["end"])  # type: ignore[operator]
    return out


def _clamp_to_gap(fields: dict[str, Any], notes: list[str]) -> None:
    """Exchange refuses a series whose occurrences overlap the next one."""
    start, end = fields["start"], fields.get("end")
    if not end:
        return
    first, last = as_moment(start), as_moment(end)
    moment = first if isinstance(first, datetime) else datetime.combine(first, datetime.min.time())
    starts = list(islice(walk(fields["rrule"], moment), _GAP_SAMPLE))
    gaps = [b - a for a, b in pairwise(starts)]
    if gaps and last - first > min(gaps):  # type: ignore[operator]
        fields["end"] = _value_like(first + min(gaps), end)
        notes.append("occurrences longer than the gap to the next one: cut to the gap")
