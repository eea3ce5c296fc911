"""The store side of push runs of many spokes at once (the fan-out's waves, see
:mod:`cirahub.actors.push_wave`): one read of what a wave of spokes needs, and one write
transaction for what many push runs did.

The per-spoke methods a full run uses (``commit_links``, ``record_write_errors``,
``record_projections``) write through the same helpers below, so a wave's commit and a full
run's commit cannot mean different things. Statements are per *group* of spokes, not per
spoke: the pairs (spoke, hub item) a statement touches are grouped by their set of hub items
(the fan-out of one edit: every spoke, the same item), each group a cross product sent as two
IN-lists (so both backends use the primary-key index).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from cirahub.core.errors import NotFound
from cirahub.core.model import Link, PendingWrite, WriteFailure
from cirahub.core.states import RunStatus, SpokeState
from cirahub.store import models as m
from cirahub.store.base import (
    LINK_SELECT,
    StoreBase,
    chunks,
    link,
    spoke_record,
    update_links_in_place,
    utcnow,
)
from cirahub.store.batch import jsonable
from cirahub.store.engine import guarded
from cirahub.store.lease import RUNTIME
from cirahub.store.pending import put_pending
from cirahub.store.records import SpokeRecord
from cirahub.store.rows import PlainInsert, delete_pairs_in, select_pairs

_L, _Q, _P, _PW = m.links.c, m.quarantine.c, m.projections.c, m.pending_writes.c
_DC = m.deleted_copies.c
#: quarantine rows of failed writes use this prefix + the hub item id as their remote id (a
#: create has no remote id yet, and a pull-side row of the same item must not be clobbered)
WRITE_FAILED_PREFIX = "write:"
#: quarantine reason of a failed write
WRITE_FAILED = "write_failed"
#: longest stored detail of a failed write (a library message may be long)
_DETAIL_MAX = 2000
#: most notes kept per projected item (a connector declares a few; bound what is stored)
_NOTES_MAX = 50


@dataclass(frozen=True)
class WaveView:
    """What a wave reads first: the spokes (those still stored), their hubs' versions and the
    runtime lease's epoch."""

    spokes: dict[str, SpokeRecord]
    hub_versions: dict[str, int]
    epoch: int


@dataclass(frozen=True)
class PushCommit:
    """What one push run (or one chunk of its writes) leaves in the store. ``run_id`` set:
    the run ends here and is recorded as one finished run (``trigger``, ``started_at``,
    ``status``, ``counts``, ``error``); ``state``: the spoke's state to record with ``error``
    (None: leave it); ``push_cursor`` None: leave it."""

    spoke_id: str
    hub_id: str
    upserts: Sequence[Link] = ()
    deletes: Sequence[str] = ()
    confirmed: Sequence[str] = ()
    failures: Sequence[WriteFailure] = ()
    settled: Sequence[str] = ()  # hub item ids written, or declined by the spoke
    projections: Mapping[str, tuple[str, Sequence[str]]] = field(default_factory=dict)
    push_cursor: int | None = None
    run_id: str | None = None
    trigger: str = ""
    started_at: datetime | None = None
    status: RunStatus = RunStatus.OK
    counts: Mapping[str, int] = field(default_factory=dict)
    error: Mapping[str, Any] | None = None
    state: SpokeState | None = None


def cross_groups(pairs: Mapping[str, Iterable[str]]) -> Iterator[tuple[list[str], list[str]]]:
    """(firsts, seconds) IN-list pairs whose cross products are exactly ``pairs`` (a first →
    its seconds), each list at most :data:`~cirahub.store.base.CHUNK` long."""
    by_set: dict[frozenset[str], list[str]] = defaultdict(list)
    for first, seconds in pairs.items():
        key = frozenset(seconds)
        if key:
            by_set[key].append(first)
    for seconds_set, firsts in by_set.items():
        for a in chunks(sorted(firsts)):
            for b in chunks(sorted(seconds_set)):
                yield a, b


def delete_pairs(conn: Connection, table: Table, first: Column[Any], second: Column[Any],
                 pairs: Mapping[str, Iterable[str]]) -> None:
    """Delete the rows of ``table`` whose (first, second) is in ``pairs`` (text columns)."""
    for a, b in cross_groups(pairs):
        delete_pairs_in(conn, table.name, first.name, a, second.name, b)


