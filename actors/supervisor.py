"""The supervisor: converges the running actors to the topology stored in the database.

One named detached actor (``cirahub-supervisor`` in the ``cirahub`` namespace). It holds no
hard state: which spoke runs where is re-learnt from the spoke actors themselves (found by
their names, ``cirahub-spokes-…``) on every reconcile, so a restarted supervisor re-attaches to
what is running. The placement logic is Ray-free (:class:`~cirahub.cluster.placement.Placement`,
tested without Ray); this actor adds Ray's side (:class:`RaySpokeActors`), the control loop,
sync-now routing, the fan-out after hub changes and the event ring.

Options changes need no action: the spoke loop re-reads the spoke every run. Events from the
spoke actors (progress, run summaries, state changes) land in a bounded ring with strictly
increasing sequence numbers; :meth:`Supervisor.events` is a long poll over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cirahub.actors.hub import HubActor, hub_actor_class
from cirahub.actors.progress import ProgressEvent
from cirahub.actors.ray_spokes import (
    CALL_TIMEOUT,
    RaySpokeActors,
    call_ref,
    detached_options,
    pinned,
    waiting_status,
)
from cirahub.actors.run_modes import FULL
from cirahub.actors.summary import RunStatus, error_summary
from cirahub.actors.sync_phases import Held, pull_then_push
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.heap import settle
from cirahub.cluster.names import hub_actor_name, hub_shard
from cirahub.cluster.placement import Placement, spread
from cirahub.cluster.settings import Settings
from cirahub.core.errors import CirahubError, NotFound
from cirahub.core.fanout import actor_share
from cirahub.core.ops import HubOp
from cirahub.store.records import MergeResult, SpokeRecord

log = logging.getLogger(__name__)

EVENT_RING = 20_000


class Supervisor:
    """Wrapped with ``ray.remote`` by :func:`supervisor_class` (an async actor)."""

    def __init__(self, settings: dict[str, Any], home_node: str | None = None) -> None:
        self._settings = Settings.from_dict(settings)
        self._store = open_store(self._settings, migrate=False)  # the server migrated
        self._home = home_node
        self._spoke_actors = RaySpokeActors(self._settings, self, home_node)
        self._placement = Placement(self._store, self._spoke_actors, self._settings,
                                    on_lost=self._lost)
        self._events: deque[ProgressEvent] = deque(maxlen=EVENT_RING)
        self._seq = 0
        self._new_events = asyncio.Condition()
        self._reconcile_lock = asyncio.Lock()
        self._held = Held()  # spokes whose fan-out waits for their sync's push runs
        self._last_reconcile: dict[str, Any] = {}
        # The hub writers: their own actors, or (Settings.hubs_in_supervisor) objects in this
        # process, reached through merge/recover below.
        shards = range(self._settings.hub_actors)
        self._local_hubs = ([HubActor(settings, i) for i in shards]
                            if self._settings.hubs_in_supervisor else [])
        self._hubs = [] if self._local_hubs else [self._ensure_hub_actor(i) for i in shards]
        self._task = asyncio.get_running_loop().create_task(self._control_loop())
        settle()  # this process's start-up state, out of the collector's way (cluster/heap.py)

    def _ensure_hub_actor(self, shard: int) -> Any:
        opts = detached_options(hub_actor_name(shard), self._settings.namespace,
                                max_restarts=-1, max_task_retries=-1, max_concurrency=64)
        opts.update(pinned(self._home, soft=True))
        return hub_actor_class().options(**opts).remote(self._settings.to_dict(), shard,
                                                       settle_heap=True)

    def _lost(self, spoke_id: str, actor: str) -> None:
        now = datetime.now(UTC)
        self._record(ProgressEvent("state", "", spoke_id, "actor_died", now, detail=actor))
        try:
            self._store.interrupt_runs(before=now, spoke_ids=[spoke_id],
                                       reason=f"its spoke actor ({actor}) died during the run")
        except CirahubError as exc:  # the store is down: the next reconcile closes it
            log.warning("could not close the runs of spoke %s: %s", spoke_id, exc)

    @property
    def _handles(self) -> dict[str, Any]:
        return self._spoke_actors.handles

    # --- control loop ---------------------------------------------------------------------

    async def _control_loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:  # each phase fails alone; this guards the loop itself
                log.exception("reconcile failed; retrying")
            await asyncio.sleep(self._settings.reconcile_seconds)

    async def ping(self) -> dict[str, Any]:
        return {"actors": len(self._placement.known), "hosted": len(self._placement.hosted),
                "seq": self._seq, "last_reconcile": dict(self._last_reconcile)}

    async def reconcile(self) -> dict[str, Any]:
        """Converge now; returns counts (actors, dead, assigned, unassigned, moved, hosted,
        nodes) and the phases that failed (``errors``)."""
        async with self._reconcile_lock:
            started = datetime.now(UTC)
            report = (await self._placement.reconcile()).to_dict()
            self._last_reconcile = report
            if not report.get("errors"):
                await asyncio.to_thread(self._close_orphan_runs, started)
            return report

    def _close_orphan_runs(self, before: datetime) -> None:
        """Runs still "running" of spokes no live spoke actor hosts (checked after a clean
        reconcile; only runs started before it) cannot end any more: close them."""
        try:
            # read first: a clean check (the usual case) takes no write lock
            orphans = self._store.running_spoke_ids(before=before) - set(self._placement.hosted)
            if not orphans:
                return
            closed = self._store.interrupt_runs(
                before=before, spoke_ids=orphans,
                reason="no live spoke actor runs it any more (its process is gone)")
        except CirahubError as exc:
            log.warning("could not close orphaned runs: %s", exc)
            return
        if closed:
            log.warning("%d orphaned sync run(s) closed as interrupted", closed)

    # --- fan-out ---------------------------------------------------------------------------

    async def hub_changed(self, hub_id: str, source_spoke_id: str, version: int) -> int:
        """A merge from ``source_spoke_id`` committed ``version`` of ``hub_id``: ask every
        other enabled spoke of the hub for a push run, one call per hosting actor, not waited
        for (the spoke actors coalesce), each actor told its share of the global push limit.
        Returns how many spokes were asked."""
        others = [s for s in self._placement.hub_spokes.get(hub_id, ())
                  if s != source_spoke_id and s not in self._held]  # held: see sync_now
        by_actor = spread(others, self._placement)
        share = actor_share(self._settings.push_runs_global, len(self._handles))
        for name, ids in by_actor.items():
            self._handles[name].push_soon.remote(ids, version, share)
        return sum(len(ids) for ids in by_actor.values())

    # --- sync now, status -----------------------------------------------------------------

    async def sync_now(self, hub: str, spoke: str | None = None,
                       only: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Run the hub's spokes (or one, or those of ``only``, by id) now: a pull run of each,
        then a push run of each the hub moved past (:mod:`cirahub.actors.sync_phases`); one
        complete run when one spoke is asked. Returns one RunSummary dict per spoke once all
        runs finished. A disabled spoke gets a ``skipped`` summary. Raises NotFound."""
        targets = await asyncio.to_thread(self._targets, hub, spoke, only)
        hub_id = targets[0].hub_id if targets else ""
        return await pull_then_push(targets, self._sync_one, self._held,
                                    lambda ids: asyncio.to_thread(self._behind, hub_id, ids),
                                    self._announce_pushes)

    def _announce_pushes(self, spoke_ids: Collection[str]) -> None:
        """Tell each hosting actor which of its spokes' push runs come next (sent before
        them, not waited for: an actor that misses it reads their wave after its window)."""
        for name, ids in spread(list(spoke_ids), self._placement).items():
            with contextlib.suppress(Exception):
                self._handles[name].expect_pushes.remote(ids)

    def _behind(self, hub_id: str, spoke_ids: Collection[str]) -> set[str]:
        """Those of ``spoke_ids`` (of ``hub_id``) whose push cursor is below the hub's version."""
        version = self._store.hub_version(hub_id)
        return {s.id for s in self._store.list_spokes(hub_id)
                if s.id in spoke_ids and s.push_cursor < version}

    def _targets(self, hub: str, spoke: str | None,
                 only: Sequence[str] | None = None) -> list[SpokeRecord]:
        if spoke is not None:
            return [self._store.find_spoke(hub, spoke)]
        self._store.get_hub(hub)
        return [s for s in self._store.list_spokes(hub) if only is None or s.id in only]

    async def _sync_one(self, spoke: SpokeRecord, mode: str = FULL) -> dict[str, Any]:
        if not spoke.enabled:
            return {"run_id": None, "spoke_id": spoke.id, "status": str(RunStatus.SKIPPED),
                    "counts": {}, "error": {"code": "disabled", "message": "sync is disabled"},
                    "duration": 0.0}
        last: BaseException | None = None
        for _ in range(3):  # the hosting actor may die mid-run: re-assign and run again
            name = self._placement.hosted.get(spoke.id)
            if name is None or name not in self._handles:
                await self.reconcile()
                name = self._placement.hosted.get(spoke.id)
                if name is None or name not in self._handles:
                    last = NotFound("no spoke actor could take the spoke", spoke_id=spoke.id)
                    continue
            try:
                summary: dict[str, Any] = await call_ref(
                    self._handles[name].sync_now.remote(spoke.id, mode), 24 * 3600)
                return summary
            except Exception as exc:
                last = exc
                self._placement.hosted.pop(spoke.id, None)
                if _actor_died(exc):  # its run died with it (the reconcile no longer sees it)
                    self._lost(spoke.id, name)
                await self.reconcile()
        error = {"code": "unavailable", "message": f"sync now failed: {last!r}"[:500]}
        return error_summary(spoke.id, error)

    async def status(self, hub_id: str | None = None) -> list[dict[str, Any]]:
        """Per hosted spoke: the spoke actor's view (state, next_run_at, failures, …)."""
        names = list(self._handles)
        results = await asyncio.gather(
            *(call_ref(self._handles[n].status.remote(), self._settings.ping_timeout)
              for n in names),
            return_exceptions=True,
        )
        out: list[dict[str, Any]] = []
        for result in results:
            if isinstance(result, list):
                out.extend({**r, "node": self._spoke_actors.node_names.get(r.get("node_id") or "")}
                           for r in result if hub_id is None or r["hub_id"] == hub_id)
        for spoke_id, (spoke_hub, node) in self._placement.waiting.items():
            if hub_id is None or spoke_hub == hub_id:
                out.append(waiting_status(spoke_id, spoke_hub, node))
        return out

    async def hub_actors(self) -> list[dict[str, Any]]:
        if self._local_hubs:
            return [await h.status() for h in self._local_hubs]
        results = await asyncio.gather(*(call_ref(h.status.remote(), 30) for h in self._hubs),
                                       return_exceptions=True)
        return [r if isinstance(r, dict) else {"error": repr(r)} for r in results]

    # --- the hub writers, when they live in this process ----------------------------------

    async def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> MergeResult:
        """:meth:`HubActor.merge` of the hub's writer in this process (same guarantees)."""
        return await self._local_hub(hub_id).merge(hub_id, spoke_id, ops)

    async def recover(self, hub_id: str) -> int:
        """:meth:`HubActor.recover` of the hub's writer in this process."""
        return await self._local_hub(hub_id).recover(hub_id)

    def _local_hub(self, hub_id: str) -> HubActor:
        if not self._local_hubs:
            raise NotFound("the hub writers run as their own actors, not in the supervisor",
                           hub_id=hub_id)
        return self._local_hubs[hub_shard(hub_id, len(self._local_hubs))]

    # --- events ---------------------------------------------------------------------------

    async def record_events(self, events: Sequence[ProgressEvent]) -> None:
        for event in events:
            self._record(event)
        async with self._new_events:
            self._new_events.notify_all()

    def _record(self, event: ProgressEvent) -> None:
        self._seq += 1
        self._events.append(replace(event, seq=self._seq))

    async def events(self, since: int = 0, timeout: float = 0.0,
                     limit: int = 1000) -> list[ProgressEvent]:
        """Events with ``seq > since`` (oldest first, at most ``limit``), waiting up to
        ``timeout`` seconds for the first one. Older events than the ring holds are gone:
        a gap in ``seq`` tells the caller so."""
        if self._seq <= since and timeout > 0:
            async with self._new_events:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._new_events.wait_for(lambda: self._seq > since), timeout)
        # seqs in the ring are consecutive: take the newer ones from the end, not a scan
        newer = min(len(self._events), max(0, self._seq - since))
        out = list(itertools.islice(reversed(self._events), newer))
        out.reverse()
        return out[:limit]

    async def last_seq(self) -> int:
        return self._seq


def _actor_died(exc: BaseException) -> bool:
    from ray.exceptions import RayActorError

    return isinstance(exc, RayActorError)


def supervisor_class() -> Any:
    import ray

    return ray.remote(Supervisor)


__all__ = ["CALL_TIMEOUT", "RaySpokeActors", "Supervisor", "detached_options", "pinned",
           "supervisor_class", "waiting_status"]
