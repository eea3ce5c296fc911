"""The supervisor: converges the running actors to the topology stored in the database.

One named detached actor (``cirahub-supervisor`` in the ``cirahub`` namespace). It holds no
hard state: which spoke runs where is re-learnt from the spoke actors themselves (found by
their names, ``cirahub-spokes-…``) on every reconcile, so a restarted supervisor re-attaches to
what is running.

A reconcile (every ``reconcile_seconds`` and on demand):

1. probes every spoke actor (ping with ``ping_timeout``); an actor that does not answer, died,
   or sits on a node Ray reports dead is killed and forgotten — its spokes become unhosted;
2. ensures ``spoke_actors_per_node`` spoke actors on every alive node (NodeAffinity, so they
   spread over the cluster; more when the hosted spokes exceed ``max_spokes_per_actor``);
3. unassigns spokes that are disabled or removed;
4. assigns every enabled, unhosted spoke to the least loaded actor.

Options changes need no action: the spoke loop re-reads the spoke every run. Events from the
spoke actors (progress, run summaries, state changes) land in a bounded ring with strictly
increasing sequence numbers; :meth:`Supervisor.events` is a long poll over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from cirahub.actors.hub import hub_actor_class
from cirahub.actors.progress import ProgressEvent
from cirahub.actors.spoke import spoke_actor_class
from cirahub.actors.summary import RunStatus, error_summary
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.names import HUB_ACTOR_PREFIX, SPOKE_ACTOR_PREFIX, hub_actor_name, named_actors
from cirahub.cluster.settings import Settings
from cirahub.core.errors import NotFound

log = logging.getLogger(__name__)

EVENT_RING = 20_000
#: consecutive unanswered pings before a live-looking actor is declared dead
MAX_MISSES = 3
#: seconds a new actor may take to start before unanswered pings count
STARTUP_GRACE = 120.0
#: seconds an assign/unassign call may take (a new actor may still be starting)
CALL_TIMEOUT = 120.0


async def _call(ref: Any, timeout: float) -> Any:
    return await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout=timeout)


def detached_options(name: str, namespace: str, **extra: Any) -> dict[str, Any]:
    """Actor options shared by cirahub's named actors (no CPU reserved: they mostly wait)."""
    return dict(name=name, namespace=namespace, lifetime="detached", get_if_exists=True,
                num_cpus=0, **extra)


def pinned(node_id: str | None, soft: bool) -> dict[str, Any]:
    if not node_id:
        return {}
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node_id, soft=soft)}


