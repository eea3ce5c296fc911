"""The ``memory`` spoke kind: a complete in-process calendar for tests and benchmarks.

:class:`MemoryConnector` is the :class:`~cirahub.connectors.base.SpokeConnector` over a
:class:`~cirahub.connectors.memory_calendar.MemoryCalendar` (re-exported here). It lists in
one of two modes: ``incremental=True`` uses the server's change log (server cursor,
server-reported deletions), else it lists everything and diffs against ``known``. A spoke
config ``{"calendar": "name"}`` opens the named calendar from the process-wide registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from cirahub.connectors.base import BaseConnector, WriteResult
from cirahub.connectors.memory_calendar import (
    MemoryCalendar,
    StoredEntry,
    WriteAttempt,
    WritePredicate,
)
from cirahub.core.errors import InvalidInput, ReadOnlySpoke, RemoteNotFound, TransientError
from cirahub.core.item import FIELDS, Item
from cirahub.core.model import Capabilities, Delta, RemoteItem

__all__ = [
    "MemoryCalendar",
    "MemoryConnector",
    "StoredEntry",
    "WriteAttempt",
    "WritePredicate",
    "open_memory",
    "validate",
]


class MemoryConnector(BaseConnector):
    """A :class:`~cirahub.connectors.base.SpokeConnector` over a :class:`MemoryCalendar`.

    ``incremental=True`` makes ``delta`` use the server's change log (server-reported
    deletions, ``capabilities.incremental``); otherwise it lists everything and diffs against
    ``known``. ``unsupported_fields`` are dropped on write *and* on read, emulating a lossy
    server; ``read_only`` refuses every write with ReadOnlySpoke.
    """

    kind: ClassVar[str] = "memory"
    local_delta: ClassVar[bool] = True

    def __init__(
        self,
        calendar: MemoryCalendar,
        *,
        incremental: bool = False,
        unsupported_fields: Iterable[str] = (),
        read_only: bool = False,
    ) -> None:
        self.calendar = calendar
        self.capabilities = Capabilities(
            unsupported_fields=frozenset(unsupported_fields),
            read_only=read_only,
            incremental=incremental,
        )

    def _project(self, item: Item) -> Item:
        drop = self.capabilities.unsupported_fields
        if not drop:
            return item
        fields = {k: v for k, v in item.fields.items() if k not in drop}
        overrides = {
            key: {k: v for k, v in ov.items() if k not in drop}
            for key, ov in item.overrides.items()
        }
        return Item(item.uid, fields, overrides)

    def _remote(self, remote_id: str, entry: StoredEntry) -> RemoteItem:
        if entry.item is None:
            return RemoteItem(remote_id, entry.version, None, entry.error or "malformed", entry.raw)
        return RemoteItem(remote_id, entry.version, self._project(entry.item))

    def _refuse_if_read_only(self) -> None:
        if self.capabilities.read_only:
            raise ReadOnlySpoke("this memory spoke is read-only")

    # --- reads ---------------------------------------------------------------------------

    def delta(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        fault = self.calendar.take_delta_fault()
        if fault == "fail":
            raise TransientError("injected listing failure")
        since = self._parse_cursor(cursor) if self.capabilities.incremental else None
        entries, counter, ids = self.calendar.snapshot(since)
        if ids is None:
            delta = self._listing(entries, counter, known)
        else:
            delta = self._incremental(entries, counter, ids, known)
        if fault == "partial":
            return self._truncate(delta, cursor)
        return delta

    def _cursor(self, counter: int) -> str:
        return f"{self.calendar.incarnation}:{counter}"

    def _parse_cursor(self, cursor: str | None) -> int | None:
        """The counter a cursor of this calendar names; None (list everything) for no cursor,
        a foreign one, or one another calendar object issued (the spoke's server was replaced:
        its counters say nothing about this one)."""
        if cursor is None:
            return None
        incarnation, _, counter = cursor.partition(":")
        if incarnation != self.calendar.incarnation or not counter.isdigit():
            return None
        return int(counter)

    def _listing(
        self, entries: Mapping[str, StoredEntry], counter: int, known: Mapping[str, str]
    ) -> Delta:
        changed = tuple(
            self._remote(rid, e) for rid, e in sorted(entries.items())
            if known.get(rid) != e.version
        )
        deleted = tuple(sorted(set(known) - set(entries)))
        return Delta(
            changed, deleted, self._cursor(counter), complete=True, listing_size=len(entries)
        )

    def _incremental(
        self, entries: Mapping[str, StoredEntry], counter: int, ids: set[str],
        known: Mapping[str, str],
    ) -> Delta:
        # Server-reported deletions are reported whether or not the caller knows the id
        # (like a CalDAV sync-collection report); the planner ignores unknown ones. Changes
        # at the version the caller already knows (its own writes) are left out.
        changed = tuple(
            self._remote(rid, entries[rid]) for rid in sorted(ids)
            if rid in entries and known.get(rid) != entries[rid].version
        )
        deleted = tuple(sorted(rid for rid in ids if rid not in entries))
        return Delta(changed, deleted, self._cursor(counter), complete=False)

    def _truncate(self, delta: Delta, cursor: str | None) -> Delta:
        rng, fraction = self.calendar.rng, self.calendar.partial_fraction
        kept = tuple(r for r in delta.changed if rng.random() < fraction)
        return Delta(kept, (), cursor, complete=False)

    def get_many(self, remote_ids: Sequence[str]) -> list[RemoteItem]:
        entries = self.calendar.entries()
        self.calendar.count("get")
        out: list[RemoteItem] = []
        for rid in remote_ids:
            entry = entries.get(rid)
            if entry is None:
                raise RemoteNotFound("no such item", remote_id=rid)
            out.append(self._remote(rid, entry))
        return out

    # --- writes --------------------------------------------------------------------------

    def create(self, item: Item, hub_item_id: str) -> WriteResult:
        self._refuse_if_read_only()
        return self.calendar.conditional_create(self._project(item), hub_item_id)

    def update(
        self, remote_id: str, expected_version: str, item: Item, hub_item_id: str
    ) -> WriteResult:
        self._refuse_if_read_only()
        return self.calendar.conditional_update(
            remote_id, expected_version, self._project(item), hub_item_id
        )

    def delete(self, remote_id: str, expected_version: str) -> None:
        self._refuse_if_read_only()
        self.calendar.conditional_delete(remote_id, expected_version)


# --- registration ----------------------------------------------------------------------------

_CONFIG_KEYS = {"calendar", "incremental", "unsupported_fields", "read_only"}


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized memory spoke config. Raises InvalidInput naming the bad key."""
    for key in config:
        if key not in _CONFIG_KEYS:
            raise InvalidInput(f"unknown memory spoke option {key!r}", key=key)
    name = config.get("calendar", "default")
    if not isinstance(name, str) or not name:
        raise InvalidInput("'calendar' must be a non-empty string", key="calendar")
    out: dict[str, Any] = {"calendar": name}
    for key in ("incremental", "read_only"):
        value = config.get(key, False)
        if not isinstance(value, bool):
            raise InvalidInput(f"{key!r} must be true or false", key=key)
        out[key] = value
    fields = config.get("unsupported_fields", [])
    if isinstance(fields, str) or not isinstance(fields, Iterable):
        raise InvalidInput("'unsupported_fields' must be a list of field names",
                           key="unsupported_fields")
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise InvalidInput(f"unknown field(s) in 'unsupported_fields': {', '.join(map(str, bad))}",
                           key="unsupported_fields")
    out["unsupported_fields"] = sorted(set(fields))
    return out


def open_memory(config: Mapping[str, Any], secret: str | None = None) -> MemoryConnector:
    """Factory for the registry: the named calendar, wrapped in a connector."""
    return MemoryConnector(
        MemoryCalendar.named(config["calendar"]),
        incremental=config["incremental"],
        unsupported_fields=config["unsupported_fields"],
        read_only=config["read_only"],
    )


