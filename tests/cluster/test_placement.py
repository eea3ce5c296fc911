"""Placement without Ray: the real store (SQLite) and a double of the spoke actors that
behaves like them (an unassigned spoke is reported until its actor finished it)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from cirahub.cluster.placement import (
    MAX_MISSES,
    REBALANCE_SLACK,
    STARTUP_GRACE,
    ActorReport,
    NoAnswer,
    Placement,
    ReconcileReport,
)
from cirahub.cluster.settings import Settings
from cirahub.core.errors import StoreError


@dataclass
class FakeActor:
    node: str
    assigned: set[str] = field(default_factory=set)
    stopping: set[str] = field(default_factory=set)
    #: "ok", "silent" (ping times out) or "dead" (ping fails)
    health: str = "ok"


class FakeSpokeActors:
    def __init__(self, nodes: Sequence[str]) -> None:
        self.nodes = list(nodes)
        self.actors: dict[str, FakeActor] = {}
        self.killed: list[str] = []
        self.fail: set[str] = set()  # method names that raise
        self._n = 0

    def _check(self, method: str) -> None:
        if method in self.fail:
            raise RuntimeError(f"{method} is broken")

    def alive_nodes(self) -> dict[str, frozenset[str]]:
        self._check("alive_nodes")
        # a node answers to its id and to its label (here: "label-" + id)
        return {n: frozenset({n, f"label-{n}"}) for n in self.nodes}

    def existing(self) -> list[str]:
        return list(self.actors)

    def create(self, node_id: str) -> str:
        self._check("create")
        self._n += 1
        name = f"actor{self._n}"
        self.actors[name] = FakeActor(node_id)
        return name

    async def ping(self, names: Sequence[str]) -> dict[str, ActorReport | BaseException]:
        out: dict[str, ActorReport | BaseException] = {}
        for name in names:
            actor = self.actors.get(name)
            if actor is None or actor.health == "dead":
                out[name] = RuntimeError("actor died")
            elif actor.health == "silent":
                out[name] = NoAnswer("ping timed out")
            else:
                out[name] = ActorReport(actor.node, tuple(sorted(actor.assigned)))
        return out

    async def assign(self, plan: Mapping[str, list[tuple[str, str]]]) -> set[str]:
        self._check("assign")
        for name, pairs in plan.items():
            for spoke_id, _ in pairs:
                # the rule the placement must keep: never one spoke in two live actors
                assert not any(spoke_id in a.assigned for n, a in self.actors.items()
                               if n != name and a.health != "dead"), spoke_id
                self.actors[name].assigned.add(spoke_id)
                self.actors[name].stopping.discard(spoke_id)
        return set(plan)

    async def unassign(self, plan: Mapping[str, list[str]]) -> set[str]:
        self._check("unassign")
        for name, ids in plan.items():
            self.actors[name].stopping.update(ids)
        return set(plan)

    def kill(self, name: str) -> None:
        self.killed.append(name)
        self.actors.pop(name, None)

    def finish_stopping(self) -> None:
        """Every stopping spoke finished its current run and is gone from its actor."""
        for actor in self.actors.values():
            actor.assigned -= actor.stopping
            actor.stopping.clear()

    def load(self) -> dict[str, int]:
        return {n: len(a.assigned) for n, a in self.actors.items()}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    store: Any
    actors: FakeSpokeActors
    placement: Placement
    clock: Clock
    lost: list[tuple[str, str]]

    def reconcile(self) -> ReconcileReport:
        return asyncio.run(self.placement.reconcile())

    def add_spokes(self, n: int, hub: str = "team") -> list[str]:
        if not any(h.name == hub for h in self.store.list_hubs()):
            self.store.create_hub(hub)
        start = len(self.store.list_spokes())
        return [self.store.add_spoke(hub, f"s{start + i}", "memory", {"calendar": f"c{i}"}).id
                for i in range(n)]

    def hosts(self) -> dict[str, str]:
        return {s: n for n, a in self.actors.actors.items() for s in a.assigned}


def make_world(store: Any, nodes: Sequence[str], **settings: Any) -> World:
    actors = FakeSpokeActors(nodes)
    clock = Clock()
    lost: list[tuple[str, str]] = []
    placement = Placement(store, actors, Settings(**settings), clock=clock,
                          on_lost=lambda s, a: lost.append((s, a)))
    return World(store, actors, placement, clock, lost)


def test_spokes_spread_over_the_nodes(store: Any) -> None:
    w = make_world(store, ["node-a", "node-b"])
    ids = w.add_spokes(6)
    report = w.reconcile()
    assert report.errors == {} and report.assigned == 6 and report.actors == 2
    assert sorted(a.node for a in w.actors.actors.values()) == ["node-a", "node-b"]
    assert sorted(w.actors.load().values()) == [3, 3]
    assert set(w.hosts()) == set(ids) == set(w.placement.hosted)


def test_node_loss_moves_its_spokes_to_the_surviving_node(store: Any) -> None:
    w = make_world(store, ["node-a", "node-b"])
    ids = w.add_spokes(6)
    w.reconcile()
    (on_b,) = [n for n, a in w.actors.actors.items() if a.node == "node-b"]
    lost_spokes = set(w.actors.actors[on_b].assigned)
    w.actors.nodes = ["node-a"]  # Ray reports node-b dead; its actor may still answer
    report = w.reconcile()
    assert report.dead == 1 and w.actors.killed == [on_b]
    assert {s for s, _ in w.lost} == lost_spokes
    assert set(w.hosts()) == set(ids)
    assert {w.actors.actors[n].node for n in w.hosts().values()} == {"node-a"}


def test_actor_death_replaces_the_actor_and_reassigns(store: Any) -> None:
    w = make_world(store, ["node-a"], spoke_actors_per_node=2)
    ids = w.add_spokes(4)
    w.reconcile()
    victim = next(iter(w.actors.actors))
    w.actors.actors[victim].health = "dead"
    report = w.reconcile()
    assert report.dead == 1 and victim not in w.actors.actors
    assert report.actors == 2  # a new actor took the dead one's place on the node
    assert set(w.hosts()) == set(ids) and sorted(w.actors.load().values()) == [2, 2]


def test_a_silent_actor_keeps_its_spokes_until_it_missed_enough_pings(store: Any) -> None:
    w = make_world(store, ["node-a", "node-b"])
    w.add_spokes(4)
    w.reconcile()
    silent = next(iter(w.actors.actors))
    held = set(w.actors.actors[silent].assigned)
    w.actors.actors[silent].health = "silent"
    w.clock.now += STARTUP_GRACE + 1
    for _ in range(MAX_MISSES - 1):
        report = w.reconcile()
        assert report.dead == 0
        assert {s for s, a in w.placement.hosted.items() if a == silent} == held  # not moved
    report = w.reconcile()
    assert report.dead == 1 and w.actors.killed == [silent]
    assert set(w.hosts()) >= held


def test_rebalancing_moves_spokes_to_a_new_node_without_running_one_twice(store: Any) -> None:
    w = make_world(store, ["node-a"])
    ids = w.add_spokes(40)
    w.reconcile()
    assert list(w.actors.load().values()) == [40]
    w.actors.nodes = ["node-a", "node-b"]
    report = w.reconcile()  # a new actor on node-b; the old one gives back its extra spokes
    assert report.moved == 20 > REBALANCE_SLACK
    assert report.assigned == 0  # they still run where they were until they stopped there
    w.actors.finish_stopping()
    report = w.reconcile()
    assert report.assigned == 20
    assert sorted(w.actors.load().values()) == [20, 20] and set(w.hosts()) == set(ids)
    assert w.reconcile().moved == 0  # balanced: nothing moves any more


def test_disabled_spokes_are_unassigned(store: Any) -> None:
    w = make_world(store, ["node-a"])
    ids = w.add_spokes(3)
    w.reconcile()
    store.update_spoke(ids[0], options={"enabled": False})
    report = w.reconcile()
    assert report.unassigned == 1
    w.actors.finish_stopping()
    w.reconcile()
    assert set(w.hosts()) == set(ids[1:])


def _pinned(w: World, name: str, node: str, hub: str = "team") -> str:
    if not any(h.name == hub for h in w.store.list_hubs()):
        w.store.create_hub(hub)
    return str(w.store.add_spoke(hub, name, "vdir", {"path": f"/srv/{name}", "node": node}).id)


def test_pinned_spokes_run_only_on_their_node_and_wait_while_it_is_down(store: Any) -> None:
    w = make_world(store, ["node-a", "node-b"])
    free = w.add_spokes(4)
    on_b = _pinned(w, "folder-b", "label-node-b")  # by label
    on_a = _pinned(w, "folder-a", "node-a")  # by the node's own name (an IP address in Ray)
    w.reconcile()
    node_of = {s: w.actors.actors[n].node for s, n in w.hosts().items()}
    assert node_of[on_b] == "node-b" and node_of[on_a] == "node-a"
    assert w.placement.waiting == {}

    w.actors.nodes = ["node-a"]  # node-b is gone: its free spokes move, its pinned one waits
    w.reconcile()
    assert set(w.hosts()) == {*free, on_a}
    hub_id = w.store.list_spokes()[0].hub_id
    assert w.placement.waiting == {on_b: (hub_id, "label-node-b")}

    w.actors.nodes = ["node-a", "node-b"]  # it is back (or replaced): the pinned spoke returns
    w.reconcile()
    assert {w.actors.actors[n].node for s, n in w.hosts().items() if s == on_b} == {"node-b"}
    assert w.placement.waiting == {}


def test_pinned_spokes_are_not_rebalanced_away(store: Any) -> None:
    w = make_world(store, ["node-a"])
    pinned = [_pinned(w, f"folder-{i}", "node-a") for i in range(30)]
    w.reconcile()
    w.actors.nodes = ["node-a", "node-b"]
    assert w.reconcile().moved == 0  # 30 > fair share + slack, but none may leave node-a
    assert {w.actors.actors[n].node for n in w.hosts().values()} == {"node-a"}
    assert set(w.hosts()) == set(pinned)


def test_a_spoke_pinned_elsewhere_moves_there(store: Any) -> None:
    w = make_world(store, ["node-a", "node-b"])
    spoke = _pinned(w, "folder", "node-a")
    w.reconcile()
    store.update_spoke(spoke, config={"path": "/srv/folder", "node": "node-b"})
    assert w.reconcile().unassigned == 1  # stopped on node-a first (never in two actors)
    w.actors.finish_stopping()
    w.reconcile()
    assert [w.actors.actors[n].node for n in w.hosts().values()] == ["node-b"]


class BrokenStore:
    """The real store whose topology read fails (the database is down)."""

    def __init__(self, store: Any) -> None:
        self._store, self.broken = store, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def list_spokes(self, hub: str | None = None) -> Any:
        if self.broken:
            raise StoreError("list spokes: database unavailable", action="list_spokes")
        return self._store.list_spokes(hub)

    def spoke_placements(self) -> Any:
        if self.broken:
            raise StoreError("spoke placements: database unavailable",
                             action="spoke_placements")
        return self._store.spoke_placements()


@pytest.mark.parametrize("phase", ["nodes", "topology", "assign", "actors"])
def test_each_reconcile_phase_fails_alone(store: Any, phase: str) -> None:
    broken = BrokenStore(store)
    w = make_world(broken, ["node-a", "node-b"])
    w.add_spokes(4)
    w.reconcile()
    w.actors.actors[next(iter(w.actors.actors))].health = "dead"  # work for the probe
    new = w.add_spokes(2)  # work for the assign phase
    if phase == "topology":
        broken.broken = True
    else:
        w.actors.fail.add({"nodes": "alive_nodes", "assign": "assign", "actors": "create"}[phase])
    report = w.reconcile()
    assert list(report.errors) == [phase]
    assert report.dead == 1  # the probe ran whatever failed after it
    if phase in ("nodes", "actors"):
        assert set(new) <= set(w.hosts())  # the assign phase still ran
    w.actors.fail.clear()
    broken.broken = False
    assert w.reconcile().errors == {}
    assert len(w.hosts()) == 6
