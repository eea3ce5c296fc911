"""The small storage protocol every spoke kind implements.

A connector is the only code that talks to a spoke's calendar. It is synchronous (the spoke
actor runs it in a bounded thread pool) and stateless between calls apart from connection
pools: everything it must remember (cursor, remote versions) is handed in by the caller.

Guarantees every connector gives (checked by ``tests/contract``):

- :meth:`SpokeConnector.delta` never reports a deletion it did not prove: an id is in
  ``Delta.deleted`` only when a complete, successful listing lacks it, or the server reported
  the deletion. A failed or partial listing raises (or returns ``complete=False`` with no
  deletions).
- Every write is conditional: ``update``/``delete`` take the remote version last seen and
  raise :class:`~cirahub.core.errors.PreconditionFailed` if it changed;
  ``create`` raises :class:`~cirahub.core.errors.RemoteAlreadyExists` if the target exists.
- Every write returns the new remote version, so the caller can recognize its own echo.
- Errors are the project's connector errors (``TransientError``, ``AuthError``,
  ``RemoteNotFound``, ``PreconditionFailed``, ``ConfigError``, ``ProtocolError``,
  ``ReadOnlySpoke``); no library exception escapes.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import ClassVar, Protocol, runtime_checkable

from cirahub.core.errors import CirahubError
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, Delta, RemoteItem


@dataclass(frozen=True)
class WriteResult:
    """Outcome of a successful write: where the item now lives and at which version."""

    remote_id: str
    remote_version: str
    #: what the spoke could not hold as given and how it was projected (one line each)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Write:
    """One write for :meth:`SpokeConnector.write_many`. ``op`` is create, update or delete;
    ``remote_id``/``expected_version`` are None for a create, ``item`` is None for a delete."""

    op: str
    hub_item_id: str
    item: Item | None = None
    remote_id: str | None = None
    expected_version: str | None = None


#: what write_many returns per input, in input order (delete → WriteResult with version "")
WriteOutcome = WriteResult | CirahubError


@runtime_checkable
class SpokeConnector(Protocol):
    """The storage protocol. See the module docstring for the guarantees."""

    kind: ClassVar[str]
    capabilities: Capabilities

    def delta(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        """Changes since ``cursor`` (None = first run: everything is new).

        ``known`` maps every remote id the caller has a link for to the remote version it last
        saw; a connector that lists uses it to find changed and deleted items, one with a
        server cursor may ignore it. Returned items have content (``RemoteItem.item``) or an
        ``error``.
        """
        ...

    def get_many(self, remote_ids: Sequence[str]) -> list[RemoteItem]:
        """Fetch items by remote id, in input order. A missing id raises RemoteNotFound."""
        ...

    def create(self, item: Item, hub_item_id: str) -> WriteResult:
        """Create ``item``. ``hub_item_id`` is stamped where the kind can keep it, so a crash
        between this write and the link commit never creates a duplicate."""
        ...

    def update(self, remote_id: str, expected_version: str, item: Item, hub_item_id: str) -> WriteResult:
        """Replace the item at ``remote_id`` if it is still at ``expected_version``."""
        ...

    def delete(self, remote_id: str, expected_version: str) -> None:
        """Delete the item at ``remote_id`` if it is still at ``expected_version``.
        An item already gone is success (the goal is reached)."""
        ...

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        """Apply many writes; one outcome per write, in order; one failure does not stop the
        others. Kinds with batch APIs (EWS) override :meth:`BaseConnector.write_many`."""
        ...

    def close(self) -> None:
        """Release connections. Idempotent."""
        ...


class BaseConnector:
    """Shared behaviour: ``write_many`` as a loop over single writes; read-only refusal."""

    kind: ClassVar[str] = "base"
    capabilities: Capabilities = Capabilities()

    #: whether ``delta`` reads nothing but this machine (no network): cheap enough that the
    #: spoke actor probes the scheduled polls of many such spokes one after the other in one
    #: thread (a kind over a network probes each in a thread of its own)
    local_delta: ClassVar[bool] = False

    #: how many writes to *different* items may be in flight at once (a kind over a network
    #: sets its connection limit; 1: one after the other)
    write_parallel: int = 1

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        """Every write's outcome, in input order. With :attr:`write_parallel` > 1, writes to
        different items run at once (up to that many); writes to one item keep their order
        (a batch is cut into waves in which each item appears once)."""
        if self.write_parallel <= 1 or len(writes) < 2:
            return [self._outcome(w) for w in writes]
        waves: list[list[Write]] = [[]]
        seen: set[str] = set()
        for w in writes:
            key = write_key(w)
            if key in seen:
                waves.append([])
                seen = set()
            waves[-1].append(w)
            seen.add(key)
        out: list[WriteOutcome] = []
        with ThreadPoolExecutor(min(self.write_parallel, len(writes))) as pool:
            for wave in waves:
                out.extend(pool.map(self._outcome, wave))
        return out

    def write_stream(self) -> WriteStream | None:
        """A :class:`WriteStream` for consecutive batches of writes (what :meth:`write_many`
        does to each, without the pause at each batch's end), or None: writes one after the
        other (:attr:`write_parallel` 1), or a kind with its own :meth:`write_many`."""
        if self.write_parallel <= 1 or type(self).write_many is not BaseConnector.write_many:
            return None
        return WriteStream(self._outcome, self.write_parallel)

    def _outcome(self, w: Write) -> WriteOutcome:
        try:
            return self._write_one(w)
        except CirahubError as exc:
            return exc

    def _write_one(self, w: Write) -> WriteResult:
        if w.op == "create":
            assert w.item is not None
            return self.create(w.item, w.hub_item_id)  # type: ignore[attr-defined]
        if w.op == "update":
            assert w.item is not None and w.remote_id is not None and w.expected_version is not None
            return self.update(w.remote_id, w.expected_version, w.item, w.hub_item_id)  # type: ignore[attr-defined]
        if w.op == "delete":
            assert w.remote_id is not None and w.expected_version is not None
            self.delete(w.remote_id, w.expected_version)  # type: ignore[attr-defined]
            return WriteResult(w.remote_id, "")
        raise ValueError(f"unknown write op {w.op!r}")

    def close(self) -> None:
        return None


def write_key(w: Write) -> str:
    """The item a write is to: writes with one key keep their order."""
    return w.remote_id or f"create:{w.item.uid if w.item is not None else w.hub_item_id}"


#: a batch's look at its finished outcomes (the writes, their outcomes) → the outcomes kept
Check = Callable[[Sequence[Write], list[WriteOutcome]], list[WriteOutcome]]


class _Batch:
    def __init__(self, writes: Sequence[Write]) -> None:
        self.writes = list(writes)
        self.outcomes: list[WriteOutcome | None] = [None] * len(self.writes)
        self.left = len(self.writes)
        self.error: BaseException | None = None
        self.done: Future[list[WriteOutcome]] = Future()


class WriteStream:
    """Consecutive batches of writes through one set of ``parallel`` threads that stays busy
    from one batch to the next: a batch submitted while the one before is on the wire starts
    as threads come free, so the caller handles a batch's outcomes (commits its links) while
    the next batch is written. At most ``parallel`` calls run at once; writes to one item
    keep their order (the later waits for the earlier's end); ``check`` runs on each batch's
    outcomes once all are in, one batch at a time in submission order, on one of the
    threads ahead of queued writes. :meth:`submit` gives the batch's outcomes (in input
    order) as a future; :meth:`close` lets what was submitted finish."""

    def __init__(self, write: Callable[[Write], WriteOutcome], parallel: int,
                 check: Check | None = None, on_close: Callable[[], None] | None = None,
                 ) -> None:
        self._write, self._check, self._on_close = write, check, on_close
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = \
            queue.PriorityQueue()
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._last: dict[str, Future[None]] = {}  # item key → its latest write's end
        self._unchecked: deque[_Batch] = deque()  # submitted, not yet checked, in order
        self._checking = False
        self._threads = [threading.Thread(target=self._work, name=f"write-stream-{i}",
                                          daemon=True) for i in range(max(1, parallel))]
        for t in self._threads:
            t.start()

    def submit(self, writes: Sequence[Write]) -> Future[list[WriteOutcome]]:
        batch = _Batch(writes)
        with self._lock:
            self._unchecked.append(batch)
            for i, w in enumerate(batch.writes):
                key = write_key(w)
                end: Future[None] = Future()
                before, self._last[key] = self._last.get(key), end
                self._put(1, partial(self._one, batch, i, key, before, end))
            self._next_check()
        return batch.done

    def close(self) -> None:
        for _ in self._threads:
            self._put(2, None)
        for t in self._threads:
            t.join()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> WriteStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _put(self, priority: int, task: Callable[[], None] | None) -> None:
        self._queue.put((priority, next(self._seq), task))

    def _work(self) -> None:
        while (task := self._queue.get()[2]) is not None:
            task()

    def _one(self, batch: _Batch, i: int, key: str, before: Future[None] | None,
             end: Future[None]) -> None:
        try:
            if before is not None:  # queued earlier, so already taken by a thread
                before.result()
            batch.outcomes[i] = self._write(batch.writes[i])
        except BaseException as exc:  # not a write's own failure: the batch fails
            batch.error = exc
        finally:
            end.set_result(None)
            with self._lock:
                if self._last.get(key) is end:
                    del self._last[key]
                batch.left -= 1
                self._next_check()

    def _next_check(self) -> None:
        """With the lock held: queue the check of the oldest batch once it is written."""
        if self._checking or not self._unchecked or self._unchecked[0].left:
            return
        self._checking = True
        self._put(0, partial(self._finish, self._unchecked.popleft()))

    def _finish(self, batch: _Batch) -> None:
        try:
            if batch.error is not None:
                raise batch.error
            outcomes = [o for o in batch.outcomes if o is not None]
            batch.done.set_result(outcomes if self._check is None
                                  else self._check(batch.writes, outcomes))
        except BaseException as exc:
            batch.done.set_exception(exc)
        finally:
            with self._lock:
                self._checking = False
                self._next_check()
