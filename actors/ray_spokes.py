"""Ray's side of the spoke actors for the supervisor: named detached actors on the nodes.

:class:`RaySpokeActors` is :class:`~cirahub.cluster.placement.SpokeActors` on Ray (the
placement logic itself is Ray-free); the option helpers are shared by cirahub's named actors.
Split out of :mod:`cirahub.actors.supervisor`, which re-exports these names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from cirahub.actors.local import LOCAL_SUFFIX, LocalHandle, LoopMerger
from cirahub.actors.spoke import SpokeActor, spoke_actor_class
from cirahub.cluster.names import SPOKE_ACTOR_PREFIX, named_actors
from cirahub.cluster.placement import NODE_LABEL, ActorReport, NoAnswer
from cirahub.cluster.settings import Settings
from cirahub.core.states import SpokeState

log = logging.getLogger(__name__)

#: seconds an assign/unassign call may take (a new actor may still be starting)
CALL_TIMEOUT = 120.0


async def call_ref(ref: Any, timeout: float) -> Any:
    """The answer of a Ray reference (or a LocalHandle's), waited for up to ``timeout`` seconds
    on the running event loop."""
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


def waiting_status(spoke_id: str, hub_id: str, node: str) -> dict[str, Any]:
    """The status of a pinned spoke whose node is not in the cluster: unassigned, with an
    error saying so (it is not run elsewhere, so nothing is deleted meanwhile)."""
    message = (f"the spoke runs only on node {node!r}, which is not in the cluster; it "
               "resumes when that node (re)joins (nothing is deleted meanwhile)")
    return {"spoke_id": spoke_id, "hub_id": hub_id, "state": str(SpokeState.UNASSIGNED),
            "next_run_at": None, "failures": 0, "actor": None, "node_id": None, "node": None,
            "last_error": {"code": "node_unavailable", "message": message, "node": node}}


class RaySpokeActors:
    """:class:`~cirahub.cluster.placement.SpokeActors` on Ray: named detached actors, one
    NodeAffinity-pinned process each; handles are cached by name."""

    def __init__(self, settings: Settings, host: Any = None, home: str | None = None) -> None:
        """``host``: the supervisor, which hosts the spoke actor of node ``home`` itself
        when ``settings.spokes_in_supervisor`` (see :mod:`cirahub.actors.local`)."""
        import ray

        self._ray, self._settings = ray, settings
        self._host, self._home = host, home
        self.handles: dict[str, Any] = {}
        #: node id → the name shown for it (its cirahub-node label, else its IP address)
        self.node_names: dict[str, str] = {}

    def alive_nodes(self) -> dict[str, frozenset[str]]:
        out: dict[str, frozenset[str]] = {}
        for node in self._ray.nodes():
            if node.get("Alive"):
                label = (node.get("Labels") or {}).get(NODE_LABEL)
                names = {label, node.get("NodeManagerAddress")}
                out[node["NodeID"]] = frozenset(n for n in names if n)
                self.node_names[node["NodeID"]] = label or node.get("NodeManagerAddress") or ""
        return out

    def existing(self) -> list[str]:
        ns = self._settings.namespace
        for name in named_actors(ns):
            if name.startswith(SPOKE_ACTOR_PREFIX) and name not in self.handles:
                with contextlib.suppress(ValueError):
                    self.handles[name] = self._ray.get_actor(name, namespace=ns)
        return list(self.handles)

    def create(self, node_id: str) -> str:
        local = f"{SPOKE_ACTOR_PREFIX}{LOCAL_SUFFIX}"
        if (self._settings.spokes_in_supervisor and node_id == self._home
                and local not in self.handles):
            self.handles[local] = self._local(local)
            return local
        name = f"{SPOKE_ACTOR_PREFIX}{node_id[:8]}-{uuid.uuid4().hex[:6]}"
        opts = detached_options(name, self._settings.namespace, max_restarts=0,
                                max_concurrency=100_000)
        opts.update(pinned(node_id, soft=False))
        self.handles[name] = spoke_actor_class().options(**opts).remote(
            self._settings.to_dict(), name, settle_heap=True)
        return name

    def _local(self, name: str) -> LocalHandle:
        """A spoke actor object on this (the supervisor's) loop, its merges and events
        going straight to the supervisor."""
        loop = asyncio.get_running_loop()
        actor = SpokeActor(self._settings.to_dict(), name)
        if self._settings.hubs_in_supervisor:  # the hub writers are here too
            actor._merger = LoopMerger(self._host, loop)
        actor._outbox.supervisor = LocalHandle(self._host, loop)
        return LocalHandle(actor, loop)

    async def ping(self, names: Sequence[str]) -> dict[str, ActorReport | BaseException]:
        live = [n for n in names if n in self.handles]
        results = await asyncio.gather(
            *(call_ref(self.handles[n].ping.remote(), self._settings.ping_timeout) for n in live),
            return_exceptions=True)
        out: dict[str, ActorReport | BaseException] = {n: NoAnswer("no handle")
                                                       for n in names if n not in self.handles}
        for name, result in zip(live, results, strict=True):
            if isinstance(result, TimeoutError):
                out[name] = NoAnswer("ping timed out")
            elif isinstance(result, BaseException):
                out[name] = result
            else:
                out[name] = ActorReport(result.get("node_id"), tuple(result.get("assigned", ())))
        return out

    async def assign(self, plan: Mapping[str, list[tuple[str, str]]]) -> set[str]:
        return await self._fan_out("assign", plan)

    async def unassign(self, plan: Mapping[str, list[str]]) -> set[str]:
        return await self._fan_out("unassign", plan)

    def kill(self, name: str) -> None:
        handle = self.handles.pop(name, None)
        if isinstance(handle, LocalHandle):  # in this process: its spokes stop instead
            handle.unassign.remote(list(handle.target._spokes))
        elif handle is not None:
            self._ray.kill(handle, no_restart=True)

    async def _fan_out(self, method: str, per_actor: Mapping[str, Any]) -> set[str]:
        """Call ``method(args)`` on several actors at once; returns the names that answered."""
        names = [n for n in per_actor if per_actor[n] and n in self.handles]
        results = await asyncio.gather(
            *(call_ref(getattr(self.handles[n], method).remote(per_actor[n]), CALL_TIMEOUT)
              for n in names),
            return_exceptions=True)
        ok = set()
        for name, result in zip(names, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("%s on spoke actor %s failed: %r", method, name, result)
            else:
                ok.add(name)
        return ok


__all__ = ["CALL_TIMEOUT", "RaySpokeActors", "call_ref", "detached_options", "pinned",
           "waiting_status"]
