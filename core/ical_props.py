"""Canonical fields → iCalendar properties, one field at a time.

The writer (:mod:`cirahub.core.ical_write`) builds a fresh VEVENT from every field; the
patcher (:mod:`cirahub.core.ical_patch`) replaces only the properties of the fields that
changed. Both use :func:`add_field`, so a field is always written the same way, and
:data:`PROPERTIES` says which properties stand for which field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from icalendar import Alarm, Component, vCalAddress, vDDDLists, vRecur

from cirahub.core.ical_values import as_moment, key_moment
from cirahub.core.ical_verbatim import noted_status

_PRIORITY = {"high": 1, "low": 9}
_TEXT = {"summary": "SUMMARY", "location": "LOCATION", "description": "DESCRIPTION",
         "url": "URL", "status": "STATUS", "transparency": "TRANSP", "privacy": "CLASS"}

#: the properties that stand for each field (removed before the field is written again);
#: ``alarms`` is the VALARM subcomponents, handled by the callers
PROPERTIES: dict[str, tuple[str, ...]] = {
    **{name: (prop,) for name, prop in _TEXT.items()},
    "start": ("DTSTART",),
    "end": ("DTEND", "DURATION"),
    "importance": ("PRIORITY",),
    "categories": ("CATEGORIES",),
    "organizer": ("ORGANIZER",),
    "attendees": ("ATTENDEE",),
    "rrule": ("RRULE",),
    "more_rrules": (),  # written with "rrule", after it
    "exdates": ("EXDATE",),
    "rdates": ("RDATE",),
    "last_modified": ("LAST-MODIFIED",),
    "alarms": (),
    "range": (),
    "component": (),
    "content": (),
    "verbatim": (),  # carried by the source text itself
}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def add_field(
    event: Component, name: str, fields: Mapping[str, Any], series: Mapping[str, str]
) -> None:
    """Add the properties of field ``name`` of ``fields`` to ``event`` (nothing when the
    field is absent). ``series`` is the master's start (EXDATE/RDATE are written like it)."""
    value: Any = fields.get(name)
    if name == "status" and value is None:
        value = noted_status(fields)  # STATUS:CONFIRMED, which the field holds as none
    if value is None or value == "" or value == []:
        return
    if name in _TEXT:
        event.add(_TEXT[name], str(value))
    elif name in ("start", "end"):
        event.add("DTSTART" if name == "start" else "DTEND", as_moment(value))
    elif name == "importance":
        if value in _PRIORITY:
            event.add("PRIORITY", _PRIORITY[value])
    elif name == "categories":
        event.add("CATEGORIES", [str(c) for c in value])
    elif name == "organizer":
        event.add("ORGANIZER", address(str(value)))
    elif name == "attendees":
        for entry in value:
            event.add("ATTENDEE", attendee(entry))
    elif name == "rrule":
        for rule in [value, *(fields.get("more_rrules") or ())]:
            event.add("RRULE", vRecur.from_ical(str(rule)))
    elif name in ("exdates", "rdates"):
        moments: list[date | datetime] = [key_moment(k, series) for k in value]
        event.add("EXDATE" if name == "exdates" else "RDATE", moments)
    elif name == "last_modified":
        event.add("LAST-MODIFIED", utc(str(value)))
    elif name == "alarms":
        for minutes in value:
            event.add_component(alarm(int(minutes)))


def add_periods(event: Component, periods: Mapping[str, Mapping[str, Any]],
                series: Mapping[str, str]) -> None:
    """One ``RDATE;VALUE=PERIOD`` of ``periods`` (occurrence key → override with its
    ``start``/``end``), written like the series' DTSTART: in UTC, floating, or as local times
    with the series' TZID (icalendar writes a period's times without their zone: the
    parameters say it)."""
    if not periods:
        return
    moments = [(key_moment(key, series), as_moment(ov["end"])) for key, ov in periods.items()]
    first = moments[0][0]
    zone = getattr(first, "tzinfo", None)
    params = {"VALUE": "PERIOD"}
    if zone is not None and zone is not UTC and series.get("tz"):
        params["TZID"] = str(series["tz"])
        moments = [(start, end.astimezone(zone) if isinstance(end, datetime) else end)
                   for start, end in moments]
    elif zone is UTC:
        moments = [(start, end.astimezone(UTC) if isinstance(end, datetime) else end)
                   for start, end in moments]
    event.add("RDATE", vDDDLists(moments), parameters=params)


def address(email: str) -> vCalAddress:
    return vCalAddress(email if ":" in email else f"mailto:{email}")


def attendee(entry: Mapping[str, str], base: Any = None) -> vCalAddress:
    """An ATTENDEE for ``entry``; with ``base`` (the source's property for the same address)
    its other parameters (RSVP, CUTYPE, X-...) are kept."""
    prop = address(str(entry["email"]))
    if base is not None:
        for key, val in getattr(base, "params", {}).items():
            prop.params[key] = val
        prop.params.pop("CN", None)
    if entry.get("name"):
        prop.params["CN"] = str(entry["name"])
    prop.params["ROLE"] = str(entry.get("role") or "REQ-PARTICIPANT")
    prop.params["PARTSTAT"] = str(entry.get("partstat") or "NEEDS-ACTION")
    return prop


def alarm(minutes_before: int) -> Alarm:
    component = Alarm()
    component.add("ACTION", "DISPLAY")
    component.add("DESCRIPTION", "Reminder")
    component.add("TRIGGER", timedelta(minutes=-minutes_before))
    return component


def add_recurrence_id(event: Component, key: str, fields: Mapping[str, Any],
                      series: Mapping[str, str]) -> None:
    """RECURRENCE-ID of override ``key``, written like the series' DTSTART."""
    moment = key_moment(key, series or fields.get("start") or {})
    if fields.get("range") == "THISANDFUTURE":
        event.add("RECURRENCE-ID", moment, parameters={"RANGE": "THISANDFUTURE"})
    else:
        event.add("RECURRENCE-ID", moment)
