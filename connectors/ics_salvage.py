"""Reading what can be read from a feed that does not parse whole.

One broken component (typically a VTIMEZONE with a bad offset) makes the iCalendar reader
refuse a whole text. A vdir spoke loses only that file; a feed would lose everything. Here the
feed is cut into its top-level components at the line level (folded lines kept with their
property), grouped by UID, and each group is read on its own with only the VTIMEZONEs it
references: what reads becomes an item, what does not becomes a MalformedItem (with ``uid``)
naming the time zones involved — so only the events of a broken component are quarantined.

Guarantees: no regular expression backtracks (linear scans only); the work is linear in the
feed's size plus, per group, the VTIMEZONEs it references; a component without UID gets the
same derived UID as the whole-feed reader gives it (its position among the feed's items).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cirahub.core.errors import MalformedItem
from cirahub.core.ical import derived_uid, parse_item
from cirahub.core.item import Item


@dataclass
class _Component:
    name: str
    lines: list[str] = field(default_factory=list)

    def value(self, prop: str) -> str | None:
        """The first value of ``prop`` on the component's own level (not in sub-components)."""
        depth = 0
        for line in self.lines[1:-1]:
            upper = line.upper()
            if upper.startswith("BEGIN:"):
                depth += 1
            elif upper.startswith("END:"):
                depth -= 1
            elif depth == 0 and (upper.startswith(prop + ":") or upper.startswith(prop + ";")):
                return line.split(":", 1)[1].strip() if ":" in line else None
        return None

    def zones(self) -> set[str]:
        """The TZIDs the component's properties reference (``;TZID=...``)."""
        out = set()
        for line in self.lines:
            head = line.split(":", 1)[0]
            for param in head.split(";")[1:]:
                key, _, value = param.partition("=")
                if key.strip().upper() == "TZID" and value:
                    out.add(value.strip().strip('"'))
        return out


def _split(text: str) -> tuple[list[str], list[_Component]]:
    """(the VCALENDAR's own property lines, its top-level components); continuation lines
    stay with the line they continue."""
    header: list[str] = []
    components: list[_Component] = []
    current: _Component | None = None
    depth = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        upper = line.upper()
        if line[0] in " \t":
            (current.lines if current is not None else header).append(line)
            continue
        if upper.startswith("BEGIN:"):
            depth += 1
            if depth == 2:
                current = _Component(upper[6:].strip())
                components.append(current)
            if depth >= 2 and current is not None:
                current.lines.append(line)
            continue
        if upper.startswith("END:"):
            if depth >= 2 and current is not None:
                current.lines.append(line)
            depth -= 1
            if depth == 1:
                current = None
            continue
        if depth >= 2 and current is not None:
            current.lines.append(line)
        elif depth == 1:
            header.append(line)
    return header, components


def salvage(text: str, identity: str) -> tuple[list[Item], list[MalformedItem]]:
    """Items and per-UID errors of a feed the whole-text reader refused. Raises MalformedItem
    when not one component can be found (then the text is not iCalendar at all)."""
    header, components = _split(text)
    zones = {z.value("TZID"): z for z in components if z.name == "VTIMEZONE"}
    groups: dict[str, list[_Component]] = {}
    index = 0
    for comp in components:
        if comp.name == "VTIMEZONE":
            continue
        uid = comp.value("UID") or derived_uid(f"{identity}#{index}")
        index += 1
        groups.setdefault(uid, []).append(comp)
    if not groups:
        raise MalformedItem("no readable component in the iCalendar text")
    items: list[Item] = []
    errors: list[MalformedItem] = []
    for uid, members in groups.items():
        used = sorted(set().union(*(m.zones() for m in members)))
        lines = ["BEGIN:VCALENDAR", *header]
        for tzid in used:
            if tzid in zones:
                lines += zones[tzid].lines
        for member in members:
            lines += member.lines
        lines.append("END:VCALENDAR")
        try:
            items.append(parse_item("\r\n".join(lines) + "\r\n", fallback_uid=uid))
        except MalformedItem as exc:
            where = f" (time zones used: {', '.join(used)})" if used else ""
            errors.append(MalformedItem(f"UID {uid!r} cannot be read{where}: {exc.message}",
                                        uid=uid, zones=used))
    return items, errors


__all__ = ["salvage"]
