"""What one ``.ics`` file of a vdir holds, and how one of its events is changed in place.

A vdir normally has one item per file, but an export dropped into the folder holds many
events (and programs write VTODOs beside VEVENTs). Such a file is read as its items:

- the item of a one-item file has the file name as its remote id, the items of a file with
  several ``<file name>#<uid key>`` (the UID when it is made of safe characters, else a hash
  of it); ids already known stay: a file that gains a second event keeps its first item's
  id, and the last item left in a file keeps its ``#`` id;
- all items of a file share the file's version;
- an item without UID gets one derived from the file name and its position
  (:func:`cirahub.core.ical.derived_uid`), which is written into the file only when the hub
  writes that item anyway.

When the hub changes or deletes one item of a multi-item file, the file is rewritten with
that item's components replaced (or removed) and everything else of the file kept; the file
is removed when nothing is left in it. Pure text handling, no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Component

from cirahub.core.errors import MalformedItem
from cirahub.core.ical import derived_uid, item_components, parse_calendar, serialize_calendar
from cirahub.core.ical_fast import content_lines, line_name
from cirahub.core.item import Item

_SAFE_KEY = re.compile(r"[A-Za-z0-9_@+=.-]{1,120}")


def uid_key(uid: str) -> str:
    """The part of a remote id after ``#`` for the item with ``uid``."""
    if _SAFE_KEY.fullmatch(uid):
        return uid
    return hashlib.sha256(uid.encode("utf-8")).hexdigest()[:32]


def split_id(remote_id: str) -> tuple[str, str | None]:
    """``(file name, uid key or None)`` of a remote id."""
    name, _, key = remote_id.partition("#")
    return name, (key or None)


@dataclass(frozen=True)
class FileEntry:
    """One item of a file: its remote id, and its content or the reason it has none."""

    remote_id: str
    item: Item | None
    error: str | None = None
    uid: str | None = None


def read_file(name: str, text: str, known: Collection[str] = ()) -> list[FileEntry]:
    """The items of file ``name`` (see the module docstring for their remote ids; ``known``
    holds the ids already linked). A file that cannot be read as iCalendar at all is one
    entry with the error; within a readable file, an item that cannot be normalized is an
    entry with its error."""
    errors: list[MalformedItem] = []
    try:
        items = parse_calendar(text, errors=errors, identity=f"vdir:{name}")
    except MalformedItem as exc:
        return [FileEntry(name, None, str(exc))]
    if not items and not errors:
        return [FileEntry(name, None, "no VEVENT, VTODO or VJOURNAL in the iCalendar text")]
    found: list[tuple[Item | None, str | None, str]] = [(i, None, i.uid) for i in items]
    found += [(None, str(e), str(e.fields.get("uid") or "?")) for e in errors]
    ids = _ids(name, [uid for _, _, uid in found], set(known))
    return [FileEntry(rid, i, err, uid) for rid, (i, err, uid) in zip(ids, found, strict=True)]


def _ids(name: str, uids: list[str], known: set[str]) -> list[str]:
    keyed = [f"{name}#{uid_key(uid)}" for uid in uids]
    out: list[str | None] = [k if k in known else None for k in keyed]
    bare_free = name in known
    for index, rid in enumerate(out):
        if rid is not None:
            continue
        if len(uids) == 1 or bare_free:
            out[index], bare_free = name, False
        else:
            out[index] = keyed[index]
    return [rid or name for rid in out]


#: the components a file told one item by :func:`holds_one_item` may hold, each in its parent
_PARENT = {"VCALENDAR": "", "VEVENT": "VCALENDAR", "VTIMEZONE": "VCALENDAR", "VALARM": "VEVENT",
           "STANDARD": "VTIMEZONE", "DAYLIGHT": "VTIMEZONE"}


#: the first letters of the lines :func:`holds_one_item` looks at (BEGIN, END, UID, any case)
_TOLD_BY = frozenset("BbEeUu")


def holds_one_item(text: str) -> bool:
    """True when :func:`read_file` gives exactly one entry for ``text`` whatever its name,
    told from its content lines without parsing it (the vdir writer replaces such a file
    whole): one VCALENDAR of VTIMEZONEs and VEVENTs (with VALARMs), every VEVENT at its top
    level holding exactly one plain ``UID:`` line, all of one value (a series and its
    overrides). False when it cannot tell that way: the reader decides."""
    stack: list[str] = []
    uid: str | None = None
    calendars = events = uids_here = 0
    for line in content_lines(text):
        if line[0] not in _TOLD_BY:
            continue  # not BEGIN, END or UID (in any case): nothing to tell by
        name = line_name(line)
        if name == "BEGIN":
            kind = line[6:]
            if not line.startswith("BEGIN:") or _PARENT.get(kind) != (stack[-1] if stack
                                                                    else ""):
                return False
            calendars += kind == "VCALENDAR"
            if kind == "VEVENT":
                events, uids_here = events + 1, 0
            stack.append(kind)
        elif name == "END":
            if not stack or line != "END:" + stack[-1] or (stack[-1] == "VEVENT"
                                                          and uids_here != 1):
                return False
            stack.pop()
        elif name == "UID":
            value = line[4:]
            if (not line.startswith("UID:") or stack[-1:] != ["VEVENT"] or not value.strip()
                    or value != (uid if uid is not None else value)):
                return False
            uid, uids_here = value, uids_here + 1
    return not stack and calendars == 1 and events >= 1


def find(entries: list[FileEntry], remote_id: str) -> FileEntry | None:
    return next((e for e in entries if e.remote_id == remote_id), None)


def _uid_of(component: Component) -> str:
    return str(component.get("UID", "")).strip()


def rewrite(
    name: str, text: str, target: FileEntry, item: Item | None, dtstamp: datetime
) -> str | None:
    """File ``name``'s ``text`` with ``target``'s components replaced by ``item`` (None:
    removed), everything else kept. None when no item would be left (remove the file)."""
    calendar = Calendar.from_ical(text)
    present = {str(c.get("TZID", "")) for c in calendar.subcomponents if c.name == "VTIMEZONE"}
    replacement: list[Component] = []
    zones: list[Component] = []
    if item is not None:
        written = Calendar.from_ical(serialize_calendar([item], dtstamp=dtstamp))
        for component in written.subcomponents:
            if component.name != "VTIMEZONE":
                replacement.append(component)
            elif str(component.get("TZID", "")) not in present:
                zones.append(component)
    kept: list[Component] = []
    items = item_components(calendar)  # the parser's order: derived UIDs match
    for component in calendar.subcomponents:
        index = next((i for i, c in enumerate(items) if c is component), None)
        if index is not None:
            uid = _uid_of(component) or derived_uid(f"vdir:{name}#{index}")
            if uid == target.uid:
                kept.extend(replacement)  # in its place: the file's order (and ids) stay
                replacement = []
                continue
        kept.append(component)
    first_item = next((i for i, c in enumerate(kept) if item_components(c)), len(kept))
    kept[first_item:first_item] = zones
    calendar.subcomponents[:] = kept
    if not item_components(calendar):
        return None
    return calendar.to_ical().decode("utf-8")
