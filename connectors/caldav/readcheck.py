"""The read-back's cheap first look: a stored text that only re-orders and re-folds what was sent.

Every resource a write batch created or updated is read back (:mod:`.readback` says what the
server changed). Most servers store what they are sent with only its spelling changed:
Radicale (vobject) re-orders the properties and subcomponents of each component and folds
lines at its own width. Reading both texts with the reference reader to find that out cost
about 2.4 ms of CPU per item (two ``Calendar.from_ical``), more than the PUT itself costs the
client, on a machine the server shares.

:func:`same_lines` answers "nothing changed" without a reader, exactly when the two texts
hold the same components (by name, nested alike) with the same unfolded lines each, DTSTAMP
lines left out, in any order. A reader then reads the same properties with the same values
in each component (a line is read on its own; the VTIMEZONEs and the calendar's own lines a
TZID or X-WR-TIMEZONE refers to are compared too), so :func:`.readback.rewrites` would find
no change either: its answer is ``()`` in every case this says True. Anything else (other
lines, a component more or less, unbalanced BEGIN/END, lone CRs) is False: the caller asks
:func:`.readback.rewrites`, the exact comparison. Pure text handling.
"""

from __future__ import annotations

import re

from cirahub.connectors.caldav import readback
from cirahub.core.ical_fast import content_lines, line_name

__all__ = ["changes", "same_lines"]

# a property line with parameters as the reader splits them (a quoted value may hold ; : ,)
_VALUE = r'(?:"[^"]*"|[^";:,]*)'
_PARAM = re.compile(rf';([A-Za-z0-9-]+)=({_VALUE}(?:,{_VALUE})*)')
_WITH_PARAMS = re.compile(rf'([A-Za-z0-9-]+)((?:;[A-Za-z0-9-]+={_VALUE}(?:,{_VALUE})*)+):')
#: properties a reader takes one of (the component's key, a zone's name): never compared
#: order-free when a component holds one twice
_ONCE = frozenset({"UID", "RECURRENCE-ID", "TZID", "X-WR-TIMEZONE"})

#: a component: its name, its own lines sorted, its subcomponents' forms sorted
_Form = tuple[str, tuple[str, ...], tuple["_Form", ...]]


class _Unlike(Exception):
    """The text is outside what :func:`_form` compares (the caller reads it exactly)."""


def _params_sorted(line: str) -> str:
    """``line`` with its parameters in sorted order (a reader keeps them by name, so their
    order says nothing); as it is when they cannot be split plainly or a name repeats."""
    if ";" not in line.partition(":")[0]:
        return line
    match = _WITH_PARAMS.match(line)
    if match is None:
        return line
    params = _PARAM.findall(match.group(2))
    if len({name.upper() for name, _ in params}) != len(params) or "".join(
            f";{name}={value}" for name, value in params) != match.group(2):
        return line  # a name twice (the reader keeps one: order counts), or an odd split
    spelled = "".join(f";{name}={value}" for name, value in sorted(params))
    return f"{match.group(1)}{spelled}:{line[match.end():]}"


def _close(name: str, own: list[str], names: list[str], subs: list[_Form]) -> _Form:
    if any(names.count(n) > 1 for n in _ONCE.intersection(names)):
        raise _Unlike  # a reader's first of them may be another line once re-ordered
    tzids = [line for z in subs if z[0] == "VTIMEZONE" for line in z[1] if line_name(line) == "TZID"]
    if len(set(tzids)) != len(tzids):
        raise _Unlike  # two definitions of one zone: which one a reader takes is order
    return name, tuple(sorted(own)), tuple(sorted(subs))


def _form(text: str) -> _Form:
    """The order-free form of ``text``: one root component holding the top-level ones."""
    if text.count("\r") != text.count("\r\n"):
        raise _Unlike  # a lone CR: icalendar keeps it inside a line
    lines = content_lines(text)
    stack: list[tuple[str, list[str], list[str], list[_Form]]] = [("", [], [], [])]
    for line in lines:
        name = line_name(line)
        if name in ("BEGIN", "END"):
            if line[len(name):len(name) + 1] != ":":
                raise _Unlike  # parameters on BEGIN/END: not a plain structure line
            kind = line[len(name) + 1:].upper()
            if name == "BEGIN":
                stack.append((kind, [], [], []))
                continue
            if len(stack) < 2 or stack[-1][0] != kind:
                raise _Unlike
            done = _close(*stack.pop())
            stack[-1][3].append(done)
        elif name != "DTSTAMP":
            stack[-1][1].append(_params_sorted(line))
            stack[-1][2].append(name)
    if len(stack) != 1 or stack[0][1] or len(stack[0][3]) != 1:
        raise _Unlike  # unclosed components, lines outside them, not one calendar
    return _close(*stack[0])


def same_lines(sent: str, stored: str) -> bool:
    """Whether ``stored`` holds exactly the components and lines of ``sent`` (DTSTAMP aside),
    only re-ordered or re-folded. False says nothing (ask :func:`.readback.rewrites`)."""
    try:
        return _form(sent) == _form(stored)
    except _Unlike:
        return False


def changes(sent: str, stored: str) -> tuple[str, ...]:
    """:func:`.readback.rewrites` (``sent`` as PUT, ``stored`` as read back), answered
    without a reader when :func:`same_lines` can."""
    if same_lines(sent, stored):
        return ()
    return readback.rewrites(sent, stored)
