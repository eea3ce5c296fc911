"""What a CalDAV server changed in what it stores, read back after a PUT (server rewrites).

Some servers do not store the text they are sent: Radicale parses it with vobject and writes
its own serialization, which keeps the meaning of most text but not all of it (a parameter
value's quoting and the commas of an unknown property's value, a DURATION beside a DTEND,
the zone of EXDATEs beside a floating DTSTART). What a reader of the collection then sees is
not the item the hub wrote; unless the connector says so, that difference is a silent
distortion. :func:`rewrites` compares the text sent with the text read back, property by
property as a reader sees them, and names what changed, so the write declares it (a
projection note, :attr:`cirahub.connectors.base.WriteResult.notes`).

Compared as the reference reader (``icalendar``) reads them, so re-serialization is no
change: components matched by (kind, UID, RECURRENCE-ID), the VCALENDAR's own properties as
``VCALENDAR/NAME`` (a server that adds a PRODID says so); VTIMEZONEs left out (the zone's
meaning is in the instants); property order, folding, the case
of names, parameter order and quoting do not count, nor a ``VALUE`` parameter stating the
default or a time's form; date-times compare as the instants they name (a TZID by its
meaning), floating times and dates as themselves; DTSTAMP is left out (every write sets it).
Pure text handling.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from icalendar import Calendar, Component

#: properties whose value is a date, date-time or a list of them (compared as instants)
_TIME_PROPS = frozenset({"DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "EXDATE", "RDATE",
                         "CREATED", "LAST-MODIFIED", "COMPLETED"})
#: set by every write, never compared
_SKIP_PROPS = frozenset({"DTSTAMP"})
_NOT_COMPARED = frozenset({"VTIMEZONE"})


def _moment(value: object) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return "F:" + value.isoformat()
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, dt.date):
        return "D:" + value.isoformat()
    return str(value)


def _params(params: Mapping[str, Any], name: str) -> str:
    out = []
    for key, value in params.items():
        key = str(key).upper()
        if key == "TZID" and name in _TIME_PROPS:
            continue  # the instant carries the zone's meaning
        text = ",".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        if key == "VALUE" and (text.upper() == "DATE-TIME" or (
                text.upper() == "DATE" and name in _TIME_PROPS)):
            continue  # the default, or what the value's own form says
        out.append(f";{key}={text}")
    return "".join(sorted(out))


def _value(name: str, value: object) -> str:
    if name in _TIME_PROPS:
        moments = []
        for item in value if isinstance(value, list) else [value]:
            for entry in getattr(item, "dts", [item]):
                raw = getattr(entry, "dt", entry)
                if isinstance(raw, tuple):  # a period: its start and its end or length
                    moments.append(f"{_moment(raw[0])}/{_moment(raw[1])}")
                else:
                    moments.append(_moment(raw))
        return ",".join(sorted(moments))
    try:
        text = value.to_ical()  # type: ignore[attr-defined]
    except AttributeError:
        text = value
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _lines(component: Component) -> Counter[str]:
    """Every property of ``component`` and of its subcomponents (VALARM...), one normalized
    line each, keyed ``NAME`` first (``VALARM/TRIGGER...`` for a subcomponent's)."""
    out: Counter[str] = Counter()
    for name, value in component.property_items(recursive=False, sorted=False):
        name = str(name).upper()
        if name in ("BEGIN", "END") or name in _SKIP_PROPS:
            continue
        out[f"{name}{_params(getattr(value, 'params', {}) or {}, name)}:{_value(name, value)}"] += 1
    for sub in component.subcomponents:
        for line, n in _lines(sub).items():
            out[f"{sub.name}/{line}"] += n
    return out


def _key(component: Component) -> str:
    rid = component.get("RECURRENCE-ID")
    moment = _moment(getattr(rid, "dt", "")) if rid is not None and not isinstance(rid, list) \
        else ""
    return f"{component.name}|{component.get('UID', '')}|{moment}"


def _components(text: str) -> Counter[str] | None:
    """Keyed property lines of every item component of ``text``; None when it cannot be
    read (nothing can then be said about it)."""
    try:  # icalendar reads values lazily: a broken one raises only when it is looked at
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _keyed_lines(Calendar.from_ical(text))
    except Exception:  # an unreadable text says nothing about what changed
        return None


def _keyed_lines(root: Component) -> Counter[str]:
    top: Iterable[Component] = root.subcomponents if root.name == "VCALENDAR" else [root]
    out: Counter[str] = Counter()
    if root.name == "VCALENDAR":  # the calendar's own properties, as VCALENDAR/NAME
        for name, value in root.property_items(recursive=False, sorted=False):
            name = str(name).upper()
            if name not in ("BEGIN", "END"):
                params = _params(getattr(value, "params", {}) or {}, name)
                out[f"VCALENDAR|||VCALENDAR/{name}{params}:{_value(name, value)}"] += 1
    for component in top:
        if component.name in _NOT_COMPARED:
            continue
        key = _key(component)
        for line, n in _lines(component).items():
            out[f"{key}|{line}"] += n
    return out


def _name(keyed: str) -> str:
    line = keyed.split("|", 3)[3]
    return line.split(":", 1)[0].split(";", 1)[0]


def rewrites(sent: str, stored: str) -> tuple[str, ...]:
    """What a reader of ``stored`` (the server's text) sees that differs from ``sent`` (what
    was PUT), one note per property name: ``"NAME: left out"``, ``"NAME: added"`` or
    ``"NAME: changed"`` (a subcomponent's as ``VALARM/NAME``), sorted; empty when the server
    kept the meaning of every property (or either text cannot be read)."""
    if sent.replace("\r\n", "\n").strip() == stored.replace("\r\n", "\n").strip():
        return ()
    before, after = _components(sent), _components(stored)
    if before is None or after is None or before == after:
        return ()
    lost = {_name(x) for x in (before - after)}
    added = {_name(x) for x in (after - before)}
    out = []
    for name in sorted(lost | added):
        how = "changed" if name in lost and name in added else \
            "left out" if name in lost else "added"
        out.append(f"{name}: {how}")
    return tuple(out)


def note(changes: Iterable[str]) -> str:
    """The projection note of a write whose stored text differs as ``changes`` say."""
    return f"the server rewrote what it stores ({'; '.join(changes)})"
