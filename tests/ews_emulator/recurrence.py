"""Occurrence expansion of an EWS ``t:Recurrence`` (pattern + range) for the emulator.

Exchange expands a series in its start time zone; so does this: the master's Start is
converted to the ``StartTimeZone`` wall clock, the pattern is applied to local dates, and each
occurrence is converted back to UTC. Instance indexes (``OccurrenceItemId InstanceIndex``)
count every occurrence of the pattern, deleted ones included, 1-based.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from dateutil import rrule
from dateutil import tz as dateutil_tz
from dateutil.relativedelta import relativedelta
from exchangelib.winzone import MS_TIMEZONE_TO_IANA_MAP
from lxml import etree

from cirahub.core.timezones import resolve_tzid

from .xmlio import local, t

_DAYS = {
    "Monday": [rrule.MO], "Tuesday": [rrule.TU], "Wednesday": [rrule.WE],
    "Thursday": [rrule.TH], "Friday": [rrule.FR], "Saturday": [rrule.SA], "Sunday": [rrule.SU],
    "Day": [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR, rrule.SA, rrule.SU],
    "Weekday": [rrule.MO, rrule.TU, rrule.WE, rrule.TH, rrule.FR],
    "WeekendDay": [rrule.SA, rrule.SU],
}
_INDEX = {"First": 1, "Second": 2, "Third": 3, "Fourth": 4, "Last": -1}
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"]
_FREQ = {
    "DailyRecurrence": rrule.DAILY, "WeeklyRecurrence": rrule.WEEKLY,
    "AbsoluteMonthlyRecurrence": rrule.MONTHLY, "RelativeMonthlyRecurrence": rrule.MONTHLY,
    "AbsoluteYearlyRecurrence": rrule.YEARLY, "RelativeYearlyRecurrence": rrule.YEARLY,
}
#: hard cap so an endless series never loops forever
MAX_OCCURRENCES = 5000


class ZoneId(str):
    """An item's time-zone id, with the rules the item itself defines (Outlook's "Customized
    Time Zone": ``Periods``/``TransitionsGroups`` inside ``StartTimeZone``), if any."""

    rules: tzinfo | None = None


def rules_zone(el: etree._Element) -> tzinfo | None:
    """The zone an EWS time-zone element's own rules define: a standard and a daylight period
    and the two yearly transitions between them (what Outlook writes), else None."""
    bias = {p.get("Id"): _minutes(p.get("Bias")) for p in el.iter(t("Period"))}
    moves = []
    for tr in el.iter(t("RecurringDayTransition")):
        nth = int(_text(tr, "Occurrence") or 1)
        day = _DAYS[_text(tr, "DayOfWeek") or "Sunday"][0]
        moves.append((-bias[_text(tr, "To")], _minutes(_text(tr, "TimeOffset")), int(_text(tr, "Month") or 1),
                      day(-1) if nth == -1 else day(nth)))
    if len(moves) != 2:
        return None
    (dst, dst_at, dst_month, dst_day), (std, std_at, std_month, std_day) = sorted(moves, reverse=True)
    start = relativedelta(month=dst_month, day=31 if dst_day.n == -1 else 1, weekday=dst_day,
                          minutes=dst_at)
    # dateutil's end is on the standard-time wall clock; Exchange's on the daylight one
    end = relativedelta(month=std_month, day=31 if std_day.n == -1 else 1, weekday=std_day,
                        minutes=std_at - (dst - std))
    return dateutil_tz.tzrange("STD", std * 60, "DST", dst * 60, start=start, end=end)


def _minutes(text: str | None) -> int:
    """Minutes of an xs:duration such as ``-PT1H`` or ``PT2H30M``."""
    m = re.match(r"^(-)?PT?(?:(\d+)H)?(?:(\d+)M)?", text or "")
    if m is None:
        return 0
    value = int(m.group(2) or 0) * 60 + int(m.group(3) or 0)
    return -value if m.group(1) else value


def zone(windows_id: str | None) -> tzinfo:
    """The zone for a time zone id as Exchange knows it: the item's own rules (a
    :class:`ZoneId` carrying them), a Windows id, or a Windows display name such as
    ``(UTC+01:00) Amsterdam, Berlin, ...`` (UTC when unknown)."""
    rules = getattr(windows_id, "rules", None)
    if rules is not None:
        return rules
    if windows_id:
        iana = MS_TIMEZONE_TO_IANA_MAP.get(windows_id) or resolve_tzid(windows_id)
        if iana:
            return ZoneInfo(iana)
    return ZoneInfo("UTC")


