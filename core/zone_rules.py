"""Zones defined by a VTIMEZONE: exact rules for any date, and matching them to IANA zones.

A VTIMEZONE whose TZID names no zone we know (``Customized Time Zone``, ``tzone://Microsoft/
Custom``...) still defines exact rules. :func:`vtimezone_zone` turns its text into a
:class:`VTimezoneInfo`, a ``tzinfo`` that evaluates the observances' RRULE/RDATE onsets for
*any* year (icalendar's own converter stops at 2038), so a series in such a zone expands to
the same instants as every careful reader sees. :func:`match_iana` finds the IANA zone with
the same UTC offsets and transitions over a span of years, so a series keeps a real zone
whenever one exists. Pure: no I/O, no clock.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, available_timezones

from dateutil.rrule import rrulestr
from icalendar import Calendar, Component

#: onsets are generated up to this year at most (bounded work for any input)
_LAST_YEAR = 9999
#: a VTIMEZONE text larger than this is not evaluated (bounded work)
MAX_VTIMEZONE_CHARS = 64_000
#: years compared when matching a VTIMEZONE to an IANA zone
MATCH_YEARS = 15


@dataclass(frozen=True)
class _Observance:
    """One STANDARD/DAYLIGHT block: from ``start`` (wall clock in ``offset_from``) on, the
    offset is ``offset_to`` at every onset of its rule."""

    start: datetime
    offset_from: timedelta
    offset_to: timedelta
    is_dst: bool
    rule: str | None
    rdates: tuple[datetime, ...]
    name: str


class VTimezoneInfo(tzinfo):
    """A ``tzinfo`` following a VTIMEZONE's observances exactly, for any year.

    A wall-clock time inside a gap or an overlap resolves like :mod:`zoneinfo` (``fold=0``
    = the offset before the transition, ``fold=1`` = after)."""

    def __init__(self, tzid: str, observances: Sequence[_Observance]) -> None:
        self.tzid = tzid
        self.zone = tzid  # what icalendar writes as the TZID of a value in this zone
        self.observances = tuple(sorted(observances, key=lambda o: o.start))
        self._until = 0  # onsets generated through this year
        self._offsets: list[timedelta] = []  # offset after each onset, in onset order
        self._utc: list[datetime] = []  # onset instants (naive UTC)
        self._walls: tuple[list[datetime], list[datetime]] = ([], [])  # thresholds per fold
        self._dst: list[bool] = []
        self._names: list[str] = []

    def __repr__(self) -> str:
        return f"VTimezoneInfo({self.tzid!r})"

    def _extend(self, year: int) -> None:
        if year <= self._until:
            return
        year = min(max(year + 1, self._until + 50), _LAST_YEAR)
        stop = datetime(year, 12, 31, 23, 59)
        onsets = sorted({(m, i) for i, o in enumerate(self.observances) for m in _onsets(o, stop)})
        self._offsets, self._utc, self._dst, self._names = [], [], [], []
        walls: tuple[list[datetime], list[datetime]] = ([], [])
        for onset, index in onsets:
            obs = self.observances[index]
            jump = obs.offset_to - obs.offset_from
            self._offsets.append(obs.offset_to)
            self._utc.append(onset - obs.offset_from)
            self._dst.append(obs.is_dst)
            self._names.append(obs.name)
            # gap (jump > 0) / overlap (jump < 0): fold 0 keeps the earlier offset
            for fold in (0, 1):
                walls[fold].append(onset + jump if (jump > timedelta(0)) != bool(fold) else onset)
        self._walls = walls
        self._until = year

    def _index_wall(self, dt: datetime) -> int:
        wall = dt.replace(tzinfo=None)
        self._extend(wall.year)
        return bisect.bisect_right(self._walls[1 if dt.fold else 0], wall) - 1

    def _index_utc(self, moment: datetime) -> int:
        self._extend(moment.year + 1)
        return bisect.bisect_right(self._utc, moment) - 1

    def onsets_utc(self) -> list[datetime]:
        """The transition instants generated so far (naive UTC, sorted)."""
        return list(self._utc)

    def _first_offset(self) -> timedelta:
        return self.observances[0].offset_from if self.observances else timedelta(0)

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return self._first_offset()
        pos = self._index_wall(dt)
        return self._offsets[pos] if pos >= 0 else self._first_offset()

    def dst(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(0)
        pos = self._index_wall(dt)
        if pos < 0 or not self._dst[pos]:
            return timedelta(0)
        standard = [o.offset_to for o in self.observances if not o.is_dst]
        return self._offsets[pos] - (standard[0] if standard else self._first_offset())

    def tzname(self, dt: datetime | None) -> str:
        if dt is None:
            return self.tzid
        pos = self._index_wall(dt)
        return (self._names[pos] or self.tzid) if pos >= 0 else self.tzid

    def fromutc(self, dt: datetime) -> datetime:
        moment = dt.replace(tzinfo=None)
        pos = self._index_utc(moment)
        offset = self._offsets[pos] if pos >= 0 else self._first_offset()
        local = (moment + offset).replace(tzinfo=self)
        # fold=1 marks the second pass through an overlap, as zoneinfo does
        if local.utcoffset() != offset:
            local = local.replace(fold=1)
        return local


def _onsets(obs: _Observance, stop: datetime) -> Iterable[datetime]:
    yield obs.start
    yield from (d for d in obs.rdates if d <= stop)
    if obs.rule:
        try:
            rule = rrulestr(_local_until(obs.rule, obs.offset_from), dtstart=obs.start)
        except (ValueError, TypeError):
            return
        for moment in rule.xafter(obs.start, inc=False):
            if moment > stop:
                break
            yield moment


_UNTIL = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.I)


def _local_until(rule: str, offset: timedelta) -> str:
    """The rule with a UTC UNTIL (as RFC 5545 requires in a VTIMEZONE) turned into the
    observance's wall clock, which its naive DTSTART counts in."""
    match = _UNTIL.search(rule)
    if match is None:
        return rule
    local = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S") + offset
    return rule[: match.start()] + "UNTIL=" + local.strftime("%Y%m%dT%H%M%S") + rule[match.end():]


