"""Normalized :class:`~cirahub.core.item.Item` → iCalendar text.

The output is a complete VCALENDAR that :func:`cirahub.core.ical.parse_item` reads back to an
equal item: a VTIMEZONE for every IANA zone used, the master VEVENT and then one VEVENT per
override (RECURRENCE-ID written like the series' DTSTART), all-day values as VALUE=DATE,
EXDATE/RDATE in the series' zone. DTSTAMP is the given stamp, else LAST-MODIFIED, else the
epoch, so the same item always gives the same text (no clock). SEQUENCE is not written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress, vRecur

from cirahub.core.errors import MalformedItem
from cirahub.core.ical_values import as_moment, key_moment
from cirahub.core.item import Item

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PRIORITY = {"high": 1, "low": 9}


def to_ics(item: Item, *, dtstamp: datetime | None = None, prodid: str = "-//cirahub//EN") -> str:
    """``item`` as a complete VCALENDAR text (CRLF line ends, folded lines).

    Raises MalformedItem when a field holds a value that is not in canonical form."""
    return serialize_calendar([item], dtstamp=dtstamp, prodid=prodid)


def serialize_calendar(
    items: Sequence[Item], *, dtstamp: datetime | None = None, prodid: str = "-//cirahub//EN"
) -> str:
    """Many items in one VCALENDAR (feeds, exports); VTIMEZONEs first, each zone once."""
    calendar = Calendar()
    calendar.add("PRODID", prodid)
    calendar.add("VERSION", "2.0")
    zones: set[str] = set()
    custom: dict[str, str] = {}
    events: list[Event] = []
    for item in items:
        try:
            events.extend(_events(item, dtstamp))
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedItem(f"item {item.uid!r} cannot be written: {exc}", uid=item.uid) from None
        zones.update(_zones(item, custom))
    first, last = _years(items)
    for name in sorted(zones):
        zone = _vtimezone(name, first, last)
        if zone is not None:
            calendar.add_component(zone)
    for name in sorted(custom):  # zones only a VTIMEZONE defines: that VTIMEZONE, as it was
        calendar.add_component(Timezone.from_ical(custom[name]))
    for event in events:
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data.decode("utf-8")


def _years(items: Sequence[Item]) -> tuple[int, int]:
    """Years the VTIMEZONEs must cover: 1970..2038 widened to every start/end written."""
    years = {1970, 2037}
    for item in items:
        for fields in (item.fields, *item.overrides.values()):
            for name in ("start", "end"):
                value = fields.get(name)
                if isinstance(value, Mapping) and value.get("utc"):
                    years.add(int(str(value["utc"])[:4]))
    return min(years), max(years) + 1


@cache
def _vtimezone(name: str, first: int, last: int) -> Timezone | None:
    """VTIMEZONE of an IANA zone for the years ``first``..``last`` (cached: building one
    walks the zone's transitions)."""
    try:
        return Timezone.from_tzid(name, first_date=date(first, 1, 1), last_date=date(last, 1, 1))
    except ValueError:
        return None  # an unknown zone was written as UTC by as_moment; no VTIMEZONE needed


def _zones(item: Item, custom: dict[str, str]) -> set[str]:
    """IANA zones ``item`` uses; zones defined by a VTIMEZONE go to ``custom``."""
    found: set[str] = set()
    for fields in (item.fields, *item.overrides.values()):
        for name in ("start", "end"):
            value = fields.get(name)
            if isinstance(value, Mapping) and value.get("vtimezone"):
                custom.setdefault(str(value["tz"]), str(value["vtimezone"]))
            elif isinstance(value, Mapping) and value.get("tz"):
                found.add(str(value["tz"]))
    return found


def _events(item: Item, dtstamp: datetime | None) -> list[Event]:
    series: Mapping[str, str] = item.fields.get("start") or {}
    out: list[Event] = []
    if item.fields:
        master = _event(item.uid, item.fields, dtstamp)
        _add_series(master, item.fields, series)
        out.append(master)
    for key in sorted(item.overrides):
        fields = item.overrides[key]
        event = _event(item.uid, fields, dtstamp)
        moment = key_moment(key, series or fields.get("start") or {})
        if fields.get("range") == "THISANDFUTURE":
            event.add("RECURRENCE-ID", moment, parameters={"RANGE": "THISANDFUTURE"})
        else:
            event.add("RECURRENCE-ID", moment)
        out.append(event)
    return out


def _stamp(fields: Mapping[str, Any], dtstamp: datetime | None) -> datetime:
    if dtstamp is not None:
        return dtstamp.replace(tzinfo=UTC) if dtstamp.tzinfo is None else dtstamp.astimezone(UTC)
    if fields.get("last_modified"):
        return _utc(fields["last_modified"])
    return _EPOCH


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _event(uid: str, fields: Mapping[str, Any], dtstamp: datetime | None) -> Event:
    event = Event()
    event.add("UID", uid)
    event.add("DTSTAMP", _stamp(fields, dtstamp))
    if "start" in fields:
        event.add("DTSTART", as_moment(fields["start"]))
    if "end" in fields:
        event.add("DTEND", as_moment(fields["end"]))
    for key, name in (("summary", "SUMMARY"), ("location", "LOCATION"),
                      ("description", "DESCRIPTION"), ("url", "URL")):
        if fields.get(key):
            event.add(name, str(fields[key]))
    for key, name in (("status", "STATUS"), ("transparency", "TRANSP"), ("privacy", "CLASS")):
        if fields.get(key):
            event.add(name, str(fields[key]))
    if fields.get("importance") in _PRIORITY:
        event.add("PRIORITY", _PRIORITY[fields["importance"]])
    if fields.get("categories"):
        event.add("CATEGORIES", [str(c) for c in fields["categories"]])
    if fields.get("organizer"):
        event.add("ORGANIZER", _address(str(fields["organizer"])))
    for attendee in fields.get("attendees") or ():
        event.add("ATTENDEE", _attendee(attendee))
    if fields.get("last_modified"):
        event.add("LAST-MODIFIED", _utc(fields["last_modified"]))
    for minutes in fields.get("alarms") or ():
        event.add_component(_alarm(int(minutes)))
    return event


def _add_series(event: Event, fields: Mapping[str, Any], series: Mapping[str, str]) -> None:
    if fields.get("rrule"):
        event.add("RRULE", vRecur.from_ical(str(fields["rrule"])))
    for key, name in (("exdates", "EXDATE"), ("rdates", "RDATE")):
        moments: list[date | datetime] = [key_moment(k, series) for k in fields.get(key) or ()]
        if moments:
            event.add(name, moments)


def _address(email: str) -> vCalAddress:
    return vCalAddress(email if ":" in email else f"mailto:{email}")


def _attendee(attendee: Mapping[str, str]) -> vCalAddress:
    address = _address(str(attendee["email"]))
    if attendee.get("name"):
        address.params["CN"] = str(attendee["name"])
    address.params["ROLE"] = str(attendee.get("role") or "REQ-PARTICIPANT")
    address.params["PARTSTAT"] = str(attendee.get("partstat") or "NEEDS-ACTION")
    return address


def _alarm(minutes_before: int) -> Alarm:
    alarm = Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("DESCRIPTION", "Reminder")
    alarm.add("TRIGGER", timedelta(minutes=-minutes_before))
    return alarm
