"""Sync run records, the conflict log, quarantine, declared projections and item history
(operator views)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update

from cirahub.core.errors import InvalidInput, NotFound
from cirahub.core.model import WriteFailure
from cirahub.core.states import RunStatus
from cirahub.store import models as m
from cirahub.store.base import StoreBase, aware, chunks, item_of, utcnow
from cirahub.store.batch import jsonable
from cirahub.store.engine import guarded
from cirahub.store.pushes import (  # noqa: F401  (WRITE_FAILED*: named here by their users)
    WRITE_FAILED,
    WRITE_FAILED_PREFIX,
    put_projections,
    put_write_errors,
)
from cirahub.store.records import (
    ConflictEntry,
    ItemVersion,
    ProjectionEntry,
    QuarantineEntry,
    RunRecord,
)

_R, _C, _Q, _V = m.sync_runs.c, m.conflicts.c, m.quarantine.c, m.hub_item_versions.c
_P = m.projections.c
def _run(row: Any) -> RunRecord:
    return RunRecord(id=row.id, hub_id=row.hub_id, spoke_id=row.spoke_id, trigger=row.trigger,
                     started_at=aware(row.started_at),  # type: ignore[arg-type]
                     finished_at=aware(row.finished_at), status=row.status,
                     counts=dict(row.counts or {}), error=row.error)


def _conflict(r: Any) -> ConflictEntry:
    return ConflictEntry(
        id=r.id, hub_id=r.hub_id, hub_item_id=r.hub_item_id, spoke_id=r.spoke_id,
        uid=r.uid, kind=r.kind, fields=tuple(r.fields or ()), losing_item=r.losing_item,
        created_at=aware(r.created_at),  # type: ignore[arg-type]
    )


def _limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput("limit must be a whole number >= 1", field="limit")
    return limit


class RunsMixin(StoreBase):
    @guarded
    def start_run(self, spoke_id: str, trigger: str) -> str:
        """Record the start of a sync run (status "running"); returns its id. A spoke runs one
        run at a time, so a run of it still "running" belongs to a host that died or was fenced
        (a killed node, a lost store connection): it is closed as interrupted here, never left
        "running"."""
        run_id = str(uuid.uuid4())
        with self._write() as conn:
            spoke = self._spoke_row(conn, spoke_id)
            conn.execute(update(m.sync_runs).where(
                _R.spoke_id == spoke_id, _R.status == "running").values(
                status=str(RunStatus.INTERRUPTED), finished_at=utcnow(), error={
                    "code": "interrupted", "message": "a newer run of this spoke started; "
                    "this run's host was gone (what it had merged is kept)"}))
            conn.execute(m.sync_runs.insert().values(
                id=run_id, hub_id=spoke.hub_id, spoke_id=spoke_id, trigger=str(trigger)[:32],
                started_at=utcnow(), finished_at=None, status="running", counts={}, error=None))
        return run_id

    @guarded
    def finish_run(
        self, run_id: str, status: RunStatus, counts: Mapping[str, Any],
        error: Mapping[str, Any] | None = None,
    ) -> None:
        """Record how a run ended. A run already closed (as interrupted, by a newer server or
        the supervisor) stays as it was closed. NotFound for an unknown run (e.g. its spoke
        was removed)."""
        with self._write() as conn:
            result = conn.execute(update(m.sync_runs).where(
                _R.id == run_id, _R.status == "running").values(
                status=str(status)[:16], counts=jsonable(dict(counts)), finished_at=utcnow(),
                error=jsonable(dict(error)) if error is not None else None))
            if not result.rowcount and conn.execute(
                    select(_R.id).where(_R.id == run_id)).first() is None:
                raise NotFound(f"sync run {run_id!r} does not exist", run_id=run_id)

    @guarded
    def running_spoke_ids(self, *, before: datetime) -> set[str]:
        """The spokes with a run still ``running`` that started before ``before`` (a read:
        what :meth:`interrupt_runs` would close, asked first so a clean check writes nothing)."""
        with self._read() as conn:
            return set(conn.execute(select(_R.spoke_id).distinct().where(
                _R.status == "running", _R.started_at < before)).scalars())

    @guarded
    def record_polls(self, rows: Sequence[Any]) -> int:
        """Store folded idle polls (:class:`cirahub.actors.idle.PollRow`: run_id, spoke_id,
        hub_id, trigger, started_at, finished_at, counts()) in ONE write transaction: a row
        already stored is updated (its end and counts), a new one inserted as a finished
        ``ok`` run. Rows of spokes removed meanwhile are dropped. Returns the rows written."""
        if not rows:
            return 0
        with self._write() as conn:
            spokes = {r.id for part in chunks({r.spoke_id for r in rows}) for r in conn.execute(
                select(m.spokes.c.id).where(m.spokes.c.id.in_(part)))}
            rows = [r for r in rows if r.spoke_id in spokes]
            stored = {r.id for part in chunks([r.run_id for r in rows]) for r in conn.execute(
                select(_R.id).where(_R.id.in_(part)))}
            updates = [{"b_id": r.run_id, "finished_at": r.finished_at, "counts": r.counts()}
                       for r in rows if r.run_id in stored]
            inserts = [dict(id=r.run_id, hub_id=r.hub_id, spoke_id=r.spoke_id,
                            trigger=str(r.trigger)[:32], started_at=r.started_at,
                            finished_at=r.finished_at, status=str(RunStatus.OK),
                            counts=r.counts(), error=None)
                       for r in rows if r.run_id not in stored]
            if updates:
                conn.execute(update(m.sync_runs).where(_R.id == bindparam("b_id")).values(
                    finished_at=bindparam("finished_at"), counts=bindparam("counts")), updates)
            if inserts:
                conn.execute(m.sync_runs.insert(), inserts)
        return len(rows)

    @guarded
    def list_runs(
        self, hub: str | None = None, spoke_id: str | None = None, limit: int = 50,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Newest runs first, of one hub (name or id) and/or one spoke; ``offset`` skips
        that many (paging)."""
        stmt = (select(m.sync_runs).order_by(_R.started_at.desc(), _R.id)
                .limit(_limit(limit)).offset(max(0, int(offset))))
        with self._read() as conn:
            if hub is not None:
                stmt = stmt.where(_R.hub_id == self._hub_row(conn, hub).id)
            if spoke_id is not None:
                stmt = stmt.where(_R.spoke_id == spoke_id)
            return [_run(r) for r in conn.execute(stmt)]

    @guarded
    def get_run(self, run_id: str) -> RunRecord:
        with self._read() as conn:
            row = conn.execute(select(m.sync_runs).where(_R.id == run_id)).first()
        if row is None:
            raise NotFound(f"sync run {run_id!r} does not exist", run_id=run_id)
        return _run(row)

    @guarded
    def list_conflicts(self, hub: str, limit: int = 100) -> list[ConflictEntry]:
        """The hub's conflict log, newest first."""
        with self._read() as conn:
            hub_id = self._hub_row(conn, hub).id
            rows = conn.execute(select(m.conflicts).where(_C.hub_id == hub_id)
                                .order_by(_C.created_at.desc(), _C.id).limit(_limit(limit)))
            return [_conflict(r) for r in rows]

    @guarded
    def get_conflict(self, conflict_id: str) -> ConflictEntry:
        """One conflict log row; NotFound for an unknown id."""
        with self._read() as conn:
            row = conn.execute(select(m.conflicts).where(_C.id == conflict_id)).first()
        if row is None:
            raise NotFound(f"conflict {conflict_id!r} does not exist", conflict_id=conflict_id)
        return _conflict(row)

    @guarded
    def record_write_errors(
        self, spoke_id: str, failures: Sequence[WriteFailure], succeeded: Sequence[str] = ()
    ) -> None:
        """Keep each failed write with its item: one quarantine row per hub item (remote id
        ``write:<hub item id>``, reason ``write_failed``, the error as detail; ``first_seen``
        kept across runs), and clear the rows of the hub items in ``succeeded`` (written,
        deleted or found up to date this run)."""
        if not succeeded and not failures:
            return
        with self._write() as conn:
            put_write_errors(conn, {spoke_id: (failures, succeeded)}, utcnow())

    @guarded
    def list_quarantine(
        self, spoke_id: str | None = None, hub: str | None = None
    ) -> list[QuarantineEntry]:
        """Quarantined remote items of a spoke, of a hub's spokes, or all."""
        stmt = select(m.quarantine).order_by(_Q.spoke_id, _Q.remote_id)
        with self._read() as conn:
            if spoke_id is not None:
                stmt = stmt.where(_Q.spoke_id == spoke_id)
            if hub is not None:
                hub_id = self._hub_row(conn, hub).id
                stmt = stmt.where(_Q.spoke_id.in_(
                    select(m.spokes.c.id).where(m.spokes.c.hub_id == hub_id)))
            return [QuarantineEntry(
                spoke_id=r.spoke_id, remote_id=r.remote_id, remote_version=r.remote_version,
                uid=r.uid, reason=r.reason, detail=r.detail, raw=r.raw,
                first_seen=aware(r.first_seen),  # type: ignore[arg-type]
                last_seen=aware(r.last_seen),  # type: ignore[arg-type]
            ) for r in conn.execute(stmt)]

    @guarded
    def hub_item_history(self, hub_item_id: str) -> list[ItemVersion]:
        """Every stored version of a hub item, oldest first; NotFound for an unknown item."""
        with self._read() as conn:
            rows = conn.execute(select(m.hub_item_versions)
                                .where(_V.hub_item_id == hub_item_id).order_by(_V.version)).all()
            if not rows and conn.execute(select(m.hub_items.c.id).where(
                    m.hub_items.c.id == hub_item_id)).first() is None:
                raise NotFound(f"hub item {hub_item_id!r} does not exist",
                               hub_item_id=hub_item_id)
        return [ItemVersion(hub_item_id=r.hub_item_id, version=r.version,
                            item=item_of(r.content), spoke_id=r.spoke_id,
                            created_at=aware(r.created_at))  # type: ignore[arg-type]
                for r in rows]

    @guarded
    def record_projections(self, spoke_id: str, notes: Mapping[str, tuple[str, Sequence[str]]],
                           written: Sequence[str] = ()) -> None:
        """Keep what ``spoke_id`` holds of each hub item written this run: ``notes`` maps a hub
        item id to (its UID, the spoke's notes); a hub item in ``written`` without notes
        (held as it is, or deleted) loses its row."""
        if not written and not notes:
            return
        with self._write() as conn:
            put_projections(conn, {spoke_id: (notes, written)}, utcnow())

    @guarded
    def list_projections(self, spoke_id: str | None = None, hub: str | None = None
                         ) -> list[ProjectionEntry]:
        """Declared projections of a spoke, of a hub's spokes, or all (by spoke, then UID)."""
        stmt = select(m.projections).order_by(_P.spoke_id, _P.uid, _P.hub_item_id)
        with self._read() as conn:
            if spoke_id is not None:
                stmt = stmt.where(_P.spoke_id == spoke_id)
            if hub is not None:
                hub_id = self._hub_row(conn, hub).id
                stmt = stmt.where(_P.spoke_id.in_(
                    select(m.spokes.c.id).where(m.spokes.c.hub_id == hub_id)))
            return [ProjectionEntry(spoke_id=r.spoke_id, hub_item_id=r.hub_item_id, uid=r.uid,
                                    notes=tuple(str(n) for n in r.notes or ()),
                                    recorded_at=aware(r.recorded_at))  # type: ignore[arg-type]
                    for r in conn.execute(stmt)]