def link_values(spoke_id: str, ln: Link) -> dict[str, Any]:
    return dict(spoke_id=spoke_id, hub_item_id=ln.hub_item_id, remote_id=ln.remote_id,
                remote_version=ln.remote_version, fingerprint=ln.fingerprint,
                hub_version=ln.hub_version, fp_version=ln.fp_version)


_INSERT_LINKS = PlainInsert(m.links, ("spoke_id", "hub_item_id", "remote_id", "remote_version",
                                      "fingerprint", "hub_version", "fp_version"))
_INSERT_COPIES = PlainInsert(m.deleted_copies, ("spoke_id", "hub_item_id", "hub_version",
                                                "fingerprint", "fp_version"))


def _link_pairs(conn: Connection, columns: str, pairs: Mapping[str, Iterable[str]]
                ) -> list[Any]:
    """These columns of the links of ``pairs`` (spoke → hub item ids), as plain rows."""
    return [r for a, b in cross_groups(pairs)
            for r in select_pairs(conn, columns, "links", "spoke_id", a, "hub_item_id", b)]


def put_links(conn: Connection, changes: Mapping[str, tuple[Sequence[Link], Sequence[str],
                                                            Sequence[str]]]) -> None:
    """Per spoke (upserts, deletes, confirmed): set these links (replacing any link of the
    same hub item or the same remote id in the spoke; the last of an item wins), delete the
    links of the hub item ids in deletes, remembering each deleted copy (``deleted_copies``:
    the planner's row 4b''); the pending writes of deletes and confirmed (hub items whose
    write succeeded) are done. IntegrityError when a hub item no longer exists.

    The links of these items are read first, so only those stored are deleted (a spoke's
    links are written by its own runs, one at a time: nothing adds one in between)."""
    gone: dict[str, set[str]] = {}
    deleted: dict[str, set[str]] = {}  # copies deleted, not linked again
    taken: dict[str, set[str]] = {}
    done: dict[str, set[str]] = {}
    rows: list[tuple[Any, ...]] = []
    finals = {spoke_id: {ln.hub_item_id: ln for ln in upserts}
              for spoke_id, (upserts, _, _) in changes.items()}
    # A link that keeps its remote id (an update written in place) is updated in place: its
    # row and its three index entries stay where they are (a delete and an insert wrote
    # ~50 more pages per 62 links). Every other link of these items or remote ids goes.
    stored = {(s, i): r for s, i, r in _link_pairs(conn, "spoke_id, hub_item_id, remote_id",
                                                    finals)}
    moved: list[dict[str, Any]] = []
    replaced: dict[str, set[str]] = {}  # items whose stored link is deleted
    for spoke_id, (_, deletes, confirmed) in changes.items():
        final = finals[spoke_id]
        kept = {i for i, ln in final.items() if stored.get((spoke_id, i)) == ln.remote_id}
        gone[spoke_id] = set(deletes) | set(final)
        replaced[spoke_id] = {i for i in set(final) - kept if (spoke_id, i) in stored}
        deleted[spoke_id] = set(deletes) - set(final)
        taken[spoke_id] = {ln.remote_id for i, ln in final.items() if i not in kept}
        done[spoke_id] = set(deletes) | set(confirmed)
        rows.extend((spoke_id, ln.hub_item_id, ln.remote_id, ln.remote_version, ln.fingerprint,
                     ln.hub_version, ln.fp_version) for i, ln in final.items() if i not in kept)
        moved.extend(link_values(spoke_id, final[i]) for i in sorted(kept))
    copies = _link_pairs(conn, "spoke_id, hub_item_id, hub_version, fingerprint, fp_version",
                         deleted)
    for s, i, *_ in copies:  # the deleted copies' links go too
        replaced[s].add(i)
    # a copy linked again, or deleted again, replaces what was remembered of it
    delete_pairs(conn, m.deleted_copies, _DC.spoke_id, _DC.hub_item_id, gone)
    _INSERT_COPIES.run(conn, [tuple(r) for r in copies])
    delete_pairs(conn, m.links, _L.spoke_id, _L.hub_item_id, replaced)
    delete_pairs(conn, m.links, _L.spoke_id, _L.remote_id, taken)
    update_links_in_place(conn, moved)
    _INSERT_LINKS.run(conn, rows)
    delete_pairs(conn, m.pending_writes, _PW.spoke_id, _PW.hub_item_id, done)


