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
corpus). :func:`read_plain` is the same reading into plain dicts (what the parser uses; proven
equal to this tree's reading by tests/core/test_ical_plain.py). The values are built by
:mod:`cirahub.core.ical_fast_values`. Pure: no I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from icalendar import Calendar, Component, Event
from icalendar.prop import vText

from cirahub.core.ical_fast_values import NotMine as _NotMine
from cirahub.core.ical_fast_values import add as _add

__all__ = ["FastTree", "PlainComponent", "content_lines", "read_plain", "read_tree"]

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
_BLOCKS = frozenset({"VTIMEZONE", "VALARM"})
#: the property names seen (as written → upper case), so that a line's name is split once
_NAMES: dict[str, str] = {}
_MAX_NAMES = 4096


class PlainComponent(dict[str, Any]):
    """The VCALENDAR or a VEVENT of :func:`read_plain`: what icalendar's component holds (its
    upper-case property names → the same values, several of a name as a list, in the same
    order) in a plain dict, with its ``name``, ``subcomponents`` and no ``errors``. Read-only
    use: the normalization reads it exactly as it reads icalendar's components."""

    __slots__ = ("name", "subcomponents")
    errors: tuple[Any, ...] = ()

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.subcomponents: list[Any] = []


def read_tree(text: str) -> FastTree | None:
    """The tree ``Calendar.from_ical(text, multiple=True)`` builds (its only calendar, that
    calendar's events, its VTIMEZONEs by TZID), or None when ``text`` is not in the subset
    this reader understands exactly (see the module docstring)."""
    return _tree(text, plain=False)


def read_plain(text: str) -> FastTree | None:
    """:func:`read_tree` with the VCALENDAR and the VEVENTs as :class:`PlainComponent`s (no
    icalendar component is built for them: a third of the reading's cost), the VTIMEZONEs and
    VALARMs icalendar's own; for the normalization, which reads both alike (proven by
    tests/core/test_ical_plain.py)."""
    return _tree(text, plain=True)


def _tree(text: str, *, plain: bool) -> FastTree | None:
    if "BEGIN:VEVENT" not in text or text.count("\r") != text.count("\r\n"):
        return None  # no event in plain sight, or a lone CR (kept inside lines by icalendar)
    try:
        return _read(text, plain)
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


def _read(text: str, plain: bool) -> FastTree:
    lines = content_lines(text)
    if not lines or lines[0] != "BEGIN:VCALENDAR" or lines[-1] != "END:VCALENDAR":
        raise _NotMine
    root: Any = PlainComponent("VCALENDAR") if plain else Calendar()
    events: list[Any] = []
    zones: dict[str, Component] = {}
    event: Any = None
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
            event = PlainComponent("VEVENT") if plain else Event()
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


def _one_uid(events: list[Any]) -> None:
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
    colon = line.find(":")
    end = line.find(";", 0, colon if colon >= 0 else len(line))
    semi = end >= 0
    if not semi:
        end = colon
    name = _NAMES.get(line[:end]) if end > 0 else None
    if name is None:
        match = _NAME.match(line)  # the name is what precedes the first ; or :
        if match is None:
            raise _NotMine
        name = match.group(1).upper()
        if len(_NAMES) < _MAX_NAMES:
            _NAMES[match.group(1)] = name
    if not semi:
        return name, {}, line[colon + 1:]
    params: dict[str, Any] = {}
    pos = end
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
