"""Outlook's "Customized Time Zone" (and any zone id Exchange sends with its own rules).

An item created in Outlook with a zone the registry does not name comes back with
``StartTimeZone Id="Customized Time Zone"`` and the zone's rules inside it (``Periods``,
``TransitionsGroups``, ``Transitions``: EWS ``TimeZoneDefinitionType``). exchangelib only reads
the id, finds no such Windows zone and gives None, so the series would be read in UTC with its
local rule (every occurrence an hour off across DST). :func:`install` makes exchangelib's
time-zone field read those rules: they are written as a VTIMEZONE and matched to the IANA zone
with the same offsets and transitions (:func:`cirahub.core.zone_rules.match_iana`), the same
matching the iCalendar reader uses. Rules no IANA zone has are read as before (None: UTC).
"""

from __future__ import annotations

import re
import warnings
from datetime import timedelta
from typing import Any

from exchangelib import EWSTimeZone
from exchangelib.fields import TimeZoneField
from exchangelib.items import CalendarItem

from cirahub.core.zone_rules import match_iana, vtimezone_zone

_T = "{http://schemas.microsoft.com/exchange/services/2006/types}"
_DAYS = {"Sunday": "SU", "Monday": "MO", "Tuesday": "TU", "Wednesday": "WE", "Thursday": "TH",
         "Friday": "FR", "Saturday": "SA"}
#: years matched from (an item's own start year is not at hand in a field reader)
_MATCH_FROM = 2010
_DURATION = re.compile(r"^(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _duration(text: str | None) -> timedelta | None:
    m = _DURATION.match((text or "").strip())
    if m is None:
        return None
    sign, d, h, mi, s = m.groups()
    value = timedelta(days=int(d or 0), hours=int(h or 0), minutes=int(mi or 0), seconds=int(s or 0))
    return -value if sign else value


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


def vtimezone_of(el: Any) -> str | None:
    """The VTIMEZONE text of an EWS time-zone element's rules (its newest transitions group),
    or None when it holds none that can be read."""
    offsets: dict[str, timedelta] = {}
    for period in el.iter(f"{_T}Period"):
        bias = _duration(period.get("Bias"))
        if bias is not None and period.get("Id"):
            offsets[period.get("Id")] = -bias  # Bias is UTC minus local time
    groups = {g.get("Id"): g for g in el.iter(f"{_T}TransitionsGroup")}
    used = [t.findtext(f"{_T}To") for t in el.iter(f"{_T}Transition")
            if t.find(f"{_T}To") is not None and t.find(f"{_T}To").get("Kind") == "Group"]
    group = groups.get(used[-1] if used else next(iter(groups), None))
    if group is None or not offsets:
        return None
    rules = []
    for tr in group.iter(f"{_T}RecurringDayTransition"):
        to = offsets.get(tr.findtext(f"{_T}To") or "")
        at = _duration(tr.findtext(f"{_T}TimeOffset"))
        day = _DAYS.get(tr.findtext(f"{_T}DayOfWeek") or "")
        month, nth = tr.findtext(f"{_T}Month"), tr.findtext(f"{_T}Occurrence")
        if to is None or at is None or day is None or not month or not nth:
            return None
        rules.append((to, at, f"FREQ=YEARLY;BYMONTH={int(month)};BYDAY={int(nth)}{day}"))
    blocks: list[tuple[timedelta, timedelta, timedelta, str | None]]
    if len(rules) == 2:
        (a_to, a_at, a_rule), (b_to, b_at, b_rule) = rules
        blocks = [(a_to, b_to, a_at, a_rule), (b_to, a_to, b_at, b_rule)]
    elif not rules:  # one period all year
        to = offsets.get(group.findtext(f"{_T}Transition/{_T}To") or "")
        if to is None:
            return None
        blocks = [(to, to, timedelta(0), None)]
    else:
        return None
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//cirahub//EN", "BEGIN:VTIMEZONE",
             f"TZID:{el.get('Id') or 'Customized Time Zone'}"]
    for to, frm, at, rule in blocks:
        kind = "DAYLIGHT" if to > frm else "STANDARD"
        hours, rest = divmod(int(at.total_seconds()), 3600)
        lines += [f"BEGIN:{kind}", f"DTSTART:16010101T{hours:02d}{rest // 60:02d}00",
                  *([f"RRULE:{rule}"] if rule else []),
                  f"TZOFFSETFROM:{_offset_text(frm)}", f"TZOFFSETTO:{_offset_text(to)}", f"END:{kind}"]
    return "\r\n".join([*lines, "END:VTIMEZONE", "END:VCALENDAR", ""])


def zone_of_rules(el: Any) -> EWSTimeZone | None:
    """The exchangelib zone of the IANA zone an EWS time-zone element's rules match."""
    text = vtimezone_of(el)
    zone = vtimezone_zone(text) if text else None
    iana = match_iana(zone, _MATCH_FROM) if zone is not None else None
    return EWSTimeZone(iana) if iana else None


class RulesTimeZoneField(TimeZoneField):
    """exchangelib's time-zone field, reading a zone it cannot name by its rules."""

    def from_xml(self, elem: Any, account: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # exchangelib's "unknown timezone ID" advice
            value = super().from_xml(elem, account)
        if value is not None:
            return value
        field_elem = elem.find(self.response_tag())
        return zone_of_rules(field_elem) if field_elem is not None else None


def install() -> None:
    """Read CalendarItem's start and end zones through :class:`RulesTimeZoneField` (idempotent)."""
    for f in CalendarItem.FIELDS:
        if f.name in ("_start_timezone", "_end_timezone") and type(f) is TimeZoneField:
            f.__class__ = RulesTimeZoneField