def put_write_errors(conn: Connection, changes: Mapping[str, tuple[Sequence[WriteFailure],
                                                                   Sequence[str]]],
                     now: datetime) -> None:
    """Per spoke (failures, succeeded hub item ids): one quarantine row per failed write
    (``first_seen`` kept across runs), the rows of the succeeded ones cleared."""
    clear = {s: {WRITE_FAILED_PREFIX + i for i in ok} | {WRITE_FAILED_PREFIX + f.hub_item_id
                                                         for f in failed}
             for s, (failed, ok) in changes.items()}
    old: dict[tuple[str, str], datetime] = {}
    if any(failed for failed, _ in changes.values()):
        for a, b in cross_groups(clear):
            old.update(((r.spoke_id, r.remote_id), r.first_seen) for r in conn.execute(
                select(_Q.spoke_id, _Q.remote_id, _Q.first_seen).where(
                    _Q.spoke_id.in_(a), _Q.remote_id.in_(b))))
    delete_pairs(conn, m.quarantine, _Q.spoke_id, _Q.remote_id, clear)
    rows = {(s, WRITE_FAILED_PREFIX + f.hub_item_id): dict(
        spoke_id=s, remote_id=WRITE_FAILED_PREFIX + f.hub_item_id, remote_version=None,
        uid=f.uid, reason=WRITE_FAILED, raw=None, last_seen=now,
        detail=f"{f.op} failed: {f.code}: {f.message}"[:_DETAIL_MAX],
        first_seen=old.get((s, WRITE_FAILED_PREFIX + f.hub_item_id)) or now)
        for s, (failed, _) in changes.items() for f in failed}
    for batch in chunks(rows.values()):
        conn.execute(m.quarantine.insert(), batch)


def put_projections(conn: Connection, changes: Mapping[str, tuple[
        Mapping[str, tuple[str, Sequence[str]]], Sequence[str]]], now: datetime) -> None:
    """Per spoke (notes by hub item id, hub item ids written): what the spoke holds of each
    item written; an item written without notes loses its row."""
    delete_pairs(conn, m.projections, _P.spoke_id, _P.hub_item_id,
                 {s: set(written) | set(notes) for s, (notes, written) in changes.items()})
    rows = [dict(spoke_id=s, hub_item_id=i, uid=uid, notes=list(lines)[:_NOTES_MAX],
                 recorded_at=now)
            for s, (notes, _) in changes.items() for i, (uid, lines) in sorted(notes.items())
            if lines]
    for batch in chunks(rows):
        conn.execute(m.projections.insert(), batch)


