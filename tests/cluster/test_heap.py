"""The collector of cirahub's long-lived processes (:mod:`cirahub.cluster.heap`): what start-up
left alive is frozen once the process has started (a full collection no longer walks Ray's,
gRPC's and the libraries' objects: ~0.1 s each in a supervisor during an initial sync), and
the young generation's threshold is raised. Cycles made later are still collected.

Each process settles once it has started: the server before it publishes its address, the
supervisor, and a hub or spoke actor that is a process of its own (not one that lives in the
supervisor's process: that one settled already)."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cirahub.cluster import heap
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.settings import Settings


@pytest.fixture
def collector() -> Iterator[None]:
    """The test process's collector as it was, afterwards."""
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


class _Node:
    def __init__(self) -> None:
        self.other: Any = self


def test_settle_freezes_what_lives_and_raises_the_young_threshold(
        collector: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(heap.ENV, raising=False)
    kept = [_Node() for _ in range(10)]
    assert heap.settle()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold()[0] == heap.YOUNG_THRESHOLD


def test_a_cycle_made_after_settling_is_still_collected(
        collector: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(heap.ENV, raising=False)
    heap.settle()
    node = _Node()
    gone = weakref.ref(node)
    del node
    gc.collect()
    assert gone() is None


def test_settle_can_be_turned_off(collector: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(heap.ENV, "0")
    gc.unfreeze()
    before = gc.get_threshold()
    assert not heap.settle()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


class _Calls:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> bool:
        self.n += 1
        return True


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> _Calls:
    """Counts the settle() calls of the actors and of the server (the test process's
    collector is left alone)."""
    calls = _Calls()
    for module in ("cirahub.actors.hub", "cirahub.actors.spoke", "cirahub.actors.supervisor",
                   "cirahub.control.server"):
        monkeypatch.setattr(f"{module}.settle", calls)
    return calls


def test_regression_a_hub_actor_of_its_own_settles_its_heap(tmp_path: Path,
                                                            settled: _Calls) -> None:
    from cirahub.actors.hub import HubActor

    settings = Settings(data_dir=tmp_path)
    open_store(settings).close()  # migrated, as the server does
    HubActor(settings.to_dict(), 0)  # in the supervisor's process: it settled already
    assert settled.n == 0
    HubActor(settings.to_dict(), 0, settle_heap=True)
    assert settled.n == 1


def test_regression_a_spoke_actor_of_its_own_settles_its_heap(tmp_path: Path,
                                                              settled: _Calls) -> None:
    from cirahub.actors.spoke import SpokeActor

    settings = Settings(data_dir=tmp_path)
    open_store(settings).close()

    async def make() -> None:
        SpokeActor(settings.to_dict(), "in-supervisor")
        assert settled.n == 0
        SpokeActor(settings.to_dict(), "own", settle_heap=True)
        assert settled.n == 1

    asyncio.run(make())


def test_regression_the_actors_made_as_processes_are_told_to_settle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cirahub.actors import ray_spokes

    made: list[dict[str, Any]] = []

    class _Class:
        def options(self, **opts: Any) -> _Class:
            return self

        def remote(self, *args: Any, **kwargs: Any) -> object:
            made.append(kwargs)
            return object()

    monkeypatch.setattr(ray_spokes, "spoke_actor_class", _Class)
    actors = ray_spokes.RaySpokeActors(Settings(data_dir=tmp_path))
    actors.create("ab" * 28)  # a node id (hex)
    assert made == [{"settle_heap": True}]


def test_regression_the_supervisor_settles_its_heap(tmp_path: Path, settled: _Calls) -> None:
    from cirahub.actors.supervisor import Supervisor

    settings = Settings(data_dir=tmp_path, hubs_in_supervisor=True)
    open_store(settings).close()

    async def make() -> None:
        supervisor = Supervisor(settings.to_dict())
        supervisor._task.cancel()
        assert settled.n == 1

    asyncio.run(make())


def test_regression_the_server_settles_before_it_publishes_its_address(
        tmp_path: Path, settled: _Calls) -> None:
    from cirahub.control import server

    class _Runtime:
        store = None

    class _Lock:
        def publish(self, text: str) -> None:
            assert settled.n == 1  # the address is published once the server has settled

    stop = threading.Event()
    stop.set()  # stops once it listens
    settings = Settings(data_dir=tmp_path, listen="127.0.0.1:0")
    server._listen_until_stopped(_Runtime(), settings, "t" * 32, None, _Lock(),  # type: ignore[arg-type]
                                 None, stop, http_listen="off")
    assert settled.n == 1
