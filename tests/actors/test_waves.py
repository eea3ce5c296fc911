"""Push waves read ahead for the due spokes still waiting for a push thread
(actors/waves.py): prepared inputs are used only while they are as good as a read at the
push run's start — never after another run of the spoke, never when a later notice needs a
newer hub version, never when too old."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cirahub.actors.push_wave import WaveInput
from cirahub.actors.pushing import PushBasis
from cirahub.actors.waves import Waves


class Store:
    """A fake ``prepare``: every call recorded; each spoke's input at ``version``."""

    def __init__(self) -> None:
        self.version = 1
        self.calls: list[list[str]] = []
        self.hold = threading.Event()
        self.hold.set()

    def prepare(self, ids: list[str]) -> list[WaveInput | BaseException]:
        self.hold.wait(30)
        self.calls.append(list(ids))
        spoke: Any = None  # not looked at by the waves
        return [WaveInput(spoke, 0, PushBasis(self.version, 0, {}, {})) for _ in ids]


def run(body: Any) -> None:
    asyncio.run(body())


def waves_of(store: Store, due: list[str], **kw: Any) -> Waves:
    return Waves(store.prepare, ThreadPoolExecutor(1), lambda: list(due), window=0.001,
                 limit=100, **kw)


def test_a_due_spoke_is_prepared_ahead_and_its_push_run_starts_without_a_read() -> None:
    store = Store()

    async def body() -> None:
        waves = waves_of(store, ["b", "c"])
        assert (await waves("a", 1)).basis.hub_version == 1  # type: ignore[union-attr]
        await asyncio.sleep(0.05)  # the read ahead (a job after the asked one) ends
        assert store.calls == [["a"], ["b", "c"]] and waves.prepared == 2
        await waves("b", 1)
        await waves("c", 1)
        assert store.calls == [["a"], ["b", "c"]]  # no read of their own

    run(body)


def test_a_spoke_that_ran_meanwhile_reads_again() -> None:
    """A poll or sync of the spoke after its inputs were prepared (its links, its cursor
    may have moved): the push run reads again, also when the run started while its inputs
    were still being read."""
    store = Store()

    async def body() -> None:
        waves = waves_of(store, ["b", "c"])
        await waves("a", 1)
        await asyncio.sleep(0.05)
        waves.forget("b")
        await waves("b", 1)
        assert store.calls[-1] == ["b"]
        store.hold.clear()  # the next read ahead is held while under way
        waves = waves_of(store, ["d"])
        first = asyncio.ensure_future(waves("a", 1))
        await asyncio.sleep(0.05)
        waves.forget("d")  # a run of d starts while d is being prepared
        store.hold.set()
        await first
        await asyncio.sleep(0.05)
        assert waves.prepared == 0
        await waves("d", 1)
        assert store.calls[-1] == ["d"]

    run(body)


def test_a_later_notice_or_an_old_read_reads_again() -> None:
    """Prepared inputs cover what was noticed before they were read; a push run that must
    cover a newer hub version (a merge after the read) reads again, so a burst of merges
    still costs a waiting spoke one push run with all of them; so does an input older
    than ``max_age``."""
    store = Store()

    async def body() -> None:
        waves = waves_of(store, ["b", "c"])
        await waves("a", 1)
        await asyncio.sleep(0.05)
        store.version = 2
        assert (await waves("b", 2)).basis.hub_version == 2  # type: ignore[union-attr]
        assert store.calls[-1] == ["b"]
        old = waves_of(store, ["e"], max_age=0.0)
        await old("a", 1)
        await asyncio.sleep(0.05)
        await old("e", 1)
        assert store.calls[-1] == ["e"]

    run(body)


def test_a_wave_announced_is_read_once_the_last_announced_spoke_asked() -> None:
    """A sync's push phase says which push runs come (Waves.expect): their wave is read as
    soon as the last asked, not a window later (here the window is 30 s), in one read."""
    store = Store()

    async def body() -> None:
        waves = Waves(store.prepare, ThreadPoolExecutor(1), lambda: [], window=30.0, limit=100)
        waves.expect(["a", "b"])
        done = await asyncio.wait_for(asyncio.gather(waves("a", 1), waves("b", 1)), 5.0)
        assert [w.basis.hub_version for w in done] == [1, 1]  # type: ignore[union-attr]
        assert store.calls == [["a", "b"]]

    run(body)


def test_an_announced_spoke_that_never_asks_delays_the_others_by_the_window_only() -> None:
    store = Store()

    async def body() -> None:
        loop = asyncio.get_running_loop()
        waves = Waves(store.prepare, ThreadPoolExecutor(1), lambda: [], window=0.2, limit=100)
        waves.expect(["a", "b", "gone"])
        started = loop.time()
        await asyncio.wait_for(asyncio.gather(waves("a", 1), waves("b", 1)), 5.0)
        assert loop.time() - started >= 0.15  # the window, as without an announcement
        assert store.calls == [["a", "b"]]
        # the announcement ended with that wave: a later ask waits its window again
        started = loop.time()
        await asyncio.wait_for(waves("gone", 1), 5.0)
        assert loop.time() - started >= 0.15 and store.calls == [["a", "b"], ["gone"]]

    run(body)


def test_a_wave_unannounced_waits_its_window() -> None:
    store = Store()

    async def body() -> None:
        loop = asyncio.get_running_loop()
        waves = Waves(store.prepare, ThreadPoolExecutor(1), lambda: [], window=0.2, limit=100)
        started = loop.time()
        await asyncio.wait_for(asyncio.gather(waves("a", 1), waves("b", 1)), 5.0)
        assert loop.time() - started >= 0.15 and store.calls == [["a", "b"]]

    run(body)
