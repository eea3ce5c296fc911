"""Where a push keeps what it did (:class:`PushWrites`): the pending writes of each chunk of
writes before it is sent, the links of each chunk after its writes returned, the run's end.

Guarantees: :meth:`PushWrites.commit_links` with ``then`` stores the links of the chunk just
written and the pending writes of the next chunk in ONE transaction (:class:`StoreWrites`;
one group-commit job in a wave), and returns only once both are durable: a push sends the
next chunk only after that, so a chunk's pending writes are still durable before its files
or requests go out, and a chunk's links still only after its writes returned — with one
commit per chunk instead of two (a 5,000-item vdir push: 10 instead of 20).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError

from cirahub.core.model import Link, PendingWrite, WriteFailure
from cirahub.store.engine import translate
from cirahub.store.protocols import SyncStore

__all__ = ["LinkChanges", "PushOutcome", "PushWrites", "StoreWrites"]


@dataclass
class PushOutcome:
    """What one push did. ``stale``: writes refused for a stale remote version (the spoke
    changed under us: re-pull and re-plan); ``failures``: writes failed for a reason of their
    own (recorded with their items); ``succeeded``: hub item ids written."""

    counts: dict[str, int] = field(default_factory=dict)
    stale: int = 0
    failures: list[WriteFailure] = field(default_factory=list)
    succeeded: list[str] = field(default_factory=list)
    #: hub item id → (UID, the spoke's notes) of writes the spoke holds as a projection
    projections: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    #: hub item ids the spoke cannot hold at all (NotHeld): declared, not failed, not retried
    #: until the item changes
    declined: list[str] = field(default_factory=list)
    #: the hub version this push read before choosing its writes (its snapshot: every change
    #: up to it was written, or left below the push cursor when its write failed)
    version: int = 0

    @property
    def settled(self) -> list[str]:
        """Hub item ids this push is done with: written, or declined by the spoke."""
        return [*self.succeeded, *self.declined]

    @property
    def failed(self) -> bool:
        return bool(self.stale or self.failures)


@dataclass
class LinkChanges:
    """Links to commit after the current chunk of writes."""

    upserts: list[Link] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    #: hub item ids whose create/update succeeded (their pending writes are done)
    confirmed: list[str] = field(default_factory=list)


class PushWrites(Protocol):
    """Where a push keeps what it did, in this order: the pending writes of the first chunk
    (durable before the chunk is sent), the links of each chunk written (only after the
    spoke's write returned) with the pending writes of the next chunk (``then``: durable
    when the call returns, before that chunk is sent), and the end (the last links, failed
    writes, projections, the push cursor: None when it did not move)."""

    def note_pending(self, spoke_id: str, pending: Sequence[PendingWrite]) -> None: ...
    def commit_links(self, spoke_id: str, links: LinkChanges,
                     then: Sequence[PendingWrite] = ()) -> None: ...
    def finish(self, spoke_id: str, outcome: PushOutcome, links: LinkChanges,
               push_cursor: int | None) -> None: ...


class StoreWrites:
    """:class:`PushWrites` straight to the store (a full run): each call one transaction."""

    def __init__(self, store: SyncStore) -> None:
        self.store = store

    def note_pending(self, spoke_id: str, pending: Sequence[PendingWrite]) -> None:
        self.store.note_pending_writes(spoke_id, pending)

    def commit_links(self, spoke_id: str, links: LinkChanges,
                     then: Sequence[PendingWrite] = ()) -> None:
        if not (links.upserts or links.deletes):
            if then:
                self.store.note_pending_writes(spoke_id, then)
            return
        if not then:
            self.store.commit_links(spoke_id, links.upserts, links.deletes, links.confirmed)
            return
        try:
            with self.store.transaction():  # one commit (SQLite: one fsync), both or neither
                self.store.commit_links(spoke_id, links.upserts, links.deletes,
                                        links.confirmed)
                self.store.note_pending_writes(spoke_id, then)
        except SQLAlchemyError as exc:  # the commit itself failed
            raise translate(exc, "commit_links") from exc

    def finish(self, spoke_id: str, outcome: PushOutcome, links: LinkChanges,
               push_cursor: int | None) -> None:
        self.commit_links(spoke_id, links)
        if outcome.failures or outcome.settled:
            self.store.record_write_errors(spoke_id, outcome.failures, outcome.settled)
            self.store.record_projections(spoke_id, outcome.projections, outcome.settled)
        if push_cursor is not None:
            self.store.set_cursors(spoke_id, push_cursor=push_cursor)
