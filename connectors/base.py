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

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
            key = w.remote_id or f"create:{w.item.uid if w.item is not None else w.hub_item_id}"
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
