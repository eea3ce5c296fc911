"""Placement: which spoke actor hosts which spoke, converged to the stored topology.

Ray-free: the store (a :class:`~cirahub.store.protocols.TopologyReader`) and the spoke actors
(a :class:`SpokeActors`, Ray's in production, a double in tests) are injected, as Ray Serve's
controller delegates to state managers. The supervisor actor calls :meth:`Placement.reconcile`
every few seconds and on demand.

A reconcile runs these phases, each on its own (one failing is reported and the next ones go
on with what is known):

1. ``nodes`` — the alive nodes;
2. ``discover`` — spoke actors created before this placement (re)started are adopted;
3. ``probe`` — every actor is pinged: one that does not answer (after a start-up grace and
   :data:`MAX_MISSES` misses), died, or sits on a dead node is killed and forgotten, and its
   spokes become unhosted; hosting is re-learnt from the actors' own answers;
4. ``topology`` — the enabled spokes, from the store;
5. ``unassign`` — spokes hosted but disabled or removed are unassigned;
6. ``actors`` — ``spoke_actors_per_node`` actors on every alive node, more when the spokes
   exceed ``max_spokes_per_actor`` per actor;
7. ``assign`` — every enabled, unhosted spoke goes to the least loaded actor; a *pinned*
   spoke (config key :data:`NODE_KEY`, e.g. a vdir folder that exists on one machine only)
   only to an actor on the node of that name, and while no such node is alive it stays
   unhosted and is listed in :attr:`Placement.waiting` (it is never moved elsewhere, where its
   calendar would look empty);
8. ``rebalance`` — an actor holding more than its fair share (plus :data:`REBALANCE_SLACK`)
   gives spokes back (never pinned ones); they are assigned elsewhere once it has stopped them
   (a spoke never runs in two actors: an unassigned spoke stays "hosted" where it was until
   that actor no longer reports it).

A node's names (what a pin matches): its Ray label :data:`NODE_LABEL`
(``ray start --labels cirahub-node=NAME``) and its IP address.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from cirahub.cluster.settings import Settings
from cirahub.core.errors import error_record
from cirahub.store.protocols import TopologyReader

log = logging.getLogger(__name__)

#: consecutive unanswered pings before a live-looking actor is declared dead
MAX_MISSES = 3
#: seconds a new actor may take to start before unanswered pings count
STARTUP_GRACE = 120.0
#: spokes an actor may hold above its fair share before some move
REBALANCE_SLACK = 10
#: spoke config key naming the node a spoke must run on (its calendar is local to that node)
NODE_KEY = "node"
#: Ray node label giving a node its cirahub name (``ray start --labels cirahub-node=NAME``)
NODE_LABEL = "cirahub-node"


@dataclass(frozen=True)
class ActorReport:
    """A spoke actor's answer to a ping: its node and the spokes it hosts (stopping ones too)."""

    node_id: str | None
    assigned: tuple[str, ...]


class NoAnswer(Exception):
    """A ping that got no answer in time (the actor may be busy or starting)."""


class SpokeActors(Protocol):
    """The spoke actors as the placement drives them (Ray in production)."""

    def alive_nodes(self) -> Mapping[str, frozenset[str]]:
        """Alive node id → the names a pinned spoke may give for it (label, IP address)."""
        ...
    def existing(self) -> list[str]:
        """Names of the spoke actors that exist (found by name)."""
        ...
    def create(self, node_id: str) -> str:
        """Start a spoke actor pinned to ``node_id``; returns its name."""
        ...
    async def ping(self, names: Sequence[str]) -> dict[str, ActorReport | BaseException]:
        """One answer per name: a report, NoAnswer, or the error that says it is gone."""
        ...
    async def assign(self, plan: Mapping[str, list[tuple[str, str]]]) -> set[str]:
        """``actor → [(spoke id, hub id)]``; returns the actors that took theirs."""
        ...
    async def unassign(self, plan: Mapping[str, list[str]]) -> set[str]:
        """``actor → [spoke id]``; returns the actors that answered."""
        ...
    def kill(self, name: str) -> None: ...


@dataclass
class ReconcileReport:
    actors: int = 0
    dead: int = 0
    assigned: int = 0
    unassigned: int = 0
    moved: int = 0
    hosted: int = 0
    nodes: int = 0
    #: phase → error text of the phases that failed this time
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"actors": self.actors, "dead": self.dead, "assigned": self.assigned,
                "unassigned": self.unassigned, "moved": self.moved, "hosted": self.hosted,
                "nodes": self.nodes, "errors": dict(self.errors)}


@dataclass
class _Actor:
    node: str | None
    born: float | None  # monotonic time of creation; None once it answered
    misses: int = 0