def _observances(component: Component) -> list[_Observance]:
    out: list[_Observance] = []
    for sub in component.subcomponents:
        if sub.name not in ("STANDARD", "DAYLIGHT"):
            continue
        start = sub.get("DTSTART")
        offset_from, offset_to = sub.get("TZOFFSETFROM"), sub.get("TZOFFSETTO")
        if start is None or offset_to is None or not isinstance(start.dt, datetime):
            continue
        to = offset_to.td
        frm = offset_from.td if offset_from is not None else to
        rule = sub.get("RRULE")
        if isinstance(rule, list):
            rule = rule[0] if rule else None
        rdates: list[datetime] = []
        values = sub.get("RDATE")
        for prop in values if isinstance(values, list) else [values] if values else []:
            rdates.extend(
                e.dt.replace(tzinfo=None) for e in getattr(prop, "dts", [])
                if isinstance(e.dt, datetime)
            )
        out.append(_Observance(
            start.dt.replace(tzinfo=None), frm, to, sub.name == "DAYLIGHT",
            rule.to_ical().decode() if rule is not None else None, tuple(sorted(rdates)),
            str(sub.get("TZNAME") or ""),
        ))
    return out


def _component(text: str) -> Component | None:
    if len(text) > MAX_VTIMEZONE_CHARS:
        return None
    try:
        calendar = Calendar.from_ical(
            text if text.lstrip().upper().startswith("BEGIN:VCALENDAR")
            else f"BEGIN:VCALENDAR\r\n{text.strip()}\r\nEND:VCALENDAR\r\n"
        )
    except Exception:  # icalendar fails in many ways on broken text
        return None
    zones = calendar.walk("VTIMEZONE")
    return zones[0] if zones else None


@lru_cache(maxsize=256)
def vtimezone_zone(text: str) -> VTimezoneInfo | None:
    """The zone a VTIMEZONE text defines; None when it defines no usable observance."""
    component = _component(text)
    if component is None:
        return None
    observances = _observances(component)
    if not observances:
        return None
    return VTimezoneInfo(str(component.get("TZID", "")), observances)


@lru_cache(maxsize=256)
def rules_digest(text: str) -> str:
    """A digest of what a VTIMEZONE *means* (observance starts, offsets, rules, dates),
    blind to line folding, property order, TZNAME and X- properties: fingerprints use it so
    a server re-serializing the VTIMEZONE is no change."""
    zone = vtimezone_zone(text)
    if zone is None:
        return hashlib.sha256(text.encode()).hexdigest()[:16]
    data = [
        [o.start.isoformat(), o.offset_from.total_seconds(), o.offset_to.total_seconds(),
         o.is_dst, o.rule, [d.isoformat() for d in o.rdates]]
        for o in zone.observances
    ]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16]


# --- matching ----------------------------------------------------------------------------------


#: zones tried first when several match (the ones most calendars are written in)
_COMMON = (
    "Europe/Berlin", "Europe/London", "Europe/Paris", "America/New_York", "America/Chicago",
    "America/Denver", "America/Los_Angeles", "America/Phoenix", "Asia/Tokyo",
    "Asia/Shanghai", "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo",
)


