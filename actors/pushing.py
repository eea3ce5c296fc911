"""The push side of a run: hub changes → conditional spoke writes → links.

Guarantees: a link is committed only after its spoke write succeeded (per chunk of writes
— :func:`write_chunk`: the connector kind's, :data:`WRITE_CHUNK` by default — or two half
chunks of a connector's :class:`WriteStream`, the next on the wire while the one before is
linked: a crash loses at most one chunk of writes' links) and holds the returned remote
version and the fingerprint of what was written, so the next pull recognizes the echo;
before a create or update is sent, its fingerprint is stored as a pending write, so the echo
of a write whose answer was lost is recognized too; the push cursor advances only past hub
versions whose writes all succeeded; every failed write stays with its item.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import datetime

from cirahub.actors.failures import note_failure, note_projection, with_unsupported
from cirahub.actors.push_writes import LinkChanges, PushOutcome, PushWrites, StoreWrites
from cirahub.connectors.base import (
    SpokeConnector,
    Write,
    WriteOutcome,
    WriteResult,
    WriteStream,
)
from cirahub.connectors.kinds import all_kinds
from cirahub.core.counts import Count
from cirahub.core.errors import CirahubError, NotHeld
from cirahub.core.model import HubItem, Link, PendingWrite
from cirahub.core.ops import BumpLink, CreateInSpoke, DeleteInSpoke, SpokeOp, UpdateInSpoke
from cirahub.core.plan import SpokeContext
from cirahub.core.push import plan_push
from cirahub.store.protocols import SyncStore

log = logging.getLogger(__name__)

#: what a push keeps of what it did lives in push_writes (re-exported: callers import it here)
__all__ = ["WRITE_CHUNK", "LinkChanges", "PlannedPush", "PushBasis", "PushOutcome",
           "PushWrites", "Pusher", "StoreWrites", "declined", "pending_of", "plan_from",
           "write_chunk"]

#: how many spoke writes go to the connector at once (EWS batches them, others loop), unless
#: the connector's kind declares its own (:attr:`~cirahub.connectors.kinds.SpokeKind.write_chunk`)
WRITE_CHUNK = 100


def write_chunk(connector: SpokeConnector) -> int:
    """How many writes a push sends ``connector`` at once and links in one commit: its
    kind's ``write_chunk``, else :data:`WRITE_CHUNK` (read at each call: tests set it)."""
    kind = all_kinds().get(getattr(connector, "kind", ""))
    size = kind.write_chunk if kind is not None else None
    return WRITE_CHUNK if size is None else size


@dataclass(frozen=True)
class PushBasis:
    """What a push decides from: the hub version it read first (its snapshot), then the hub
    items to look at (changed after the push cursor, up to the snapshot, plus the touched
    ones) and the spoke's links of them by hub item id."""

    hub_version: int
    #: the spoke's push cursor the candidates were read after
    push_cursor: int
    candidates: Mapping[str, HubItem]
    links: Mapping[str, Link]


@dataclass(frozen=True)
class PlannedPush:
    """A push planned from its basis (:func:`plan_from`): the spoke writes to send, in
    order, and the links to bump (no write needed). ``noted``: the pending writes of all of
    ``writes`` are durable already (a wave noted them before any was sent)."""

    basis: PushBasis
    stats: Mapping[str, int]
    bumps: tuple[Link, ...]
    writes: tuple[tuple[SpokeOp, Write], ...]
    noted: bool = False


def plan_from(ctx: SpokeContext, basis: PushBasis, now: datetime) -> PlannedPush:
    """The writes and link bumps of a push from ``basis`` (pure)."""
    plan = plan_push(ctx, basis.candidates.values(), basis.links, now)
    bumps, writes = [], []
    for op in plan.ops:
        if isinstance(op, BumpLink):
            bumps.append(replace(basis.links[op.hub_item_id], hub_version=op.hub_version))
        else:
            writes.append((op, _to_write(op)))
    return PlannedPush(basis, dict(plan.stats), tuple(bumps), tuple(writes))


