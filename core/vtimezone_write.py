"""VTIMEZONEs for IANA zones written the way the tz database's vzic and Outlook write them:
one observance per *rule* (``RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU``), not one RDATE per
year, and the rule in force at the end left open-ended, so the VTIMEZONE is valid for any
later date (icalendar's own ``Timezone.from_tzid`` lists every transition as an RDATE and
stops at the last year it was asked for).

How: every transition of the zone from the first year used to 2100 is found (daily samples,
then bisection to the second), transitions of the same kind (offsets, name, month, weekday,
wall-clock time) in consecutive years whose day follows one pattern (n-th / last weekday of
the month, a weekday within a fixed 7-day window, or a fixed day) become one observance with
an RRULE; irregular ones (Morocco's Ramadan changes, one-off changes) stay single
observances. Pure: reads only the zoneinfo database.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

#: the last year transitions are read for (zoneinfo extends today's rules this far); a rule
#: still followed then is the rule in force and is left open-ended
LAST_YEAR = 2100
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


@dataclass(frozen=True)
class _Transition:
    at: datetime  # UTC, naive
    before: timedelta
    after: timedelta
    dst: bool
    name: str

    @property
    def local(self) -> datetime:
        """The onset as RFC 5545 writes it: wall clock in the offset before."""
        return self.at + self.before

    def kind(self) -> tuple[object, ...]:
        local = self.local
        return (self.dst, self.before, self.after, self.name, local.month, local.weekday(),
                local.time())


def _offset(zone: ZoneInfo, at: datetime) -> timedelta:
    return at.replace(tzinfo=UTC).astimezone(zone).utcoffset() or timedelta(0)


def _transitions(zone: ZoneInfo, first_year: int) -> list[_Transition]:
    start, stop = datetime(first_year, 1, 1), datetime(LAST_YEAR + 1, 1, 1)
    out: list[_Transition] = []
    previous, moment = _offset(zone, start), start
    step = timedelta(days=1)
    while moment < stop:
        following = moment + step
        after = _offset(zone, following)
        if after != previous:
            lo, hi = moment, following  # the change happens in (lo, hi]
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                mid = mid.replace(microsecond=0)
                if _offset(zone, mid) == previous:
                    lo = mid
                else:
                    hi = mid
            aware = hi.replace(tzinfo=UTC).astimezone(zone)
            out.append(_Transition(hi, previous, after, bool(aware.dst()), aware.tzname() or ""))
            previous = after
        moment = following
    return out


def _pattern(days: list[datetime]) -> str | None:
    """The BYDAY/BYMONTHDAY part all these local onsets (same month and weekday) follow."""
    weekday = _DAYS[days[0].weekday()]
    last = [d.day + 7 > _calendar.monthrange(d.year, d.month)[1] for d in days]
    if all(last):
        return f"BYDAY=-1{weekday}"
    ordinals = {(d.day - 1) // 7 + 1 for d in days}
    if len(ordinals) == 1:
        return f"BYDAY={ordinals.pop()}{weekday}"
    low = min(d.day for d in days)
    shortest = _calendar.monthrange(2001, days[0].month)[1]  # (a year without Feb 29)
    if max(d.day for d in days) - low <= 6 and low + 6 <= shortest:
        window = ",".join(str(n) for n in range(low, low + 7))
        return f"BYMONTHDAY={window};BYDAY={weekday}"
    return None


def _segments(group: list[_Transition]) -> list[list[_Transition]]:
    """Maximal runs of consecutive years sharing one day pattern."""
    runs: list[list[_Transition]] = []
    for transition in group:
        run = runs[-1] if runs else None
        if (
            run is not None
            and transition.local.year == run[-1].local.year + 1
            and _pattern([t.local for t in (*run, transition)]) is not None
        ):
            run.append(transition)
        else:
            runs.append([transition])
    return runs


def _observance(run: list[_Transition], open_ended: bool) -> TimezoneStandard | TimezoneDaylight:
    first = run[0]
    sub = TimezoneDaylight() if first.dst else TimezoneStandard()
    sub.add("TZNAME", first.name)
    sub.add("TZOFFSETFROM", first.before)
    sub.add("TZOFFSETTO", first.after)
    sub.add("DTSTART", first.local)
    if len(run) > 1 or open_ended:
        rule = f"FREQ=YEARLY;BYMONTH={first.local.month};{_pattern([t.local for t in run])}"
        if not open_ended:
            # UNTIL is UTC (RFC 5545), but dateutil's reader (icalendar's, for VTIMEZONEs it
            # does not know by name) compares it with the wall clock: a value at or after the
            # last onset in *both* readings (hours before the next year's) suits both
            last = run[-1]
            until = last.at + max(last.before, timedelta(0))
            rule += f";UNTIL={until.strftime('%Y%m%dT%H%M%SZ')}"
        sub.add("RRULE", vRecur.from_ical(rule))
    return sub


@lru_cache(maxsize=128)
def rrule_vtimezone(name: str, first_year: int = 1970) -> Timezone | None:
    """The VTIMEZONE of IANA zone ``name`` from ``first_year`` on, valid for any later date;
    None when zoneinfo does not know the zone. The result is shared: copy before changing."""
    try:
        zone = ZoneInfo(name)
    except (ValueError, OSError, KeyError):
        return None
    first_year = max(1900, min(first_year, LAST_YEAR))
    transitions = _transitions(zone, first_year)
    vtimezone = Timezone()
    vtimezone.add("TZID", name)
    # the offset in force at the start, as an observance of its own (as vzic writes it):
    # readers disagree on what holds before the first onset otherwise
    begin = datetime(first_year, 1, 1)
    offset = _offset(zone, begin)
    aware = begin.replace(tzinfo=UTC).astimezone(zone)
    sub = TimezoneDaylight() if aware.dst() else TimezoneStandard()
    sub.add("TZNAME", aware.tzname() or name)
    sub.add("TZOFFSETFROM", offset)
    sub.add("TZOFFSETTO", offset)
    sub.add("DTSTART", begin)
    vtimezone.add_component(sub)
    if not transitions:
        return vtimezone
    groups: dict[tuple[object, ...], list[_Transition]] = {}
    for transition in transitions:
        groups.setdefault(transition.kind(), []).append(transition)
    observances = []
    for group in groups.values():
        for run in _segments(group):
            # a rule still followed in the last year read is the rule in force: open-ended
            open_ended = run[-1].local.year == LAST_YEAR and len(run) > 1
            observances.append((run[0].at, _observance(run, open_ended)))
    for _, sub in sorted(observances, key=lambda pair: pair[0]):
        vtimezone.add_component(sub)
    return vtimezone
