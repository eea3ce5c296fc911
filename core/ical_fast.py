"""A fast reader for the common iCalendar texts: the tree icalendar builds, without icalendar's
line parser (issue 15: ``Calendar.from_ical`` was 72% of an initial local sync).

:func:`read_tree` reads one VCALENDAR holding VTIMEZONEs and the VEVENTs of one UID (with
their VALARMs) — what calendar programs write one event per file — and returns the same
tree ``Calendar.from_ical(text, multiple=True)`` builds: the same component classes in the
same order, every property with the same icalendar value type, value and parameters (built
by the same ``from_ical`` functions where those are cheap). :mod:`cirahub.core.ical` then
normalizes that tree with the very code it uses for icalendar's tree, so both paths give the
same items by construction and any change of the normalization applies to both.

Guarantee: the answer is that tree, or None ("not mine": the caller parses the text with
icalendar). None whenever anything is outside the strict subset understood here: other
components, several UIDs, several calendars, folding or escapes in a line's name or
parameters, RFC 6868 escapes, white space icalendar would strip, a value icalendar would
refuse (it would report a broken property, which only its own path does), value types not
listed below, RDATE periods, X-WR-TIMEZONE, a VTIMEZONE after an event. VTIMEZONE and
VALARM blocks are read by icalendar itself, once per distinct block text (a folder written
by one program repeats them in every file); the blocks are shared between trees and must
not be modified. Proven by tests/core/test_ical_fast.py (differential, random texts and the
corpus). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from icalendar import Calendar, Component, Event
from icalendar.parser import Parameters
from icalendar.parser.property import split_on_unescaped_comma, unescape_backslash
from icalendar.prop import (
    vCalAddress,
    vCategory,
    vDDDLists,
    vDDDTypes,
    vInt,
    vRecur,
    vText,
    vUnknown,
    vUri,
)

__all__ = ["FastTree", "content_lines", "read_tree"]

#: (the VCALENDAR, its VEVENTs in order, TZID → VTIMEZONE)
FastTree = tuple[Calendar, list[Component], dict[str, Component]]

# icalendar's unfolding (parser/content_line.py UFOLD): a line break followed by a space or tab
_UFOLD = re.compile(r"(?:(?<!\n)\r\n|(?<![\r\n])\n)(?:\r?\n)*[ \t]")
_NEWLINE = re.compile(r"\r?\n")
_NAME = re.compile(r"([A-Za-z0-9-]+)([;:])")
_NAME_END = re.compile(r"[;:]")
# one parameter: no backslash (it escapes delimiters there), no ^ (RFC 6868), no control
# characters; quoted values may hold , ; and :
_QUOTED = r'"[^"\\^\x00-\x08\x0a-\x1f\x7f]*"'
_PLAIN = r'[^";:,\\^\x00-\x08\x0a-\x1f\x7f]*'
_PARAM = re.compile(rf";([A-Za-z0-9-]+)=((?:{_QUOTED}|{_PLAIN})(?:,(?:{_QUOTED}|{_PLAIN}))*)")
_ELEMENT = re.compile(rf'"([^"]*)"|({_PLAIN})')
_INTEGER = re.compile(r"[+-]?[0-9]{1,10}")
_BLOCKS = frozenset({"VTIMEZONE", "VALARM"})
_DATE_TYPES = (datetime, date, timedelta)
# the properties whose TZID parameter icalendar's parser passes to from_ical
_TZID_NAMES = frozenset({"DTSTART", "DTEND", "RECURRENCE-ID", "DUE", "RDATE", "EXDATE"})
_ENCODING = "utf-8"
# icalendar's own value readers (untyped there)
_read_moment: Callable[..., Any] = vDDDTypes.from_ical
_read_moments: Callable[..., Any] = vDDDLists.from_ical


class _NotMine(Exception):
    """Raised inside the reader for anything outside its subset."""


def read_tree(text: str) -> FastTree | None:
    """The tree ``Calendar.from_ical(text, multiple=True)`` builds (its only calendar, that
    calendar's events, its VTIMEZONEs by TZID), or None when ``text`` is not in the subset
    this reader understands exactly (see the module docstring)."""
    if "BEGIN:VEVENT" not in text or text.count("\r") != text.count("\r\n"):
        return None  # no event in plain sight, or a lone CR (kept inside lines by icalendar)
    try:
        return _read(text)
    except _NotMine:
        return None


def content_lines(text: str) -> list[str]:
    """The content lines of ``text`` as icalendar reads them: unfolded, blank ones dropped."""
    if "\n " in text or "\n\t" in text:  # folded lines (cheaper to look than to unfold)
        text = _UFOLD.sub("", text)
    return [line for line in _NEWLINE.split(text) if line]


def line_name(line: str) -> str:
    """A content line's name (up to its first ``;`` or ``:``; the whole line without
    either), upper-cased: what it is, told without reading its value."""
    match = _NAME_END.search(line)
    return line[:match.start()].upper() if match is not None else line.upper()


def _read(text: str) -> FastTree:
    lines = content_lines(text)
    if not lines or lines[0] != "BEGIN:VCALENDAR" or lines[-1] != "END:VCALENDAR":
        raise _NotMine
    root = Calendar()
    events: list[Component] = []
    zones: dict[str, Component] = {}
    event: Event | None = None
    index, last = 1, len(lines) - 1
    while index < last:
        line = lines[index]
        name, params, value = _split(line)
        if name == "BEGIN":
            if value in _BLOCKS:
                index, block = _block_at(lines, index, value)
                if value == "VTIMEZONE":
                    if event is not None or events:
                        raise _NotMine  # a forward reference: icalendar parses twice
                    zones.setdefault(str(block.get("TZID", "")), block)
                    root.subcomponents.append(block)
                elif event is None:
                    raise _NotMine
                else:
                    event.subcomponents.append(block)
                continue
            if value != "VEVENT" or event is not None or params:
                raise _NotMine
            event = Event()
        elif name == "END":
            if value != "VEVENT" or event is None or params:
                raise _NotMine
            events.append(event)
            root.subcomponents.append(event)
            event = None
        else:
            _add(event if event is not None else root, name, params, value, line)
        index += 1
    if event is not None or not events or "X-WR-TIMEZONE" in root:
        raise _NotMine
    _one_uid(events)
    return root, events, zones


def _one_uid(events: list[Component]) -> None:
    """Every event has the same non-empty UID (else icalendar's tree is read per UID)."""
    uids = set()
    for event in events:
        uid = event.get("UID")
        if not isinstance(uid, vText) or not uid.strip():
            raise _NotMine
        uids.add(str(uid).strip())
    if len(uids) != 1:
        raise _NotMine


# --- lines -------------------------------------------------------------------------------


def _split(line: str) -> tuple[str, dict[str, Any], str]:
    """(upper-case name, parameters, raw value) of one unfolded content line, as icalendar's
    ``Contentline.raw_parts`` splits it for the lines accepted here."""
    match = _NAME.match(line)
    if match is None:
        raise _NotMine
    name = match.group(1).upper()
    if match.group(2) == ":":
        return name, {}, line[match.end():]
    params: dict[str, Any] = {}
    pos = match.end() - 1
    while line.startswith(";", pos):
        found = _PARAM.match(line, pos)
        if found is None:
            raise _NotMine
        params[found.group(1).upper()] = _param_value(found.group(2))
        pos = found.end()
    if not line.startswith(":", pos):
        raise _NotMine
    return name, params, line[pos + 1:]


def _param_value(raw: str) -> str | list[str]:
    """A parameter's value as ``Parameters.from_ical`` reads it: quoted parts unquoted, a
    list when there are several. White space that icalendar's lenient reading would strip
    (next to ``=``, ``;`` or ``:``) is not ours to decide."""
    if raw[:1] in (" ", "\t") or raw[-1:] in (" ", "\t"):
        raise _NotMine
    if not raw:
        return raw
    values: list[str] = []
    pos = 0
    while True:
        element = _ELEMENT.match(raw, pos)
        assert element is not None  # the whole value matched _PARAM
        quoted = element.group(1)
        values.append(quoted if quoted is not None else element.group(2))
        pos = element.end()
        if pos >= len(raw):
            break
        pos += 1  # the comma
        if pos == len(raw):
            values.append("")
            break
    return values[0] if len(values) == 1 else values


def _block_at(lines: list[str], start: int, kind: str) -> tuple[int, Component]:
    """The VTIMEZONE/VALARM whose BEGIN line is ``lines[start]``, read by icalendar (once per
    distinct text), and the index after its END line."""
    depth, index = 0, start
    while index < len(lines):
        line = lines[index]
        match = _NAME.match(line)
        if match is None:
            raise _NotMine  # a name icalendar would clean up first
        name = match.group(1).upper()
        if name == "BEGIN":
            depth += 1
        elif name == "END":
            depth -= 1
            if depth == 0:
                if line != "END:" + kind:
                    raise _NotMine
                break
        index += 1
    else:
        raise _NotMine
    block = _parsed_block(kind, "\r\n".join(lines[start:index + 1]))
    if block is None:
        raise _NotMine
    return index + 1, block


@lru_cache(maxsize=512)
def _parsed_block(kind: str, text: str) -> Component | None:
    """icalendar's reading of one VTIMEZONE or VALARM block (None when it refuses it): the
    component it builds in any calendar, since neither reads its context."""
    inner = f"BEGIN:VEVENT\r\n{text}\r\nEND:VEVENT" if kind == "VALARM" else text
    try:
        calendar = Calendar.from_ical(f"BEGIN:VCALENDAR\r\n{inner}\r\nEND:VCALENDAR\r\n")
    except Exception:
        return None
    found = calendar.subcomponents
    if kind == "VALARM":
        if len(found) != 1 or found[0].errors:
            return None
        found = found[0].subcomponents
    if len(found) != 1 or found[0].name != kind:
        return None
    component: Component = found[0]
    return component


# --- values ------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _factory(name: str, value_type: str | None) -> type:
    """The value type icalendar's parser picks for a property (``TypesFactory.for_property``)."""
    factory: type = Component.types_factory.for_property(name, value_type)
    return factory


def _parameters(params: dict[str, Any]) -> Parameters:
    """A :class:`Parameters` of ``params`` (keys already upper case) without its costly
    constructor (a case-insensitive ordered dict; the constructor only upper-cases keys)."""
    made: Parameters = Parameters.__new__(Parameters)
    OrderedDict.__init__(made, params)
    return made


def _add(component: Component, name: str, params: dict[str, Any], raw: str, line: str) -> None:
    """Add one property the way icalendar's parser does (``handle_property`` +
    ``parse_and_add_property`` + ``Component.add``): several of a name make a list."""
    value: Any
    if name == "CATEGORIES":
        if "VALUE" in params:
            raise _NotMine  # icalendar would build another type from the split list
        value = _categories(raw, params)
    elif name == "RDATE" and raw == "":
        return  # icalendar skips an empty RDATE
    else:
        kind = params.get("VALUE")
        if kind is not None and not isinstance(kind, str):
            raise _NotMine
        factory = _factory(name, kind.upper() if kind is not None else None)
        tzid = params.get("TZID") if name in _TZID_NAMES else None
        if tzid is not None and not isinstance(tzid, str):
            raise _NotMine
        text = raw if factory is vUnknown or "\\" not in raw else unescape_backslash(raw)
        value = _value(factory, text, tzid, params)
    old = OrderedDict.get(component, name)  # names are upper case already
    if old is None:
        OrderedDict.__setitem__(component, name, value)
    elif isinstance(old, list):
        old.append(value)
    else:
        OrderedDict.__setitem__(component, name, [old, value])


def _string(cls: type, text: str, params: dict[str, Any]) -> Any:
    value: Any = str.__new__(cls, text)
    if cls is vText or cls is vUnknown:
        value.encoding = _ENCODING
    value.params = _parameters(params)
    return value


def _value(factory: type, text: str, tzid: str | None, params: dict[str, Any]) -> Any:
    """``factory(factory.from_ical(text[, tzid]))`` with the line's parameters, for the value
    types read here; _NotMine where icalendar would refuse the value or the type is other."""
    if factory is vText or factory is vUnknown:
        return _string(factory, text, params)
    if factory is vCalAddress or factory is vUri:
        if "\r" in text or "\n" in text:
            raise _NotMine  # refused by icalendar: a broken property
        return _string(factory, text, params)
    if factory is vDDDTypes:
        moment = _moment(text, tzid)
        made = object.__new__(vDDDTypes)
        made.dt, made.params = moment, _parameters(params)
        return made
    if factory is vDDDLists:
        return _dates(text, tzid, params)
    if factory is vInt:
        if _INTEGER.fullmatch(text) is None:
            raise _NotMine
        number = int.__new__(vInt, int(text))
        if not vInt.min <= number <= vInt.max:
            raise _NotMine
        number.params = _parameters(params)
        return number
    if factory is vRecur and not params:
        rule = _rule(text)
        if rule is None:
            raise _NotMine
        return rule
    raise _NotMine


def _moment(text: str, tzid: str | None) -> date | datetime | timedelta:
    """``vDDDTypes.from_ical`` of a date, date-time or duration (no periods, no times)."""
    try:
        moment = _read_moment(text, tzid) if tzid else _read_moment(text)
    except Exception:
        raise _NotMine from None
    if not isinstance(moment, _DATE_TYPES):
        raise _NotMine
    return moment


def _dates(text: str, tzid: str | None, params: dict[str, Any]) -> vDDDLists:
    """An EXDATE/RDATE list as ``vDDDLists(vDDDLists.from_ical(text, tzid))`` (no periods)."""
    try:
        moments = _read_moments(text, tzid) if tzid else _read_moments(text)
    except Exception:
        raise _NotMine from None
    if not all(isinstance(m, date) for m in moments):
        raise _NotMine  # a period or a duration
    made = object.__new__(vDDDLists)
    made.dts = [vDDDTypes(m) for m in moments]
    made.params = _parameters(params)
    return made


@lru_cache(maxsize=1024)
def _rule(text: str) -> vRecur | None:
    """icalendar's reading of an RRULE value (shared between trees: read-only)."""
    try:
        return vRecur(vRecur.from_ical(text))
    except Exception:
        return None


def _categories(raw: str, params: dict[str, Any]) -> vCategory:
    """CATEGORIES as icalendar's parser reads it: split on unescaped commas, then unescaped."""
    made = object.__new__(vCategory)
    made.cats = [_string(vText, name, {}) for name in split_on_unescaped_comma(raw)]
    made.params = _parameters(params)
    return made
