"""The runtime lease, and closing runs whose process is gone.

A server that starts its own runtime takes the lease (a new epoch); the actors it starts
carry that epoch and check it before every run (:meth:`LeaseMixin.check_runtime_lease`), so
actors left behind by a killed server stop writing as soon as a newer server started. Runs
still ``running`` whose process is gone are closed as ``interrupted``
(:meth:`LeaseMixin.interrupt_runs`), on start-up and by the supervisor.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select, update

from cirahub.core.errors import WriterFenced
from cirahub.store import models as m
from cirahub.store.base import StoreBase, utcnow
from cirahub.store.engine import guarded

_L, _R = m.runtime_lease.c, m.sync_runs.c


def check_epoch(epoch: int, current: int) -> None:
    """WriterFenced when the runtime lease's ``current`` epoch is not the actor's ``epoch``
    (0: an actor that holds no lease is never fenced)."""
    if epoch and current != epoch:
        raise WriterFenced("a newer cirahub server owns the store: this actor of an older "
                           "one stops writing", epoch=epoch, lease=True)
RUNTIME = "runtime"
#: status of a run whose process went away before it finished
INTERRUPTED = "interrupted"


class LeaseMixin(StoreBase):
    @guarded
    def take_runtime_lease(self) -> int:
        """A new runtime epoch (the previous + 1): from now on actors of older epochs are
        fenced (:meth:`check_runtime_lease` raises WriterFenced for them)."""
        with self._write() as conn:
            row = conn.execute(select(_L.epoch).where(_L.name == RUNTIME)).first()
            epoch = (row.epoch if row is not None else 0) + 1
            if row is None:
                conn.execute(m.runtime_lease.insert().values(name=RUNTIME, epoch=epoch,
                                                             taken_at=utcnow()))
            else:
                conn.execute(update(m.runtime_lease).where(_L.name == RUNTIME)
                             .values(epoch=epoch, taken_at=utcnow()))
        return epoch

    @guarded
    def runtime_epoch(self) -> int:
        """The current runtime epoch (0 before any server took the lease)."""
        with self._read() as conn:
            row = conn.execute(select(_L.epoch).where(_L.name == RUNTIME)).first()
        return int(row.epoch) if row is not None else 0

    def check_runtime_lease(self, epoch: int) -> None:
        """WriterFenced when a newer runtime took the lease than the one of ``epoch`` (0:
        an actor that holds no lease, e.g. in tests, is never fenced)."""
        if epoch:
            check_epoch(epoch, self.runtime_epoch())

    @guarded
    def interrupt_runs(self, *, before: datetime, reason: str,
                       spoke_ids: Collection[str] | None = None,
                       keep: Collection[str] = ()) -> int:
        """Close as ``interrupted`` the runs still ``running`` that started before ``before``:
        of ``spoke_ids`` (None = of every spoke) except the spokes in ``keep`` (those hosted
        by a live process). Returns how many were closed."""
        if spoke_ids is not None and not spoke_ids:
            return 0
        stmt = update(m.sync_runs).where(_R.status == "running", _R.started_at < before)
        if spoke_ids is not None:
            stmt = stmt.where(_R.spoke_id.in_(list(spoke_ids)))
        if keep:
            stmt = stmt.where(_R.spoke_id.not_in(list(keep)))
        error = {"code": INTERRUPTED, "message": reason[:500]}
        with self._write() as conn:
            result = conn.execute(stmt.values(status=INTERRUPTED, finished_at=utcnow(),
                                              error=error))
        return int(result.rowcount or 0)