class PushesMixin(StoreBase):
    @guarded
    def push_view(self, spoke_ids: Iterable[str]) -> WaveView:
        """The spokes of these ids that still exist, their hubs' versions and the runtime
        lease's epoch, in one query per :data:`~cirahub.store.base.CHUNK` spokes."""
        hub_version = (select(m.hubs.c.version).where(m.hubs.c.id == m.spokes.c.hub_id)
                       .scalar_subquery())
        epoch = (select(m.runtime_lease.c.epoch).where(m.runtime_lease.c.name == RUNTIME)
                 .scalar_subquery())
        spokes: dict[str, SpokeRecord] = {}
        versions: dict[str, int] = {}
        lease = 0
        with self._read() as conn:
            for part in chunks(sorted(set(spoke_ids))):
                for row in conn.execute(select(m.spokes, hub_version.label("hub_version_"),
                                               epoch.label("runtime_epoch_"))
                                        .where(m.spokes.c.id.in_(part))):
                    spokes[row.id] = spoke_record(row)
                    versions[row.hub_id] = int(row.hub_version_ or 0)
                    lease = int(row.runtime_epoch_ or 0)
        return WaveView(spokes, versions, lease)

    @guarded
    def links_of(self, items_by_spoke: Mapping[str, Iterable[str]]) -> dict[str, dict[str, Link]]:
        """Per spoke, its links of the given hub items, by hub item id (unlinked items are
        absent; every spoke asked for is a key)."""
        out: dict[str, dict[str, Link]] = {s: {} for s in items_by_spoke}
        wanted = {s: set(ids) for s, ids in items_by_spoke.items()}
        with self._read() as conn:
            for a, b in cross_groups(wanted):
                for row in conn.execute(LINK_SELECT.where(_L.spoke_id.in_(a),
                                                          _L.hub_item_id.in_(b))):
                    out[row.spoke_id][row.hub_item_id] = link(row)
        return out

    @guarded
    def note_pending_many(self, pending: Mapping[str, Sequence[PendingWrite]]) -> None:
        """:meth:`note_pending_writes` of many spokes in ONE write transaction, set-based: the
        rows a spoke already holds for these hub items are read for all spokes at once, and
        the rows replaced or trimmed go in one DELETE, the new ones in one INSERT (both
        executemany), whatever the number of spokes (a push wave: every spoke, one item).
        Same guarantees: the newest ``MAX_PENDING`` per (spoke, hub item) are kept, rows of
        items this call does not name are untouched, a hub item that no longer exists is
        skipped."""
        with self._write() as conn:
            put_pending(conn, pending)

    @guarded
    def commit_pushes(self, commits: Sequence[PushCommit]) -> None:
        """What many push runs did, in ONE write transaction: links, failed writes, declared
        projections, push cursors, spoke states and finished run records. All or nothing:
        NotFound (and nothing written) when a spoke or a hub item of a link no longer exists
        — the caller commits the others alone."""
        if not commits:
            return
        now = utcnow()
        spoke_ids = {c.spoke_id for c in commits}
        with self._write() as conn:
            found = {r.id for part in chunks(spoke_ids) for r in conn.execute(
                select(m.spokes.c.id).where(m.spokes.c.id.in_(part)))}
            if spoke_ids - found:
                missing = sorted(spoke_ids - found)[0]
                raise NotFound(f"spoke {missing!r} does not exist", spoke_id=missing)
            try:
                put_links(conn, _merged_links(commits))
            except IntegrityError:
                raise NotFound("a committed link refers to a hub item that no longer exists",
                               spoke_id=commits[0].spoke_id) from None
            put_write_errors(conn, _merged(commits, lambda c: (c.failures, c.settled)), now)
            put_projections(conn, _merged(commits, lambda c: (c.projections, c.settled)), now)
            _record_ends(conn, commits, now)


def _merged_links(commits: Sequence[PushCommit]
                  ) -> dict[str, tuple[Sequence[Link], Sequence[str], Sequence[str]]]:
    """Per spoke, its commits' links in order (a later one of an item wins)."""
    out: dict[str, tuple[list[Link], list[str], list[str]]] = {}
    for c in commits:
        ups, dels, done = out.setdefault(c.spoke_id, ([], [], []))
        ups.extend(c.upserts)
        dels.extend(c.deletes)
        done.extend(c.confirmed)
    return dict(out)


def _merged(commits: Sequence[PushCommit], part: Any) -> dict[str, Any]:
    """Per spoke, ``part(commit)`` of its commit that ends its run (what the run recorded
    for failures / projections), if it has one in this batch."""
    return {c.spoke_id: part(c) for c in commits if c.run_id is not None}


def _record_ends(conn: Connection, commits: Sequence[PushCommit], now: datetime) -> None:
    """Push cursors, spoke states and finished run rows of the commits that end a run."""
    ends = [c for c in commits if c.run_id is not None]
    cursors = [{"b_id": c.spoke_id, "push_cursor": c.push_cursor, "updated_at": now}
               for c in ends if c.push_cursor is not None]
    if cursors:
        conn.execute(update(m.spokes).where(m.spokes.c.id == bindparam("b_id")).values(
            push_cursor=bindparam("push_cursor"), updated_at=bindparam("updated_at")), cursors)
    states = [{"b_id": c.spoke_id, "state": str(c.state), "updated_at": now,
               "last_error": jsonable(dict(c.error)) if c.error is not None else None}
              for c in ends if c.state is not None]
    if states:
        conn.execute(update(m.spokes).where(m.spokes.c.id == bindparam("b_id")).values(
            state=bindparam("state"), last_error=bindparam("last_error"), halted_reason=None,
            updated_at=bindparam("updated_at")), states)
    runs = [dict(id=c.run_id, hub_id=c.hub_id, spoke_id=c.spoke_id, trigger=c.trigger[:32],
                 started_at=c.started_at or now, finished_at=now, status=str(c.status)[:16],
                 counts=jsonable(dict(c.counts)),
                 error=jsonable(dict(c.error)) if c.error is not None else None)
            for c in ends]
    if runs:
        conn.execute(m.sync_runs.insert(), runs)