class Placement:
    """The assignment of spokes to spoke actors (soft state: re-learnt on every probe)."""

    def __init__(self, store: TopologyReader, actors: SpokeActors, settings: Settings, *,
                 clock: Callable[[], float] = time.monotonic,
                 on_lost: Callable[[str, str], None] | None = None) -> None:
        self._store, self._actors, self._settings = store, actors, settings
        self._clock = clock
        self._on_lost = on_lost or (lambda spoke_id, actor: None)
        self.known: dict[str, _Actor] = {}  # spoke actor name → what we know of it
        self.hosted: dict[str, str] = {}  # spoke id → spoke actor name (as last probed)
        #: hub id → its enabled spoke ids (as of the last topology read)
        self.hub_spokes: dict[str, list[str]] = {}
        #: enabled pinned spoke id → the node name it must run on (last topology read)
        self.pins: dict[str, str] = {}
        #: pinned spoke id → (hub id, node name) of the spokes whose node is not alive
        self.waiting: dict[str, tuple[str, str]] = {}
        self._nodes: list[str] = []
        self._names: Mapping[str, frozenset[str]] = {}

    # --- the reconcile --------------------------------------------------------------------

    async def reconcile(self) -> ReconcileReport:
        report = ReconcileReport()
        self._phase(report, "nodes", self._read_nodes)
        self._phase(report, "discover", self._discover)
        await self._async_phase(report, "probe", self._probe(report))
        desired: dict[str, str] | None = None  # enabled spoke id → hub id
        try:  # off the event loop: 10,000 spokes' rows are ~0.1 s of decoding, and with an
            # embedded Ray the loop runs spokes too (actors/local.py)
            desired = await asyncio.to_thread(self._desired)
        except Exception as exc:
            self._failed(report, "topology", exc)
        if desired is not None:
            await self._async_phase(report, "unassign", self._unassign_unwanted(desired, report))
            self._phase(report, "actors", lambda: self._ensure_actors(len(desired)))
            await self._async_phase(report, "assign", self._assign_missing(desired, report))
            await self._async_phase(report, "rebalance", self._rebalance(report))
        report.actors, report.hosted, report.nodes = (len(self.known), len(self.hosted),
                                                      len(self._nodes))
        return report

    def _phase(self, report: ReconcileReport, name: str, step: Callable[[], object]) -> None:
        try:
            step()
        except Exception as exc:
            self._failed(report, name, exc)

    async def _async_phase(self, report: ReconcileReport, name: str,
                           step: Awaitable[None]) -> None:
        try:
            await step
        except Exception as exc:
            self._failed(report, name, exc)

    @staticmethod
    def _failed(report: ReconcileReport, name: str, exc: BaseException) -> None:
        log.warning("reconcile phase %s failed", name, exc_info=exc)
        report.errors[name] = str(error_record(exc)["message"])[:300]

    # --- phases ---------------------------------------------------------------------------

    def _read_nodes(self) -> None:
        self._names = dict(self._actors.alive_nodes())
        self._nodes = sorted(self._names)

    def _fits(self, name: str, spoke_id: str) -> bool:
        """Whether spoke actor ``name`` may host ``spoke_id`` (its pin, if any, names the
        actor's node)."""
        pin = self.pins.get(spoke_id)
        if pin is None:
            return True
        node = self.known[name].node if name in self.known else None
        return node is not None and pin in self._names.get(node, frozenset())

    def _discover(self) -> None:
        for name in self._actors.existing():
            self.known.setdefault(name, _Actor(node=None, born=self._clock()))

    async def _probe(self, report: ReconcileReport) -> None:
        answers = await self._actors.ping(list(self.known))
        hosted: dict[str, str] = {}
        for name, answer in answers.items():
            if isinstance(answer, NoAnswer) and self._may_be_slow(name):
                # Busy or still starting: keep its spokes where they are (never run one
                # spoke in two actors), count the miss.
                hosted.update({s: a for s, a in self.hosted.items() if a == name})
                continue
            if isinstance(answer, BaseException) or answer.node_id not in self._nodes:
                report.dead += 1
                self._forget(name, reason=repr(answer)[:200])
                continue
            self.known[name] = _Actor(node=answer.node_id, born=None)
            for spoke_id in answer.assigned:
                hosted.setdefault(spoke_id, name)
        self.hosted = hosted

    def _may_be_slow(self, name: str) -> bool:
        """Whether an unanswered ping may still come from a live actor."""
        actor = self.known[name]
        if actor.node is not None and actor.node not in self._nodes:
            return False
        if actor.born is not None and self._clock() - actor.born < STARTUP_GRACE:
            return True
        actor.misses += 1
        return actor.misses < MAX_MISSES

    def _forget(self, name: str, reason: str) -> None:
        self.known.pop(name, None)
        lost = [s for s, a in self.hosted.items() if a == name]
        log.warning("spoke actor %s is dead (%s); re-assigning %d spokes", name, reason, len(lost))
        for spoke_id in lost:
            self.hosted.pop(spoke_id, None)
            self._on_lost(spoke_id, name)
        try:
            self._actors.kill(name)
        except Exception:
            log.debug("killing spoke actor %s failed", name, exc_info=True)

    def _desired(self) -> dict[str, str]:
        spokes = self._store.spoke_placements()
        desired = {spoke_id: hub_id for spoke_id, hub_id, _ in spokes}
        self.pins = {spoke_id: str(config[NODE_KEY]) for spoke_id, _, config in spokes
                     if config.get(NODE_KEY)}
        self.hub_spokes = {}
        for spoke_id, hub_id in desired.items():
            self.hub_spokes.setdefault(hub_id, []).append(spoke_id)
        return desired

    async def _unassign_unwanted(self, desired: Mapping[str, str],
                                 report: ReconcileReport) -> None:
        plan: dict[str, list[str]] = {}
        for spoke_id, name in self.hosted.items():
            # hosted on a node its (changed) pin no longer names: moved like a removed one
            misplaced = (name in self.known and self.known[name].node is not None
                         and not self._fits(name, spoke_id))
            if spoke_id not in desired or misplaced:
                plan.setdefault(name, []).append(spoke_id)
        done = await self._actors.unassign(plan) if plan else set()
        for name in done:
            for spoke_id in plan[name]:
                self.hosted.pop(spoke_id, None)
            report.unassigned += len(plan[name])

    def _ensure_actors(self, wanted_spokes: int) -> None:
        per_node = {n: 0 for n in self._nodes}
        for actor in self.known.values():
            if actor.node in per_node:
                per_node[actor.node] += 1
        for node in self._nodes:
            for _ in range(self._settings.spoke_actors_per_node - per_node[node]):
                self._create(node, per_node)
        # More actors when the spokes exceed the capacity: on the least loaded nodes.
        capacity = len(self.known) * self._settings.max_spokes_per_actor
        while self._nodes and capacity < wanted_spokes:
            self._create(min(self._nodes, key=lambda n: per_node[n]), per_node)
            capacity += self._settings.max_spokes_per_actor

    def _create(self, node: str, per_node: dict[str, int]) -> None:
        name = self._actors.create(node)
        self.known[name] = _Actor(node=node, born=self._clock())
        per_node[node] += 1
        log.info("created spoke actor %s on node %s", name, node)

    def _load(self) -> dict[str, int]:
        load = dict.fromkeys(self.known, 0)
        for name in self.hosted.values():
            if name in load:
                load[name] += 1
        return load

    async def _assign_missing(self, desired: Mapping[str, str],
                              report: ReconcileReport) -> None:
        load = self._load()
        plan: dict[str, list[tuple[str, str]]] = {}
        self.waiting = {}
        for spoke_id, hub_id in desired.items():
            if spoke_id in self.hosted or not load:
                continue
            fitting = [a for a in load if self._fits(a, spoke_id)]
            if not fitting:  # only a pinned spoke fits nowhere: its node is not alive
                self.waiting[spoke_id] = (hub_id, self.pins.get(spoke_id, ""))
                continue
            name = min(fitting, key=lambda a: (load[a], a))
            if load[name] >= self._settings.max_spokes_per_actor:
                continue
            load[name] += 1
            plan.setdefault(name, []).append((spoke_id, hub_id))
        done = await self._actors.assign(plan) if plan else set()
        for name in done:
            for spoke_id, _ in plan[name]:
                self.hosted[spoke_id] = name
            report.assigned += len(plan[name])

    async def _rebalance(self, report: ReconcileReport) -> None:
        load = self._load()
        if len(load) < 2:
            return
        fair = math.ceil(sum(load.values()) / len(load))
        plan: dict[str, list[str]] = {}
        for name, n in load.items():
            extra = n - fair
            if extra > REBALANCE_SLACK:
                mine = sorted(s for s, a in self.hosted.items()
                              if a == name and s not in self.pins)
                plan[name] = mine[:extra]
        done = await self._actors.unassign(plan) if plan else set()
        # The moved spokes stay "hosted" by their actor until it reports them gone (they
        # finish their current run there first); the next reconcile assigns them.
        report.moved += sum(len(plan[name]) for name in done)


def spread(spoke_ids: Iterable[str], placement: Placement) -> dict[str, list[str]]:
    """Hosted spokes grouped by their actor (unhosted ones are left out)."""
    out: dict[str, list[str]] = {}
    for spoke_id in spoke_ids:
        name = placement.hosted.get(spoke_id)
        if name is not None and name in placement.known:
            out.setdefault(name, []).append(spoke_id)
    return out
