"""The server side of the ``memory`` spoke kind: :class:`MemoryCalendar`, an in-process
calendar with versions, a change log and deterministic fault injection.

Tests share one calendar between a :class:`~cirahub.connectors.memory.MemoryConnector` (what
the sync cycle sees) and a "user" who edits it directly (``user_create`` …). Named calendars
live in a process-wide registry (:meth:`MemoryCalendar.named`).

Fault knobs (deterministic; the random ones use the calendar's seeded RNG): fail the next N
writes or writes matching a predicate, fail or truncate the next deltas, bump versions behind
the connector's back, lose the response of applied writes, expire server cursors, and allow
duplicate UIDs (servers that do not enforce UID uniqueness).
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar

from cirahub.connectors.base import WriteResult
from cirahub.core.errors import (
    PreconditionFailed,
    RemoteAlreadyExists,
    RemoteNotFound,
    TransientError,
)
from cirahub.core.item import Item


@dataclass(frozen=True)
class StoredEntry:
    """One item as the memory server holds it. ``item`` is None for a malformed entry
    (``raw`` then holds its text and ``error`` why it could not be read)."""

    item: Item | None
    version: str
    hub_item_id: str | None = None
    raw: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class WriteAttempt:
    """What a write-fault predicate sees: the operation, target and content of one write."""

    op: str  # "create" | "update" | "delete"
    remote_id: str | None
    item: Item | None


WritePredicate = Callable[[WriteAttempt], bool]


class MemoryCalendar:
    """A thread-safe in-memory calendar server.

    Every write (by a connector or a user) advances the change counter; an entry's version is
    the counter value of its last write, so versions change on every write and never repeat.
    The change log maps counter values to remote ids for server-cursor deltas.

    Remote ids carry the calendar's :attr:`incarnation` (random per object), as a real server's
    ids are never handed out twice: a spoke whose process died comes back with a new, empty
    calendar, and if its ids restarted at 1 a push refilling it could give a new item the id
    *and* the version a lost item had — the next listing would take the lost item as unchanged
    and never report it again (the chaos soak's "missing" item). Cursors carry it too
    (:mod:`cirahub.connectors.memory`), so a cursor of a calendar that is gone lists everything.
    """

    _registry: ClassVar[dict[str, MemoryCalendar]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, *, seed: int = 0, enforce_unique_uid: bool = True) -> None:
        self._lock = threading.RLock()
        #: tells this calendar's remote ids and cursors from those of any other calendar object
        self.incarnation = uuid.uuid4().hex[:8]
        self._entries: dict[str, StoredEntry] = {}
        self._counter = 0
        self._next_id = 0
        self._log: list[tuple[int, str]] = []  # (counter, remote id), ascending
        self._log_floor = 0  # cursors below this are expired (log compacted)
        self.rng = random.Random(seed)
        #: False emulates servers (EWS) that accept two items with one UID
        self.enforce_unique_uid = enforce_unique_uid
        # fault knobs
        self._fail_writes = 0
        self._fail_predicate: WritePredicate | None = None
        self._write_failure_rate = 0.0
        self._lose_responses = 0
        self._fail_deltas = 0
        self._partial_deltas = 0
        self.partial_fraction = 0.5
        #: call counters, for tests and benchmarks that check how much work was done
        self.stats: dict[str, int] = {"delta": 0, "get": 0, "write": 0, "faults_fired": 0}

    # --- registry ----------------------------------------------------------------------

    @classmethod
    def named(cls, name: str) -> MemoryCalendar:
        """The process-wide calendar called ``name`` (created empty on first use)."""
        with cls._registry_lock:
            cal = cls._registry.get(name)
            if cal is None:
                cal = cls._registry[name] = cls()
            return cal

    @classmethod
    def forget(cls, name: str | None = None) -> None:
        """Drop one named calendar (or all of them), for test isolation."""
        with cls._registry_lock:
            if name is None:
                cls._registry.clear()
            else:
                cls._registry.pop(name, None)

    # --- the user's side (no faults, no capabilities) -----------------------------------

    def user_create(self, item: Item) -> str:
        """Create ``item`` as a user would; returns its remote id. Raises RemoteAlreadyExists
        for a taken UID when UIDs are enforced."""
        with self._lock:
            return self._create(item, None)

    def user_update(self, remote_id: str, item: Item) -> None:
        """Replace an item unconditionally. Raises RemoteNotFound."""
        with self._lock:
            if remote_id not in self._entries:
                raise RemoteNotFound("no such item", remote_id=remote_id)
            self._put(remote_id, StoredEntry(item, "", self._entries[remote_id].hub_item_id))

    def user_delete(self, remote_id: str) -> None:
        """Delete an item (a missing one is ignored)."""
        with self._lock:
            if self._entries.pop(remote_id, None) is not None:
                self._touch(remote_id)

    def user_write_raw(self, remote_id: str, text: str) -> None:
        """Store ``text`` as iCalendar under ``remote_id``: parsed when valid, else kept as a
        malformed entry the connector reports with an error."""
        from cirahub.core.errors import MalformedItem
        from cirahub.core.ical import parse_item  # lazy: only tests writing raw text need it

        with self._lock:
            try:
                entry = StoredEntry(parse_item(text), "", raw=text)
            except MalformedItem as exc:
                entry = StoredEntry(None, "", raw=text, error=str(exc))
            self._put(remote_id, entry)

    def items(self) -> dict[str, Item]:
        """Remote id → item of every well-formed entry."""
        with self._lock:
            return {rid: e.item for rid, e in self._entries.items() if e.item is not None}

    def entries(self) -> dict[str, StoredEntry]:
        """Remote id → stored entry, malformed ones included."""
        with self._lock:
            return dict(self._entries)

    def find_uid(self, uid: str) -> list[str]:
        """Remote ids of the items with ``uid`` (several only without UID enforcement)."""
        with self._lock:
            return [r for r, e in self._entries.items() if e.item is not None and e.item.uid == uid]

    def hub_item_id(self, remote_id: str) -> str | None:
        """The hub item id stamped on ``remote_id`` by the connector that wrote it."""
        with self._lock:
            entry = self._entries.get(remote_id)
            return entry.hub_item_id if entry else None

    @property
    def counter(self) -> int:
        with self._lock:
            return self._counter

    # --- fault knobs ---------------------------------------------------------------------

    def fail_next_writes(self, n: int = 1) -> None:
        """The next ``n`` connector writes raise TransientError without being applied."""
        with self._lock:
            self._fail_writes = n

    def fail_writes_matching(self, predicate: WritePredicate | None) -> None:
        """Connector writes for which ``predicate`` holds raise TransientError (None clears)."""
        with self._lock:
            self._fail_predicate = predicate

    def fail_writes_randomly(self, rate: float) -> None:
        """Each connector write fails with probability ``rate`` (seeded RNG)."""
        with self._lock:
            self._write_failure_rate = rate

    def lose_next_responses(self, n: int = 1) -> None:
        """The next ``n`` connector writes are applied but raise TransientError, as when the
        connection drops after the server committed (the crash between write and commit)."""
        with self._lock:
            self._lose_responses = n

    def fail_next_deltas(self, n: int = 1) -> None:
        """The next ``n`` deltas raise TransientError."""
        with self._lock:
            self._fail_deltas = n

    def partial_next_deltas(self, n: int = 1, fraction: float = 0.5) -> None:
        """The next ``n`` deltas return a seeded random ``fraction`` of what they would report,
        with ``complete=False``, no deletions and the cursor not advanced."""
        with self._lock:
            self._partial_deltas = n
            self.partial_fraction = fraction

    def bump_versions(self, remote_ids: Iterable[str] | None = None) -> None:
        """Change the versions of items (all by default) without changing content, like a
        server that rewrites items: stale versions held by a connector now fail."""
        with self._lock:
            for rid in list(self._entries if remote_ids is None else remote_ids):
                if rid in self._entries:
                    self._put(rid, self._entries[rid])

    def expire_cursors(self) -> None:
        """Compact the change log: every cursor issued so far is expired, so the next delta
        falls back to a full listing (like an invalid CalDAV sync-token)."""
        with self._lock:
            self._log.clear()
            self._log_floor = self._counter

    # --- server operations used by the connector -----------------------------------------

    def _touch(self, remote_id: str) -> str:
        self._counter += 1
        self._log.append((self._counter, remote_id))
        return str(self._counter)

    def _put(self, remote_id: str, entry: StoredEntry) -> str:
        version = self._touch(remote_id)
        self._entries[remote_id] = StoredEntry(
            entry.item, version, entry.hub_item_id, entry.raw, entry.error
        )
        return version

    def _uid_taken(self, uid: str, other_than: str | None = None) -> bool:
        return self.enforce_unique_uid and any(
            r != other_than for r in self.find_uid(uid)
        )

    def _create(self, item: Item, hub_item_id: str | None) -> str:
        if self._uid_taken(item.uid):
            raise RemoteAlreadyExists("an item with this UID exists", uid=item.uid)
        self._next_id += 1
        remote_id = f"mem-{self.incarnation}-{self._next_id:06d}"
        self._put(remote_id, StoredEntry(item, "", hub_item_id))
        return remote_id

    def count(self, what: str) -> None:
        with self._lock:
            self.stats[what] += 1

    def _check_write_faults(self, attempt: WriteAttempt) -> None:
        self.stats["write"] += 1
        if self._fail_writes > 0:
            self._fail_writes -= 1
            self.stats["faults_fired"] += 1
            raise TransientError("injected write failure", op=attempt.op)
        if self._fail_predicate is not None and self._fail_predicate(attempt):
            raise TransientError("injected write failure", op=attempt.op)
        if self._write_failure_rate and self.rng.random() < self._write_failure_rate:
            raise TransientError("injected random write failure", op=attempt.op)

    def _maybe_lose_response(self, op: str) -> None:
        if self._lose_responses > 0:
            self._lose_responses -= 1
            self.stats["faults_fired"] += 1
            raise TransientError("injected lost response (write was applied)", op=op)

    def conditional_create(self, item: Item, hub_item_id: str) -> WriteResult:
        with self._lock:
            self._check_write_faults(WriteAttempt("create", None, item))
            rid = self._create(item, hub_item_id)
            self._maybe_lose_response("create")
            return WriteResult(rid, self._entries[rid].version)

    def conditional_update(
        self, remote_id: str, expected: str, item: Item, hub_item_id: str
    ) -> WriteResult:
        with self._lock:
            self._check_write_faults(WriteAttempt("update", remote_id, item))
            entry = self._entries.get(remote_id)
            if entry is None:
                raise RemoteNotFound("no such item", remote_id=remote_id)
            if entry.version != expected:
                raise PreconditionFailed(
                    "item changed since it was read", remote_id=remote_id,
                    expected=expected, actual=entry.version,
                )
            if self._uid_taken(item.uid, other_than=remote_id):
                raise RemoteAlreadyExists("an item with this UID exists", uid=item.uid)
            version = self._put(remote_id, StoredEntry(item, "", hub_item_id))
            self._maybe_lose_response("update")
            return WriteResult(remote_id, version)

    def conditional_delete(self, remote_id: str, expected: str) -> None:
        with self._lock:
            self._check_write_faults(WriteAttempt("delete", remote_id, None))
            entry = self._entries.get(remote_id)
            if entry is None:
                return  # already gone: the goal is reached
            if entry.version != expected:
                raise PreconditionFailed(
                    "item changed since it was read", remote_id=remote_id,
                    expected=expected, actual=entry.version,
                )
            del self._entries[remote_id]
            self._touch(remote_id)
            self._maybe_lose_response("delete")

    def take_delta_fault(self) -> str | None:
        """Consume one delta fault: "fail", "partial" or None."""
        with self._lock:
            self.stats["delta"] += 1
            if self._fail_deltas > 0:
                self._fail_deltas -= 1
                self.stats["faults_fired"] += 1
                return "fail"
            if self._partial_deltas > 0:
                self._partial_deltas -= 1
                self.stats["faults_fired"] += 1
                return "partial"
            return None

    def snapshot(
        self, since: int | None = None
    ) -> tuple[dict[str, StoredEntry], int, set[str] | None]:
        """One consistent view: all entries, the current counter, and the remote ids written
        or deleted after ``since`` — None when ``since`` is None, expired or from the future
        (the caller must then list instead)."""
        with self._lock:
            ids: set[str] | None = None
            if since is not None and self._log_floor <= since <= self._counter:
                ids = {rid for c, rid in self._log if c > since}
            return dict(self._entries), self._counter, ids