def pending_of(writes: Iterable[tuple[SpokeOp, Write]]) -> list[PendingWrite]:
    """The pending writes to store before ``writes`` are sent (creates and updates)."""
    return [PendingWrite(op.hub_item_id, op.fingerprint, op.hub_version)
            for op, _ in writes if isinstance(op, CreateInSpoke | UpdateInSpoke)]


class Pusher:
    """Writes the hub's changes since ``push_cursor`` to one spoke; what it did goes to
    ``writes`` (the store itself by default)."""

    def __init__(self, store: SyncStore, connector: SpokeConnector, ctx: SpokeContext,
                 writes: PushWrites | None = None) -> None:
        self.store, self.connector, self.ctx = store, connector, ctx
        self.writes = writes or StoreWrites(store)

    def push(self, hub_id: str, push_cursor: int, touched: Iterable[str],
             now: datetime, *, since: int | None = None) -> PushOutcome:
        """Plan and write; ``touched`` are hub items to look at even if their version did
        not move (the pull just linked or merged them). ``since`` (≥ ``push_cursor``): read
        only the hub items changed after it, when the caller knows every version up to it
        needs no write (its own merge made them in sync, see
        :meth:`~cirahub.actors.cycle.SyncCycle`); ``push_cursor`` stays the stored cursor."""
        # Captured before reading candidates: merges by other spokes after this point are
        # picked up next run rather than skipped by an advanced cursor.
        hub_version = self.store.hub_version(hub_id)
        after = push_cursor if since is None else max(push_cursor, since)
        candidates = self._candidates(hub_id, after, set(touched), hub_version)
        return self._push_candidates(hub_version, push_cursor, candidates, now)

    def push_touched(self, hub_id: str, push_cursor: int, touched: Iterable[str],
                     now: datetime, own: int | None) -> PushOutcome:
        """The push of a pull run: the ``touched`` items only (what the merge could not make
        the same as the spoke); the push cursor passes this run's own merges (``own``: they
        are in sync with the spoke by construction), never another spoke's versions, which
        the push run after it writes."""
        ids = list(touched)
        candidates = self.store.hub_items(hub_id, ids) if ids else {}
        return self._push_candidates(push_cursor if own is None else own, push_cursor,
                                     candidates, now)

    def _push_candidates(self, hub_version: int, push_cursor: int,
                         candidates: Mapping[str, HubItem], now: datetime) -> PushOutcome:
        links = (self.store.links_by_item(self.ctx.spoke_id, list(candidates))
                 if candidates else {})
        return self.push_from(PushBasis(hub_version, push_cursor, candidates, links), now)

    def push_from(self, basis: PushBasis, now: datetime) -> PushOutcome:
        """Plan from ``basis`` (read by :meth:`push`, or by a wave for many spokes) and
        write."""
        return self.send(plan_from(self.ctx, basis, now))

    def send(self, planned: PlannedPush) -> PushOutcome:
        """Write what :func:`plan_from` planned (the wave's plans: their pending writes may
        be durable already, ``planned.noted``) and keep what was done in ``writes``."""
        spoke_id, basis, writes = self.ctx.spoke_id, planned.basis, planned.writes
        candidates = basis.candidates
        outcome = PushOutcome(version=basis.hub_version)
        outcome.counts.update(planned.stats)
        pending = LinkChanges(upserts=list(planned.bumps))
        failed_versions: list[int] = []
        size = write_chunk(self.connector)

        def handle(chunk: Sequence[tuple[SpokeOp, Write]], results: Sequence[WriteOutcome],
                   last: bool, then: Sequence[PendingWrite] = ()) -> None:
            for (op, w), result in zip(chunk, results, strict=True):
                if isinstance(result, WriteResult):
                    self._written(op, result, candidates, pending, outcome)
                elif isinstance(result, NotHeld):
                    declined(op, result, candidates, outcome)
                else:
                    failed_versions.append(op.hub_version)
                    self._refused(op, w, result, candidates, outcome)
            self._remember_writes(chunk, results)
            # Commit per chunk so a crash loses at most one chunk's links (and the
            # next pull matches those items by UID / hub-id stamp instead of duplicating
            # them); the last chunk's links are committed with the end. ``then``: the next
            # chunk's pending writes, in the same transaction (durable before it is sent).
            if not last:
                self._commit(pending, then)

        # a connector that keeps its writes flowing from one chunk to the next (CalDAV)
        open_stream = getattr(self.connector, "write_stream", None)
        stream = open_stream() if open_stream is not None and len(writes) > size else None
        if stream is None:
            chunks = [writes[i:i + size] for i in range(0, len(writes), size)]
            if chunks:
                self._note(chunks[0], planned.noted)
            for n, chunk in enumerate(chunks, 1):
                results = self.connector.write_many([w for _, w in chunk])
                then = pending_of(chunks[n]) if n < len(chunks) and not planned.noted else []
                handle(chunk, results, n == len(chunks), then)
        else:
            with stream:
                self._stream(stream, writes, size, planned.noted, handle)
        outcome.counts[Count.PUSHED] = len(outcome.succeeded)
        # A failed write keeps its hub version (and everything after it) in the next run's
        # candidates; this may move the cursor back, which only costs a re-check.
        new_cursor = min(failed_versions) - 1 if failed_versions else basis.hub_version
        # a cursor that did not move is not written
        self.writes.finish(spoke_id, outcome, pending,
                           None if new_cursor == basis.push_cursor else new_cursor)
        if writes:
            self._settle_cursor()
        return outcome

    def _note(self, chunk: Sequence[tuple[SpokeOp, Write]], noted: bool) -> None:
        # Durably before sending: should the answer be lost (or this process die), the
        # next pull knows the spoke's copy of what we sent is our echo, not an edit.
        sent = pending_of(chunk)
        if sent and not noted:
            self.writes.note_pending(self.ctx.spoke_id, sent)

    def _stream(self, stream: WriteStream, writes: Sequence[tuple[SpokeOp, Write]],
                size: int, noted: bool,
                handle: Callable[[Sequence[tuple[SpokeOp, Write]],
                                  Sequence[WriteOutcome], bool], None]) -> None:
        """``writes`` through ``stream`` in chunks of half ``size`` (the write chunk), the
        next chunk on the wire while the one before is handled (its links committed): at
        most two chunks are ever written and not linked, so a crash still loses at most
        ``size`` writes' links, and the connector's requests do not pause at each chunk's
        end. Each chunk's pending writes are noted before it is submitted."""
        step = max(1, size // 2)
        chunks = [writes[i:i + step] for i in range(0, len(writes), step)]
        on_wire: deque[tuple[int, Future[list[WriteOutcome]]]] = deque()
        for n, chunk in enumerate(chunks):
            self._note(chunk, noted)
            on_wire.append((n, stream.submit([w for _, w in chunk])))
            while len(on_wire) > 1 or (on_wire and n == len(chunks) - 1):
                done, results = on_wire.popleft()
                handle(chunks[done], results.result(), done == len(chunks) - 1)

    def _candidates(self, hub_id: str, push_cursor: int, touched: set[str],
                    hub_version: int) -> dict[str, HubItem]:
        candidates = {h.id: h for h in self.store.hub_items_changed_since(hub_id, push_cursor)}
        extra = touched - set(candidates)
        if extra:
            candidates.update(self.store.hub_items(hub_id, extra))
        return {i: h for i, h in candidates.items() if h.version <= hub_version or i in extra}

    def _written(self, op: SpokeOp, result: WriteResult, candidates: Mapping[str, HubItem],
                 pending: LinkChanges, outcome: PushOutcome) -> None:
        outcome.succeeded.append(op.hub_item_id)
        hub = candidates.get(op.hub_item_id)
        result = with_unsupported(result, hub, self.ctx.capabilities.unsupported_fields)
        note_projection(self.ctx.spoke_id, op, result, outcome.counts)
        if result.notes and hub is not None:
            outcome.projections[op.hub_item_id] = (hub.uid, result.notes)
        if isinstance(op, DeleteInSpoke):
            pending.deletes.append(op.hub_item_id)
            return
        assert isinstance(op, CreateInSpoke | UpdateInSpoke)
        pending.confirmed.append(op.hub_item_id)
        pending.upserts.append(Link(
            spoke_id=self.ctx.spoke_id, hub_item_id=op.hub_item_id,
            uid=candidates[op.hub_item_id].uid, remote_id=result.remote_id,
            remote_version=result.remote_version, fingerprint=op.fingerprint,
            hub_version=op.hub_version,
        ))

    def _refused(self, op: SpokeOp, w: Write, error: CirahubError,
                 candidates: Mapping[str, HubItem], outcome: PushOutcome) -> None:
        own = note_failure(self.ctx.spoke_id, op, w, error, candidates, outcome.counts)
        if own:
            outcome.failures.extend(own)
        else:
            outcome.stale += 1  # a stale remote version is re-planned, not the item's fault

    def _remember_writes(self, chunk: Sequence[tuple[SpokeOp, Write]],
                         results: Sequence[object]) -> None:
        """Tell a server-cursor connector which items this run created and deleted after
        its pull cursor was taken: a net-change cursor (sync-collection, SyncFolderItems)
        never reports the deletion of an item created and deleted between two of its states,
        nor an item we deleted that came back as it was (a create of ours delivered late), so
        the connector notes them in the cursor and asks about them next pull. Stored before
        the links, so a crash in between leaves a note about an unlinked item (ignored),
        never a link without its note."""
        remember = getattr(self.connector, "cursor_after_writes", None)
        done = [(op, r) for (op, _), r in zip(chunk, results, strict=True)
                if isinstance(r, WriteResult)]
        # an update answered with another remote id made a new item too (EWS recreates a
        # series to give back a deleted occurrence)
        created = [r.remote_id for op, r in done if isinstance(op, CreateInSpoke) or (
            isinstance(op, UpdateInSpoke) and r.remote_id != op.remote_id)]
        deleted = [op.remote_id for op, _ in done if isinstance(op, DeleteInSpoke)]
        if remember is None or not (created or deleted):
            return
        cursor = self.store.get_spoke(self.ctx.spoke_id).pull_cursor
        noted = remember(cursor, created, deleted)
        if noted != cursor:
            self.store.set_cursors(self.ctx.spoke_id, pull_cursor=noted)

    def _settle_cursor(self) -> None:
        """Let a server-cursor connector move its pull cursor past this run's own writes
        (``cursor_after_push``), only now that their links are stored: a cursor past an
        item without its link would never report that item again."""
        settle = getattr(self.connector, "cursor_after_push", None)
        if settle is None:
            return
        cursor = self.store.get_spoke(self.ctx.spoke_id).pull_cursor
        moved = settle(cursor)
        if moved != cursor:
            self.store.set_cursors(self.ctx.spoke_id, pull_cursor=moved)

    def _commit(self, pending: LinkChanges, then: Sequence[PendingWrite] = ()) -> None:
        self.writes.commit_links(self.ctx.spoke_id, pending, then)
        pending.upserts, pending.deletes, pending.confirmed = [], [], []


def declined(op: SpokeOp, error: NotHeld, candidates: Mapping[str, HubItem],
             outcome: PushOutcome) -> None:
    """A write of an item the spoke cannot hold at all: its declared projection (the item is
    not written there, with the spoke's reason), not a failure of the run."""
    hub = candidates.get(op.hub_item_id)
    kind = str(error.fields.get("kind") or "item")
    outcome.declined.append(op.hub_item_id)
    outcome.counts[Count.PROJECTED] = outcome.counts.get(Count.PROJECTED, 0) + 1
    outcome.projections[op.hub_item_id] = (hub.uid if hub is not None else "",
                                           (f"{kind}: not written ({error.message})",))
    log.info("spoke does not hold %s: %s", op.hub_item_id, error)


def _to_write(op: SpokeOp) -> Write:
    if isinstance(op, CreateInSpoke):
        return Write("create", op.hub_item_id, item=op.item)
    if isinstance(op, UpdateInSpoke):
        return Write("update", op.hub_item_id, item=op.item, remote_id=op.remote_id,
                     expected_version=op.expected_version)
    assert isinstance(op, DeleteInSpoke)
    return Write("delete", op.hub_item_id, remote_id=op.remote_id,
                 expected_version=op.expected_version)
