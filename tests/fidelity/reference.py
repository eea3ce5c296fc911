"""What a calendar *means*, read by the reference libraries (``icalendar`` +
``recurring-ical-events``), independent of cirahub's own model.

- :func:`occurrences` — the first :data:`MAX_OCCURRENCES` occurrences from 1900 as
  ``(uid, start, duration, summary)``: starts as UTC instants (``Z``), dates (``D:``) or floating
  times (``F:``), durations in seconds.
- :func:`property_sets` — every property and parameter of every component, normalized only
  where iCalendar allows several spellings of one value (date-times compared as instants,
  TZID by what it resolves to, parameter order, default VALUE); DTSTAMP is left out.
- :func:`field_view` — the non-recurrence fields every spoke kind models (for EWS).
"""

from __future__ import annotations

import datetime as dt
import itertools
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import icalendar
import recurring_ical_events

MAX_OCCURRENCES = 300
FROM = dt.datetime(1900, 1, 1)
EVENT_KINDS = ("VEVENT", "VTODO", "VJOURNAL")
#: properties whose value is a date, date-time or a list of them
_TIME_PROPS = frozenset({"DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "EXDATE", "RDATE",
                         "CREATED", "LAST-MODIFIED", "COMPLETED"})
#: never compared: rewritten by every careful writer
_SKIP_PROPS = frozenset({"DTSTAMP"})
#: the non-recurrence fields compared on every path
FIELDS = ("SUMMARY", "LOCATION", "DESCRIPTION", "CLASS", "TRANSP", "STATUS", "CATEGORIES",
          "PRIORITY", "URL", "ORGANIZER", "ATTENDEE")

#: components that are never an item on their own (a file holding just one is "empty")
_NOT_ITEMS = frozenset({"VTIMEZONE", "STANDARD", "DAYLIGHT", "VALARM"})

Occurrence = tuple[str, str, float, str]


class Unreadable(Exception):
    """The reference libraries cannot read this calendar."""


@dataclass(frozen=True)
class Reading:
    """A calendar as the reference reads it: the parsed tree and its occurrences."""

    calendar: icalendar.cal.Component
    occurrences: tuple[Occurrence, ...]


#: texts :func:`read` keeps: a path reads the whole corpus and every file of its destination
#: folders (about 1,400 texts), and a text read again after it left the cache (a source file
#: judged after the folders of the rounds before it) was parsed and expanded again
READ_CACHE = 8192


@lru_cache(maxsize=READ_CACHE)
def read(data: bytes) -> Reading:
    """Parse and expand like the reference (cached: treat the tree as read-only), each text on
    its own: icalendar keeps the VTIMEZONEs of every calendar it parsed in a process-wide cache
    by TZID, so a TZID a text does not define would resolve to another file's zone
    (``"Western/Central Europe"`` of one corpus file made another file's floating times
    zoned, depending on which was read first); the cache is emptied first. Raises Unreadable
    for what it refuses."""
    icalendar.use_zoneinfo()  # the default provider, with an empty cache of parsed zones
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = icalendar.Calendar.from_ical(data)
            found = occurrences(cal)  # expansion errors count as unreadable too
    except Exception as exc:
        raise Unreadable(f"{type(exc).__name__}: {str(exc)[:160]}") from None
    return Reading(cal, tuple(found))


def load(data: bytes) -> icalendar.cal.Component:
    """The parsed tree of :func:`read` (shared: do not modify it)."""
    return read(data).calendar