class Supervisor:
    """Wrapped with ``ray.remote`` by :func:`supervisor_class` (an async actor)."""

    def __init__(self, settings: dict[str, Any], home_node: str | None = None) -> None:
        import ray

        self._ray = ray
        self._settings = Settings.from_dict(settings)
        self._store = open_store(self._settings)
        self._home = home_node
        self._actors: dict[str, Any] = {}  # spoke actor name → handle
        self._nodes: dict[str, str] = {}  # spoke actor name → node id
        self._born: dict[str, float] = {}  # spoke actor name → creation (monotonic)
        self._misses: dict[str, int] = {}  # spoke actor name → consecutive missed pings
        self._hosted: dict[str, str] = {}  # spoke id → spoke actor name (as last probed)
        self._hub_spokes: dict[str, list[str]] = {}  # hub id → enabled spoke ids (last reconcile)
        self._events: deque[ProgressEvent] = deque(maxlen=EVENT_RING)
        self._seq = 0
        self._new_events = asyncio.Condition()
        self._reconcile_lock = asyncio.Lock()
        self._last_reconcile: dict[str, Any] = {}
        self._hubs = [self._ensure_hub_actor(i) for i in range(self._settings.hub_actors)]
        self._task = asyncio.get_running_loop().create_task(self._control_loop())

    def _ensure_hub_actor(self, shard: int) -> Any:
        opts = detached_options(hub_actor_name(shard), self._settings.namespace,
                                max_restarts=-1, max_task_retries=-1, max_concurrency=64)
        opts.update(pinned(self._home, soft=True))
        return hub_actor_class().options(**opts).remote(self._settings.to_dict(), shard)

    # --- control loop ---------------------------------------------------------------------

    async def _control_loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except Exception:
                log.exception("reconcile failed; retrying")
            await asyncio.sleep(self._settings.reconcile_seconds)

    async def ping(self) -> dict[str, Any]:
        return {"actors": len(self._actors), "hosted": len(self._hosted), "seq": self._seq,
                "last_reconcile": dict(self._last_reconcile)}

    async def reconcile(self) -> dict[str, Any]:
        """Converge now; returns counts (actors, dead, assigned, unassigned, hosted)."""
        async with self._reconcile_lock:
            report = await self._reconcile()
            self._last_reconcile = report
            return report

    async def _reconcile(self) -> dict[str, Any]:
        alive = await asyncio.to_thread(self._alive_nodes)
        await asyncio.to_thread(self._discover_actors)
        dead = await self._probe_actors(alive)
        spokes = await asyncio.to_thread(self._store.list_spokes)
        desired = {s.id: s for s in spokes if s.enabled}
        self._hub_spokes = {}
        for s in desired.values():
            self._hub_spokes.setdefault(s.hub_id, []).append(s.id)
        unassigned = await self._unassign_unwanted(desired)
        self._ensure_spoke_actors(alive, len(desired))
        assigned = await self._assign_missing(desired)
        return {"actors": len(self._actors), "dead": dead, "assigned": assigned,
                "unassigned": unassigned, "hosted": len(self._hosted), "nodes": len(alive)}

    def _alive_nodes(self) -> list[str]:
        return sorted(n["NodeID"] for n in self._ray.nodes() if n.get("Alive"))

    def _discover_actors(self) -> None:
        """Pick up spoke actors created before this supervisor (re)started."""
        ns = self._settings.namespace
        for name in named_actors(ns):
            if not name.startswith(SPOKE_ACTOR_PREFIX):
                continue
            if name not in self._actors:
                with contextlib.suppress(ValueError):
                    self._actors[name] = self._ray.get_actor(name, namespace=ns)
                    self._born[name] = time.monotonic()

    async def _probe_actors(self, alive: Sequence[str]) -> int:
        names = list(self._actors)
        results = await asyncio.gather(
            *(_call(self._actors[n].ping.remote(), self._settings.ping_timeout) for n in names),
            return_exceptions=True,
        )
        hosted: dict[str, str] = {}
        dead = 0
        for name, result in zip(names, results, strict=True):
            if isinstance(result, TimeoutError) and self._may_be_slow(name, alive):
                # Busy or still starting: keep its spokes where they are (never run one
                # spoke in two actors), count the miss.
                hosted.update({s: a for s, a in self._hosted.items() if a == name})
                continue
            node = result.get("node_id") if isinstance(result, dict) else None
            if isinstance(result, BaseException) or node not in alive:
                dead += 1
                self._forget_actor(name, reason=repr(result)[:200])
                continue
            self._nodes[name] = str(node)
            self._misses.pop(name, None)
            self._born.pop(name, None)
            for spoke_id in result.get("assigned", ()):
                hosted.setdefault(spoke_id, name)
        self._hosted = hosted
        return dead

    def _may_be_slow(self, name: str, alive: Sequence[str]) -> bool:
        """Whether an unanswered ping may still come from a live actor."""
        node = self._nodes.get(name)
        if node is not None and node not in alive:
            return False
        born = self._born.get(name)
        if born is not None and time.monotonic() - born < STARTUP_GRACE:
            return True
        self._misses[name] = self._misses.get(name, 0) + 1
        return self._misses[name] < MAX_MISSES

    def _forget_actor(self, name: str, reason: str) -> None:
        handle = self._actors.pop(name, None)
        self._nodes.pop(name, None)
        self._born.pop(name, None)
        self._misses.pop(name, None)
        lost = [s for s, a in self._hosted.items() if a == name]
        log.warning("spoke actor %s is dead (%s); re-assigning %d spokes", name, reason, len(lost))
        for spoke_id in lost:
            self._hosted.pop(spoke_id, None)
            self._record(ProgressEvent("state", "", spoke_id, "actor_died", datetime.now(UTC),
                                       detail=name))
        if handle is not None:
            with contextlib.suppress(Exception):
                self._ray.kill(handle, no_restart=True)

    async def _unassign_unwanted(self, desired: dict[str, Any]) -> int:
        by_actor: dict[str, list[str]] = {}
        for spoke_id, name in self._hosted.items():
            if spoke_id not in desired:
                by_actor.setdefault(name, []).append(spoke_id)
        await self._fan_out("unassign", {a: ids for a, ids in by_actor.items()})
        for ids in by_actor.values():
            for spoke_id in ids:
                self._hosted.pop(spoke_id, None)
        return sum(len(ids) for ids in by_actor.values())

    def _ensure_spoke_actors(self, alive: Sequence[str], wanted_spokes: int) -> None:
        per_node: dict[str, int] = {n: 0 for n in alive}
        for name, node in self._nodes.items():
            if node in per_node and name in self._actors:
                per_node[node] += 1
        for node in alive:
            for _ in range(self._settings.spoke_actors_per_node - per_node[node]):
                self._create_spoke_actor(node)
                per_node[node] += 1
        # More actors when the spokes exceed the capacity: on the least loaded nodes.
        capacity = len(self._actors) * self._settings.max_spokes_per_actor
        while alive and capacity < wanted_spokes:
            node = min(alive, key=lambda n: per_node[n])
            self._create_spoke_actor(node)
            per_node[node] += 1
            capacity += self._settings.max_spokes_per_actor

    def _create_spoke_actor(self, node: str) -> None:
        name = f"{SPOKE_ACTOR_PREFIX}{node[:8]}-{uuid.uuid4().hex[:6]}"
        opts = detached_options(name, self._settings.namespace, max_restarts=0,
                                max_concurrency=100_000)
        opts.update(pinned(node, soft=False))
        self._actors[name] = spoke_actor_class().options(**opts).remote(
            self._settings.to_dict(), name)
        self._nodes[name] = node
        self._born[name] = time.monotonic()
        log.info("created spoke actor %s on node %s", name, node)

    async def _assign_missing(self, desired: dict[str, Any]) -> int:
        load = {name: 0 for name in self._actors}
        for name in self._hosted.values():
            if name in load:
                load[name] += 1
        plan: dict[str, list[tuple[str, str]]] = {}
        for spoke_id, spoke in desired.items():
            if spoke_id in self._hosted or not load:
                continue
            name = min(load, key=lambda a: load[a])
            if load[name] >= self._settings.max_spokes_per_actor:
                break
            load[name] += 1
            plan.setdefault(name, []).append((spoke_id, spoke.hub_id))
        done = await self._fan_out("assign", plan)
        for name, pairs in plan.items():
            if name in done:
                for spoke_id, _ in pairs:
                    self._hosted[spoke_id] = name
        return sum(len(plan[n]) for n in done)

    async def _fan_out(self, method: str, per_actor: dict[str, Any]) -> set[str]:
        """Call ``method(args)`` on several actors at once; returns the names that answered."""
        names = [n for n in per_actor if per_actor[n] and n in self._actors]
        results = await asyncio.gather(
            *(_call(getattr(self._actors[n], method).remote(per_actor[n]), CALL_TIMEOUT)
              for n in names),
            return_exceptions=True,
        )
        ok = set()
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("%s on spoke actor %s failed: %r", method, name, result)
            else:
                ok.add(name)
        return ok

    # --- fan-out ---------------------------------------------------------------------------

    async def hub_changed(self, hub_id: str, source_spoke_id: str) -> int:
        """A merge from ``source_spoke_id`` changed ``hub_id``: ask every other enabled spoke
        of the hub for a push run, one call per hosting actor, not waited for (the spoke
        actors coalesce). Returns how many spokes were asked."""
        by_actor: dict[str, list[str]] = {}
        for spoke_id in self._hub_spokes.get(hub_id, ()):
            name = self._hosted.get(spoke_id)
            if spoke_id != source_spoke_id and name in self._actors:
                by_actor.setdefault(name, []).append(spoke_id)
        for name, ids in by_actor.items():
            self._actors[name].push_soon.remote(ids)
        return sum(len(ids) for ids in by_actor.values())

    # --- sync now, status -----------------------------------------------------------------

    async def sync_now(self, hub: str, spoke: str | None = None) -> list[dict[str, Any]]:
        """Run the hub's spokes (or one) now; returns one RunSummary dict per spoke once all
        runs finished. A disabled spoke gets a ``skipped`` summary. Raises NotFound."""
        targets = await asyncio.to_thread(self._targets, hub, spoke)
        return list(await asyncio.gather(*(self._sync_one(s) for s in targets)))

    def _targets(self, hub: str, spoke: str | None) -> list[Any]:
        if spoke is not None:
            return [self._store.find_spoke(hub, spoke)]
        self._store.get_hub(hub)
        return self._store.list_spokes(hub)

    async def _sync_one(self, spoke: Any) -> dict[str, Any]:
        if not spoke.enabled:
            return {"run_id": None, "spoke_id": spoke.id, "status": str(RunStatus.SKIPPED), "counts": {},
                    "error": {"code": "disabled", "message": "sync is disabled"},
                    "duration": 0.0}
        last: BaseException | None = None
        for _ in range(3):  # the hosting actor may die mid-run: re-assign and run again
            name = self._hosted.get(spoke.id)
            if name is None or name not in self._actors:
                await self.reconcile()
                name = self._hosted.get(spoke.id)
                if name is None:
                    last = NotFound("no spoke actor could take the spoke", spoke_id=spoke.id)
                    continue
            try:
                return await _call(self._actors[name].sync_now.remote(spoke.id), 24 * 3600)
            except Exception as exc:
                last = exc
                self._hosted.pop(spoke.id, None)
                await self.reconcile()
        error = {"code": "unavailable", "message": f"sync now failed: {last!r}"[:500]}
        return error_summary(spoke.id, error)

    async def status(self, hub_id: str | None = None) -> list[dict[str, Any]]:
        """Per hosted spoke: the spoke actor's view (state, next_run_at, failures, …)."""
        names = list(self._actors)
        results = await asyncio.gather(
            *(_call(self._actors[n].status.remote(), self._settings.ping_timeout)
              for n in names),
            return_exceptions=True,
        )
        out: list[dict[str, Any]] = []
        for result in results:
            if isinstance(result, list):
                out.extend(r for r in result if hub_id is None or r["hub_id"] == hub_id)
        return out

    async def hub_actors(self) -> list[dict[str, Any]]:
        results = await asyncio.gather(*(_call(h.status.remote(), 30) for h in self._hubs),
                                       return_exceptions=True)
        return [r if isinstance(r, dict) else {"error": repr(r)} for r in results]

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
        out = [e for e in self._events if e.seq > since]
        return out[:limit]

    async def last_seq(self) -> int:
        return self._seq


def supervisor_class() -> Any:
    import ray

    return ray.remote(Supervisor)


__all__ = ["HUB_ACTOR_PREFIX", "Supervisor", "supervisor_class"]