@cache
def _preferred_zones() -> tuple[str, ...]:
    """Common zones, then CLDR's "001" zones (what a Windows zone maps to), then every other
    zone."""
    from cirahub.core.timezones import preferred_iana_zones

    first = tuple(dict.fromkeys((*_COMMON, *preferred_iana_zones())))
    rest = sorted(
        z for z in available_timezones()
        if z not in first and "/" in z and not z.startswith(("Etc/", "SystemV/"))
    )
    return (*first, *rest, *sorted(z for z in available_timezones() if z.startswith("Etc/")))


def _samples(first_year: int) -> list[datetime]:
    """Noon UTC of every day of the span (a transition between two samples is found by the
    exact checks around each of the VTIMEZONE's own transitions)."""
    start = datetime(first_year, 1, 1, 12)
    return [start + timedelta(days=n) for n in range(0, 365 * MATCH_YEARS, 1)]


def _transitions(zone: VTimezoneInfo, first_year: int) -> list[datetime]:
    zone.utcoffset(datetime(first_year + MATCH_YEARS, 12, 31))  # generate the onsets
    first, last = datetime(first_year, 1, 1), datetime(first_year + MATCH_YEARS, 1, 1)
    return [at for at in zone.onsets_utc() if first <= at < last]


def _offset(zone: tzinfo, moment: datetime) -> timedelta | None:
    return moment.replace(tzinfo=UTC).astimezone(zone).utcoffset()


def match_iana(zone: VTimezoneInfo, first_year: int, hints: Sequence[str] = ()) -> str | None:
    """The IANA zone whose UTC offsets equal ``zone``'s at every moment of the
    :data:`MATCH_YEARS` years from ``first_year`` (daily samples plus one minute before and
    after each of ``zone``'s transitions); ``hints`` (zone names from the TZID or
    X-LIC-LOCATION) are tried first, then CLDR's preferred zones. None when none matches."""
    first_year = max(1900, min(first_year, 2100))
    samples = _samples(first_year)
    for at in _transitions(zone, first_year):
        samples += [at - timedelta(minutes=1), at + timedelta(minutes=1)]
    want = [_offset(zone, s) for s in samples]
    probe = (samples[14], samples[195])  # mid-January, mid-July of the first year
    probe_want = (want[14], want[195])
    for name in (*hints, *_preferred_zones()):
        try:
            candidate = ZoneInfo(name)
        except (ValueError, OSError, KeyError):
            continue
        if tuple(_offset(candidate, p) for p in probe) != probe_want:
            continue
        if all(_offset(candidate, s) == w for s, w in zip(samples, want, strict=True)):
            return name
    return None


# --- resolution inside one iCalendar text ------------------------------------------------------


@dataclass(frozen=True)
class ResolvedZone:
    """What a TZID means: an IANA zone (``vtimezone`` None), or a zone only its VTIMEZONE
    defines (``tz`` is then the TZID and ``vtimezone`` that VTIMEZONE's text)."""

    tz: str
    vtimezone: str | None = None

    def info(self) -> tzinfo:
        if self.vtimezone is not None:
            zone = vtimezone_zone(self.vtimezone)
            return zone if zone is not None else UTC
        return ZoneInfo(self.tz)


class ZoneContext:
    """Resolves the TZIDs of one iCalendar text, each once: by name (IANA, Windows, vendor
    prefixes, aliases), then through its VTIMEZONE (X-LIC-LOCATION, then its rules matched
    against IANA zones from ``first_year`` on), else the VTIMEZONE itself. A TZID with
    neither a known name nor a usable VTIMEZONE resolves to None (read as floating time, as
    the reference library reads it)."""

    def __init__(self, vtimezones: dict[str, Component], first_year: int) -> None:
        self._vtimezones = vtimezones
        self._first_year = first_year
        self._cache: dict[str, ResolvedZone | None] = {}

    def resolve(self, tzid: str) -> ResolvedZone | None:
        if tzid not in self._cache:
            self._cache[tzid] = self._resolve(tzid)
        return self._cache[tzid]

    def _resolve(self, tzid: str) -> ResolvedZone | None:
        from cirahub.core.timezones import resolve_tzid

        iana = resolve_tzid(tzid)
        if iana is not None:
            return ResolvedZone(iana)
        component = self._vtimezones.get(tzid)
        if component is None:
            return None
        text = component.to_ical().decode("utf-8")
        if vtimezone_zone(text) is None:
            return None
        hint = resolve_tzid(str(component.get("X-LIC-LOCATION", "")) or "-")
        matched = _matched(text, self._first_year, hint)
        return ResolvedZone(matched) if matched is not None else ResolvedZone(tzid, text)


@lru_cache(maxsize=1024)
def _matched(text: str, first_year: int, hint: str | None) -> str | None:
    """:func:`match_iana` of a VTIMEZONE text, cached: a folder of files exported by one
    program repeats the same VTIMEZONE in every file."""
    zone = vtimezone_zone(text)
    if zone is None:
        return None
    return match_iana(zone, first_year, (hint,) if hint else ())
