"""What an item's iCalendar source says that its Exchange copy cannot give back, declared.

The hub's fields (:mod:`cirahub.core.item`) hold an event's meaning; between iCalendar spokes
the rest travels verbatim in the item's ``source``. Exchange holds the fields only, so a hub
reading the item back from Exchange has what the fields say and nothing more. What the source
says beyond them is declared here, one note per kind, so no difference is silent:

- older copies under the item's UID (a master or an occurrence given twice, the lower SEQUENCE
  superseded, as every reader keeps the newest), and an occurrence left from an older version
  of the series (readers skip it): one Exchange item holds one version;
- a second RRULE (or an EXRULE): one Exchange pattern per series;
- an all-day event of no length (DTEND on its start day): Exchange's all-day events last whole
  days;
- RDATE periods of their own length: each occurrence lasts as long as the series;
- a RECURRENCE-ID given as a time in an all-day series: written back as the date;
- values held as their meaning: white space around a text, empty texts and empty CLASS, STATUS
  or TRANSP values, STATUS:CONFIRMED
  (Exchange's Busy is also "no status"), PRIORITY levels other than 1 and 9 (Exchange holds
  high, normal and low), CATEGORIES sorted and once each, parameters of the texts and
  attendees Exchange has no place for (LANGUAGE, ALTREP, RSVP, CUTYPE...), an attendee's
  address not given as ``mailto:`` in lower case. CLASS:PUBLIC,
  TRANSP:OPAQUE and PRIORITY:0 say what their absence says (RFC 5545): nothing is lost.

Pure: reads the source text only.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import icalendar

from cirahub.core.item import Item

from .components import source_calendar

_TEXTS = ("SUMMARY", "LOCATION", "DESCRIPTION")
#: values the fields hold as absent although iCalendar gives them a meaning of their own
#: (CLASS:PUBLIC, TRANSP:OPAQUE and PRIORITY:0 are what their absence means: nothing to say)
_DEFAULTS = {"STATUS": "CONFIRMED"}
#: properties of one value the fields hold as their meaning (an empty one means nothing)
_VALUES = ("CLASS", "STATUS", "TRANSP")
#: attendee parameters Exchange holds (name, required/optional, response)
_ATTENDEE_HELD = frozenset({"CN", "ROLE", "PARTSTAT"})
_ROLES_HELD = frozenset({"REQ-PARTICIPANT", "OPT-PARTICIPANT"})


def note_source(item: Item, notes: list[str]) -> None:
    """Append the declarations of the module docstring for ``item``'s source (none without)."""
    events = _events(item)
    if not events:
        return
    kept = _kept(events, notes)
    _stale(kept, item, notes)
    all_day = any(_is_date(e.get("DTSTART")) for e in kept if "RECURRENCE-ID" not in e)
    held = _texts(item)
    found: list[str] = []
    for event in kept:
        _recurrence(event, all_day, found, item)
        _values(event, found, held)
    notes.extend(sorted(set(found)))


def _texts(item: Item) -> set[str]:
    """Every text the item's fields hold (what they hold comes back: nothing to declare)."""
    out: set[str] = set()
    for fields in (item.fields, *item.overrides.values()):
        out.update(str(fields[k]) for k in ("summary", "location", "description") if k in fields)
    return out


def _events(item: Item) -> list[icalendar.cal.Component]:
    if not item.source or item.fields.get("component"):
        return []
    cal = source_calendar(item.source)
    if cal is None:
        return []
    return [c for c in cal.walk("VEVENT") if str(c.get("UID", item.uid)) == item.uid
            or "UID" not in c]


def _sequence(event: icalendar.cal.Component) -> int:
    try:
        return int(str(event.get("SEQUENCE", 0)))
    except ValueError:
        return 0


def _kept(events: list[icalendar.cal.Component], notes: list[str]) -> list[icalendar.cal.Component]:
    """The components a reader keeps (the newest of each RECURRENCE-ID); the others declared."""
    groups: dict[str, list[icalendar.cal.Component]] = {}
    for event in events:
        rid = event.get("RECURRENCE-ID")
        groups.setdefault(str(getattr(rid, "dt", "")) if rid is not None else "", []).append(event)
    kept = [max(reversed(copies), key=_sequence) for copies in groups.values()]
    extra = len(events) - len(kept)
    if extra:
        notes.append(f"VEVENT: {extra} older or repeated copies under this UID (superseded by the "
                     "newest SEQUENCE): not written (one Exchange item holds one version; carried "
                     "between iCalendar spokes only)")
    return kept


def _stale(kept: list[icalendar.cal.Component], item: Item, notes: list[str]) -> None:
    """Declare the overridden occurrences with an RRULE of their own the fields do not hold:
    left from an older version of the series, which readers skip
    (:func:`cirahub.core.recurrence.stale_modification`)."""
    series = next((getattr(e.get("DTSTART"), "dt", None) for e in kept
                   if "RECURRENCE-ID" not in e), None)
    stale = [e for e in kept if "RECURRENCE-ID" in e and "RRULE" in e
             and not _held(getattr(e["RECURRENCE-ID"], "dt", None), item, series)]
    if stale:
        notes.append(f"VEVENT: {len(stale)} occurrence{'s' if len(stale) > 1 else ''} left from "
                     "an older version of the series (own RRULE, lower SEQUENCE, no occurrence "
                     "of the series now; readers skip it): not written (carried between "
                     "iCalendar spokes only)")


def _is_date(prop: Any) -> bool:
    value = getattr(prop, "dt", None)
    return isinstance(value, date) and not isinstance(value, datetime)