def _text(parent: etree._Element, name: str) -> str | None:
    el = parent.find(t(name))
    return None if el is None or el.text is None else el.text.strip()


def _weekdays(text: str | None, nth: int | None = None) -> list[rrule.weekday]:
    days: list[rrule.weekday] = []
    for word in (text or "").split():
        days.extend(_DAYS.get(word, []))
    return [d(nth) for d in days] if nth else days


def _rule_kwargs(pattern: etree._Element) -> dict[str, object]:
    name = local(pattern.tag)
    kw: dict[str, object] = {"freq": _FREQ[name], "interval": int(_text(pattern, "Interval") or 1)}
    nth = _INDEX.get(_text(pattern, "DayOfWeekIndex") or "")
    if name == "WeeklyRecurrence":
        kw["byweekday"] = _weekdays(_text(pattern, "DaysOfWeek"))
        first = _text(pattern, "FirstDayOfWeek")
        if first in _DAYS:
            kw["wkst"] = _DAYS[first][0]
    elif name in ("AbsoluteMonthlyRecurrence", "AbsoluteYearlyRecurrence"):
        kw["bymonthday"] = int(_text(pattern, "DayOfMonth") or 1)
    elif name in ("RelativeMonthlyRecurrence", "RelativeYearlyRecurrence"):
        days = _weekdays(_text(pattern, "DaysOfWeek"))
        if len(days) == 1:
            kw["byweekday"] = [days[0](nth or 1)]
        else:  # "Weekday" + "First" etc.: the nth of the set
            kw["byweekday"], kw["bysetpos"] = days, nth or 1
    if name in ("AbsoluteYearlyRecurrence", "RelativeYearlyRecurrence"):
        kw["bymonth"] = _MONTHS.index(_text(pattern, "Month") or "January") + 1
    return kw


def _date(text: str) -> date:
    return date.fromisoformat(text.strip()[:10])


def occurrence_starts(
    recurrence: etree._Element, start: datetime, tz_id: str | None, until: datetime | None = None
) -> Iterator[datetime]:
    """UTC starts of every occurrence of the series in pattern order (bounded by ``until``,
    the range's end and :data:`MAX_OCCURRENCES`)."""
    pattern = next(c for c in recurrence if local(c.tag) in _FREQ)
    boundary = next(c for c in recurrence if local(c.tag).endswith("Recurrence") and c is not pattern)
    tz = zone(tz_id)
    local_start = start.astimezone(tz)
    first_day = _date(_text(boundary, "StartDate") or local_start.date().isoformat())
    dtstart = datetime.combine(first_day, local_start.time().replace(tzinfo=None))
    kw = _rule_kwargs(pattern)
    if local(boundary.tag) == "NumberedRecurrence":
        kw["count"] = int(_text(boundary, "NumberOfOccurrences") or 1)
    elif local(boundary.tag) == "EndDateRecurrence":
        kw["until"] = datetime.combine(_date(_text(boundary, "EndDate") or ""), datetime.max.time())
    for n, naive in enumerate(rrule.rrule(dtstart=dtstart, cache=False, **kw)):  # type: ignore[arg-type]
        value = naive.replace(tzinfo=tz).astimezone(UTC)
        if n >= MAX_OCCURRENCES or (until is not None and value >= until):
            return
        yield value


def nth_start(recurrence: etree._Element, start: datetime, tz_id: str | None, index: int) -> datetime | None:
    """UTC start of occurrence number ``index`` (1-based), or None when out of range."""
    for n, value in enumerate(occurrence_starts(recurrence, start, tz_id), start=1):
        if n == index:
            return value
    return None


def index_of(recurrence: etree._Element, start: datetime, tz_id: str | None, original: datetime) -> int | None:
    """1-based instance index of the occurrence originally starting at ``original``."""
    for n, value in enumerate(occurrence_starts(recurrence, start, tz_id, until=original + timedelta(seconds=1)), start=1):
        if value == original:
            return n
    return None