def _earliest(cal: icalendar.cal.Component) -> dt.datetime:
    """Where to start expanding: nothing occurs before the earliest DTSTART, RDATE or
    RECURRENCE-ID in the file (a day of margin for zones), and never before 1900. Starting
    there instead of at 1900 gives the same occurrences without walking empty years."""
    found: list[dt.datetime] = []
    for c in cal.walk():
        for name in ("DTSTART", "RDATE", "RECURRENCE-ID"):
            for value in c.get(name, []) if isinstance(c.get(name), list) else [c.get(name)]:
                for entry in getattr(value, "dts", [value]):
                    raw = getattr(entry, "dt", None)
                    raw = raw[0] if isinstance(raw, tuple) else raw
                    if isinstance(raw, dt.datetime):
                        found.append(raw.replace(tzinfo=None))
                    elif isinstance(raw, dt.date):
                        found.append(dt.datetime(raw.year, raw.month, raw.day))
    start = min(found, default=FROM) - dt.timedelta(days=2)
    return max(start, FROM)


def moment(value: object) -> str:
    """A time as compared: a UTC instant (``Z``), a date (``D:``) or a floating time (``F:``)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return "F:" + value.isoformat()
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return "D:" + value.isoformat()
    return str(value)


def start_as_read(c: icalendar.cal.Component) -> object:
    """The DTSTART of ``c`` as the reference expands it (``""`` without one): a floating
    start beside EXDATEs or RDATEs in a zone is a time in that zone (recurring-ical-events
    takes the first zone among them)."""
    start = getattr(c.get("DTSTART"), "dt", "")
    if not isinstance(start, dt.datetime) or start.tzinfo is not None:
        return start
    for name in ("EXDATE", "RDATE"):
        values = c.get(name)
        for value in values if isinstance(values, list) else [values] if values else []:
            for entry in getattr(value, "dts", []):
                raw = entry.dt[0] if isinstance(entry.dt, tuple) else entry.dt
                if isinstance(raw, dt.datetime) and raw.tzinfo is not None:
                    return start.replace(tzinfo=raw.tzinfo)
    return start


def occurrences(cal: icalendar.Calendar, uids: Iterable[str] | None = None) -> list[Occurrence]:
    """The first occurrences from 1900 (of ``uids`` only, if given), sorted."""
    wanted = set(uids) if uids is not None else None
    out: list[Occurrence] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stream = recurring_ical_events.of(cal).after(_earliest(cal))
        for event in itertools.islice(stream, MAX_OCCURRENCES * 4):
            uid = str(event.get("UID", ""))
            if wanted is not None and uid not in wanted:
                continue
            start, end = event.get("DTSTART"), event.get("DTEND")
            begin = start.dt if start is not None else None
            finish = end.dt if end is not None else begin
            duration = _seconds(begin, finish)
            out.append((uid, moment(begin), duration, str(event.get("SUMMARY", ""))))
            if len(out) >= MAX_OCCURRENCES:
                break
    return sorted(out)


def _seconds(begin: object, finish: object) -> float:
    try:
        return (finish - begin).total_seconds()  # type: ignore[operator]
    except TypeError:
        return float("nan")


def carried(cal: icalendar.cal.Component) -> list[icalendar.cal.Component]:
    """The items a calendar holds: its components but VTIMEZONE (a file that is one bare
    component, as some exports are, holds itself)."""
    if cal.name != "VCALENDAR":
        return [] if cal.name in _NOT_ITEMS else [cal]
    return [c for c in cal.subcomponents if c.name != "VTIMEZONE"]


def component_key(c: icalendar.cal.Component) -> tuple[str, str, str]:
    rid = c.get("RECURRENCE-ID")
    return (c.name, str(c.get("UID", "")), moment(rid.dt) if rid is not None else "")


def _param_items(params: Mapping[str, str], name: str) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value in params.items():
        key = key.upper()
        if key == "TZID" and name in _TIME_PROPS:
            continue  # the instant carries the zone's meaning
        if key == "VALUE" and (str(value).upper() == "DATE-TIME" or (
                str(value).upper() == "DATE" and name in _TIME_PROPS)):
            continue  # the default, or what the value's own form says (D: in its text)
        out.append((key, str(value)))
    return tuple(sorted(out))


def _value_text(name: str, value: object) -> str:
    if name in _TIME_PROPS:
        items = value if isinstance(value, list) else [value]
        moments = []
        for item in items:
            for entry in getattr(item, "dts", [item]):
                raw = getattr(entry, "dt", entry)
                moments.append(moment(raw[0] if isinstance(raw, tuple) else raw))
        return ",".join(sorted(moments))
    try:
        text = value.to_ical()  # type: ignore[attr-defined]
    except AttributeError:
        text = value
    return text.decode() if isinstance(text, bytes) else str(text)


def property_line(name: str, value: object) -> str:
    """One property as :func:`property_lines` writes it (normalized name, parameters, value)."""
    params = getattr(value, "params", {})
    param_text = "".join(f";{k}={v}" for k, v in _param_items(params, name))
    return f"{name}{param_text}:{_value_text(name, value)}"


def property_lines(c: icalendar.cal.Component) -> Counter[str]:
    """Every property of ``c`` and of its subcomponents (VALARM…), one normalized line each."""
    lines: Counter[str] = Counter()
    for name, value in c.property_items(recursive=False, sorted=False):
        name = name.upper()
        if name in ("BEGIN", "END") or name in _SKIP_PROPS:
            continue
        lines[property_line(name, value)] += 1
    for sub in c.subcomponents:
        for line, n in property_lines(sub).items():
            lines[f"{sub.name}/{line}"] += n
    return lines


@dataclass(frozen=True)
class PropertyDiff:
    """Lines the copy lacks and lines it added, by property name."""

    lost: tuple[str, ...]
    added: tuple[str, ...]

    def names(self) -> list[str]:
        def name(line: str) -> str:
            return line.split(":", 1)[0].split(";", 1)[0]
        return sorted({name(x) for x in self.lost} | {name(x) for x in self.added})


#: id(copy component) -> the source component key it was matched to (when its own differs:
#: an all-day occurrence's RECURRENCE-ID given as a date on one side, a midnight on the other)
Aliases = Mapping[int, tuple[str, str, str]]


def _key(c: icalendar.cal.Component, aliases: Aliases | None) -> str:
    return "|".join((aliases or {}).get(id(c)) or component_key(c))


def property_diff(source: list[icalendar.cal.Component],
                  copy: list[icalendar.cal.Component], aliases: Aliases | None = None) -> PropertyDiff:
    """How ``copy``'s components differ from ``source``'s, matched by (kind, UID, RECURRENCE-ID)."""
    src = Counter[str]()
    dst = Counter[str]()
    for c in source:
        for line, n in property_lines(c).items():
            src[_key(c, None) + "|" + line] += n
    for c in copy:
        for line, n in property_lines(c).items():
            dst[_key(c, aliases) + "|" + line] += n
    lost = tuple(sorted(strip_key(x) for x in (src - dst).elements()))
    added = tuple(sorted(strip_key(x) for x in (dst - src).elements()))
    return PropertyDiff(lost, added)


def strip_key(line: str) -> str:
    """A keyed line (``kind|uid|recurrence-id|property``) without its component key."""
    return line.split("|", 3)[3]


#: field lines that say what their absence says (RFC 5545 §3.8.1.3, §3.8.2.7, §3.8.1.9: the
#: default class and transparency, the undefined priority): one meaning, two spellings
_DEFAULT_LINES = frozenset({"CLASS:PUBLIC", "TRANSP:OPAQUE", "PRIORITY:0"})


def field_view(cs: list[icalendar.cal.Component], aliases: Aliases | None = None) -> Counter[str]:
    """The non-recurrence fields of VEVENTs (subset of :func:`property_lines`), a field stated
    as its RFC default counted as absent."""
    out: Counter[str] = Counter()
    for c in cs:
        if c.name != "VEVENT":
            continue
        key = _key(c, aliases)
        for line, n in property_lines(c).items():
            if line.split(":", 1)[0].split(";", 1)[0] in FIELDS and line not in _DEFAULT_LINES:
                out[f"{key}|{line}"] += n
    return out
