"""The store's half of the merge step: apply the planner's pull ops to a hub under the
writer fence, one transaction per batch.

Each batch first passes the writer fence (``UPDATE hubs … WHERE writer_epoch = :epoch``, which
also takes the hub row's lock on PostgreSQL and the write lock on SQLite, so writers of one hub
are serialized), then loads the rows the batch refers to, applies the ops in memory — in
order, each seeing the effects of the ones before — and writes the outcome with a handful of
bulk statements. Re-applying the same ops is harmless (see :class:`cirahub.store.batch.Batch`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select, update

from cirahub.core.errors import InvalidInput, NotFound, WriterFenced
from cirahub.core.ops import HubOp
from cirahub.store import models as m
from cirahub.store.base import StoreBase, utcnow
from cirahub.store.batch import Batch
from cirahub.store.batch_flush import flush, pruned_items
from cirahub.store.engine import guarded
from cirahub.store.pruning import prune_versions
from cirahub.store.records import MergeResult, Tally
from cirahub.store.rows import driver_sql, execute_many

_H = m.hubs.c


class ApplyMixin(StoreBase):
    @guarded
    def acquire_writer(self, hub_id: str) -> int:
        """Become the hub's only writer: bump and return its writer epoch. Every writer that
        acquired before is fenced from then on (its next batch raises WriterFenced)."""
        with self._write() as conn:
            row = self._hub_row(conn, hub_id)
            epoch = conn.execute(
                update(m.hubs).where(_H.id == row.id)
                .values(writer_epoch=_H.writer_epoch + 1).returning(_H.writer_epoch)
            ).scalar_one()
            return int(epoch)

    @guarded
    def apply_hub_ops(
        self,
        hub_id: str,
        spoke_id: str,
        epoch: int,
        ops: Sequence[HubOp],
        *,
        batch_size: int = 500,
    ) -> MergeResult:
        """Apply pull ops from ``spoke_id`` to the hub under writer ``epoch``.

        One transaction per ``batch_size`` ops, each assigning strictly increasing hub
        versions. An op whose hub item moved past its ``expected_version`` (with other
        content) is skipped and its remote id listed in ``MergeResult.stale``; the rest of
        the batch commits. Raises WriterFenced when ``epoch`` is no longer the hub's writer
        (batches committed before stay committed), NotFound for an unknown hub or a spoke
        not of this hub, InvalidInput for something that is not a hub op.
        """
        if batch_size < 1:
            raise InvalidInput("batch_size must be at least 1", field="batch_size")
        with self._read() as conn:
            spoke = self._spoke_row(conn, spoke_id)
        if spoke.hub_id != hub_id:
            raise NotFound(f"spoke {spoke_id!r} is not attached to hub {hub_id!r}",
                           spoke_id=spoke_id, hub=hub_id)
        tally = Tally()
        version = self.hub_version(hub_id) if not ops else 0
        for start in range(0, len(ops), batch_size):
            with self._write() as conn:
                version = self._apply_batch(conn, hub_id, spoke_id, epoch,
                                            ops[start:start + batch_size], tally)
        return tally.result(version)

    def _apply_batch(
        self, conn: Connection, hub_id: str, spoke_id: str, epoch: int,
        ops: Sequence[HubOp], tally: Tally,
    ) -> int:
        version = self._fence(conn, hub_id, epoch)
        batch = Batch(conn, hub_id, spoke_id, version, utcnow(), tally)
        batch.load(ops)
        for op in ops:
            batch.apply(op)
        flush(batch)
        # after the links are written: they name the merge bases that must stay
        prune_versions(conn, pruned_items(batch))
        if batch.version != version:
            tally.add("versions", batch.version - version)
            execute_many(conn, "UPDATE hubs SET version = ? WHERE id = ? AND writer_epoch = ?",
                         [(batch.version, hub_id, epoch)])
        return batch.version

    @staticmethod
    def _fence(conn: Connection, hub_id: str, epoch: int) -> int:
        """Pass the writer fence; returns the hub's current version. In the driver's SQL, as
        the batch's other statements (a Core UPDATE cost ~0.3 ms to build and compile-key)."""
        row = conn.exec_driver_sql(driver_sql(
            conn, "UPDATE hubs SET version = version + 0 WHERE id = ? AND writer_epoch = ? "
            "RETURNING version"), (hub_id, epoch)).first()
        if row is not None:
            return int(row[0])
        current = conn.execute(select(_H.writer_epoch).where(_H.id == hub_id)).scalar()
        if current is None:
            raise NotFound(f"hub {hub_id!r} does not exist", hub=hub_id)
        raise WriterFenced(
            f"hub {hub_id!r} has a newer writer (epoch {current}); this writer "
            f"(epoch {epoch}) must stop",
            hub=hub_id, epoch=epoch, current_epoch=int(current),
        )