def _all(event: icalendar.cal.Component, name: str) -> list[Any]:
    value = event.get(name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _recurrence(event: icalendar.cal.Component, all_day: bool, found: list[str], item: Item) -> None:
    rules = len({_rule_text(r) for r in _all(event, "RRULE")})  # a rule given twice is one
    if (rules > 1 and not item.fields.get("more_rrules")) or "EXRULE" in event:
        found.append(f"RRULE: {rules} rules" + (" and an EXRULE" if "EXRULE" in event else "")
                     + ": Exchange holds one pattern per series; only the first rule is written")
    start, end = event.get("DTSTART"), event.get("DTEND")
    if _is_date(start) and _is_date(end) and end.dt <= start.dt and not _zero_length(item):
        found.append("all-day event of no length (DTEND on its start day): written as one day "
                     "(Exchange's all-day events last whole days)")
    if all_day and "RECURRENCE-ID" in event and not _is_date(event["RECURRENCE-ID"]):
        found.append("RECURRENCE-ID given as a time in an all-day series: written as its date")
    length = _length(event)
    for rdate in _all(event, "RDATE"):
        for entry in getattr(rdate, "dts", []):
            period = entry.dt
            if isinstance(period, tuple) and _period_length(period) != length and not _held(
                    period[0], item, getattr(start, "dt", None)):
                found.append("RDATE periods of their own length: each occurrence lasts as long as "
                             "the series (the model holds one duration)")


def _zero_length(item: Item) -> bool:
    """Whether the fields hold the all-day event as of no length (then the projection's own
    note says what Exchange holds)."""
    start, end = item.fields.get("start"), item.fields.get("end")
    return isinstance(start, dict) and "date" in start and end == start


def _held(moment: Any, item: Item, series: Any = None) -> bool:
    """Whether the fields hold the occurrence at ``moment`` as an override of its own. A date
    or floating time of a zoned series (``series`` its DTSTART) is in the series' zone, as the
    model reads a PERIOD of dates there (icalendar gives floating midnights)."""
    if isinstance(series, datetime) and series.tzinfo is not None and isinstance(moment, date) \
            and getattr(moment, "tzinfo", None) is None:
        clock = moment.time() if isinstance(moment, datetime) else time()
        moment = datetime.combine(moment, clock, tzinfo=series.tzinfo)
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") in item.overrides
    return moment.strftime("%Y%m%d") in item.overrides or moment.strftime("%Y%m%dT%H%M%S") in item.overrides


def _rule_text(rule: Any) -> str:
    try:
        return bytes(rule.to_ical()).decode("utf-8", "replace")
    except (AttributeError, TypeError, ValueError):
        return str(rule)


def _length(event: icalendar.cal.Component) -> timedelta | None:
    start, end = getattr(event.get("DTSTART"), "dt", None), getattr(event.get("DTEND"), "dt", None)
    if start is not None and end is not None:
        try:
            return end - start  # type: ignore[no-any-return]
        except TypeError:
            return None
    duration = getattr(event.get("DURATION"), "dt", None)
    return duration if isinstance(duration, timedelta) else None


def _period_length(period: tuple[Any, Any]) -> timedelta | None:
    first, second = period
    if isinstance(second, timedelta):
        return second
    try:
        return second - first  # type: ignore[no-any-return]
    except TypeError:
        return None


def _values(event: icalendar.cal.Component, found: list[str], held: set[str]) -> None:
    for name in _TEXTS:
        for prop in _all(event, name):
            text = str(prop)
            if not text.strip():
                found.append(f"empty {name}: not written")
            elif text not in held and text.replace("\r\n", "\n") not in held and text != (
                    text.rstrip() if name == "DESCRIPTION" else text.strip()):
                found.append(f"white space around the {name}: not kept")
            params = sorted({str(k).upper() for k in getattr(prop, "params", {})} - {"VALUE"})
            if params:
                found.append(f"{name} parameters ({', '.join(params)}): not carried (Exchange "
                             "holds the text alone)")
    for name in _VALUES:
        if any(not str(p).strip() for p in _all(event, name)):
            found.append(f"empty {name}: not written")
    for name, default in _DEFAULTS.items():
        if any(str(p).strip().upper() == default for p in _all(event, name)):
            found.append(f"{name}:{default}: held as no status (Exchange's Busy also means none)")
    for prop in _all(event, "PRIORITY"):
        level = str(prop).strip()
        if level not in ("0", "1", "9"):
            found.append(f"PRIORITY:{level}: Exchange holds high, normal or low (PRIORITY 1, none, 9)")
    _categories(event, found)
    _attendees(event, found)


def _categories(event: icalendar.cal.Component, found: list[str]) -> None:
    lines = _all(event, "CATEGORIES")
    given = [str(c) for prop in lines for c in getattr(prop, "cats", [prop])]
    if lines and not any(c.strip() for c in given):
        found.append("empty CATEGORIES: not written")
    elif len(lines) > 1 or given != sorted(set(given)):
        found.append("CATEGORIES: written as one sorted list, each category once")


def _attendees(event: icalendar.cal.Component, found: list[str]) -> None:
    extra: Counter[str] = Counter()
    for prop in _all(event, "ATTENDEE"):
        value = str(prop).strip()
        if value[:7] != "mailto:" or value[7:] != value[7:].lower():
            found.append("attendee address not given as mailto: in lower case: written so "
                         "(Exchange holds an e-mail address, whatever its case)")
        params = getattr(prop, "params", {})
        extra.update(str(k).upper() for k in params if str(k).upper() not in _ATTENDEE_HELD)
        role = str(params.get("ROLE", "REQ-PARTICIPANT")).upper()
        if role not in _ROLES_HELD:
            extra.update([f"ROLE={role}"])
    if extra:
        found.append(f"attendee parameters ({', '.join(sorted(extra))}): not carried (Exchange "
                     "holds an attendee's name, whether required, and response)")
