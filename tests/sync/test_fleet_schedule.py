"""A fleet of idle spokes in one real SpokeActor (a plain object, without Ray) on a virtual
clock: every spoke polls once per interval, however many come due together, and a change
in one calendar is still a real run. Nothing races a scheduler: the event loop's clock only
moves when nothing is ready and no work is in a thread (work takes no virtual time), so
each poll starts when the schedule says, whatever the machine's load.

What is checked is what a user sees: the runs' events (``cirahubctl events``: a real run's
end, a fold's first idle poll, a hub's ``polls`` tally a minute) and the run history
(``cirahubctl runs``: idle polls folded into one row with ``polls`` and
``longest_gap_ms``)."""

from __future__ import annotations

import asyncio
import selectors
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as sa_event

from cirahub.actors.cycle import LocalMerger
from cirahub.actors.idle_flush import IDLE_FLUSH_SECONDS
from cirahub.actors.spoke import SpokeActor
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.settings import Settings
from cirahub.connectors.memory import MemoryCalendar
from cirahub.store.topology import NewSpoke
from tests.sync.harness import event

SPOKES = 400
INTERVAL = 60
SLACK = 1.1


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock jumps to the next timer when nothing is ready and no work
    is in a thread (then nothing can happen before that timer), and stands still while
    work runs in threads. ``wall()`` is the matching wall clock for the actor."""

    def __init__(self) -> None:
        self._now = 0.0
        self._start = time.time()
        self._in_threads = 0
        super().__init__(_Selector(self))

    def time(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._start + self._now

    def run_in_executor(self, executor: Any, func: Callable[..., Any],
                        *args: Any) -> asyncio.Future[Any]:
        self._in_threads += 1
        future = super().run_in_executor(executor, func, *args)
        future.add_done_callback(self._thread_done)
        return future

    def _thread_done(self, _: object) -> None:
        self._in_threads -= 1


class _Selector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[Any]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if self._loop._in_threads or timeout is None:  # wait (for real) for that work
            return super().select(None if timeout is None else 1.0)
        self._loop._now += timeout
        return []


def run_virtual(main: Coroutine[Any, Any, Any], loop: VirtualLoop) -> Any:
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()


class Events:
    """Stands in for the supervisor: keeps what the actor sends (its ``record_events``)."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.record_events = self
        self.calls = 0

    def remote(self, batch: list[Any]) -> None:
        self.calls += 1
        self.received.extend(batch)


def _fleet(tmp_path: Path, spokes: int = SPOKES) -> tuple[Any, Settings, str, list[str], str]:
    settings = Settings(data_dir=tmp_path)
    store = open_store(settings)
    hub = store.create_hub(f"fleet-{uuid.uuid4().hex[:6]}")
    names = [f"{hub.name}-{i}" for i in range(spokes)]
    ids = store.add_spokes(hub.name, [
        NewSpoke(f"s{i}", "memory", {"calendar": name}, {"interval_seconds": INTERVAL})
        for i, name in enumerate(names)])
    MemoryCalendar.named(names[0]).user_create(event("u1", "there before"))
    return store, settings, hub.id, ids, names[1]


def _counting(engine: Any) -> list[int]:
    """How many statements the engine ran (every one, BEGIN included)."""
    count = [0]

    @sa_event.listens_for(engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        count[0] += 1

    return count


async def _watch(tmp_path: Path, loop: VirtualLoop, minutes: int,
                 edit: bool = True) -> dict[str, Any]:
    store, settings, hub_id, ids, edited = _fleet(tmp_path)
    actor = SpokeActor(settings.to_dict(), "fleet", clock=loop.wall)
    actor._merger = LocalMerger(actor._store)  # merges here, not on Ray
    events = Events()
    actor._outbox.supervisor = events
    await actor.assign([(i, hub_id) for i in ids])
    # every spoke's first run (first attach), its push run (another spoke's first run
    # merged the item made before), then idle polls: each spoke's fold opened
    await asyncio.sleep(3 * INTERVAL)
    statements, start, calls = _counting(actor._store.engine), loop.wall(), events.calls
    runs_before = {i: s.runs for i, s in actor._spokes.items()}
    await asyncio.sleep(minutes * 60 / 2)
    calls, middle = events.calls - calls, loop.wall()  # while every poll was idle
    if edit:
        MemoryCalendar.named(edited).user_create(event("u2", "made meanwhile"))
    await asyncio.sleep(minutes * 60 / 2)
    runs = {i: s.runs - runs_before[i] for i, s in actor._spokes.items()}
    idle_statements = statements[0]
    await asyncio.sleep(2 * IDLE_FLUSH_SECONDS)  # the last folded polls are written
    await actor.unassign(ids)
    await asyncio.sleep(IDLE_FLUSH_SECONDS + 1)  # each spoke leaves after the next write
    assert not await actor.assigned()
    for task in (actor._outbox.task, actor._idle_flusher):
        task.cancel()
    return {"store": store, "ids": ids, "events": events, "start": start, "middle": middle,
            "end": loop.wall(), "runs": runs, "polls": sum(runs.values()),
            "statements": idle_statements, "calls": calls,
            "edited": store.find_spoke(hub_id, "s1").id}


def _longest_gap(segments: list[tuple[float, float, float]], start: float,
                 end: float) -> float:
    """The longest time without a poll in [start, end], from (first poll, last poll, longest
    gap between two polls inside) segments: a real run's event (a point), a fold's row."""
    longest, last = 0.0, start
    for first, final, inside in sorted(segments):
        if final < start:
            continue
        longest = max(longest, inside, first - last)
        last = max(last, final)
    return max(longest, end - last)


@pytest.fixture(scope="module")
def six_minutes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Six minutes of the fleet, a calendar edited in the middle: watched once for the two
    tests that read it (each reads only; the run takes most of their time)."""
    loop = VirtualLoop()
    seen: dict[str, Any] = run_virtual(_watch(tmp_path_factory.mktemp("fleet"), loop, minutes=6),
                                       loop)
    return seen


def test_every_spoke_of_a_fleet_polls_within_its_interval(six_minutes: dict[str, Any]) -> None:
    seen = six_minutes
    segments: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    for e in seen["events"].received:
        if e.kind == "run":
            assert e.summary["status"] == "ok", e.summary
            if e.phase != "idle":  # a real run (an idle one is in its fold's row)
                segments[e.spoke_id].append((e.at.timestamp(),) * 2 + (0.0,))
    # the run history: per spoke, folded idle polls kept the interval, and the calendar
    # changed meanwhile was a real run that pulled it
    for spoke_id in seen["ids"]:
        history = seen["store"].list_runs(spoke_id=spoke_id, limit=100)
        folded = [r for r in history if "polls" in r.counts]
        assert folded, (spoke_id, [r.counts for r in history])
        segments[spoke_id] += [(r.started_at.timestamp(), r.finished_at.timestamp(),
                                r.counts["longest_gap_ms"] / 1000) for r in folded]
        gap = _longest_gap(segments[spoke_id], seen["start"], seen["end"])
        assert gap <= INTERVAL * SLACK, (spoke_id, gap, segments[spoke_id])
        assert seen["runs"][spoke_id] in (5, 6, 7), (spoke_id, seen["runs"][spoke_id])
    edits = [r for r in seen["store"].list_runs(spoke_id=seen["edited"], limit=100)
             if r.counts.get("pulled")]
    assert [(r.trigger, r.counts["pulled"]) for r in edits] == [("schedule", 1)]


def test_regression_idle_polls_send_a_tally_a_minute_not_an_event_each(
        six_minutes: dict[str, Any]) -> None:
    """Before: every idle poll sent its own ``run`` event to the supervisor, and the server
    logged a ``run finished`` line for it: 10,000 spokes polled every minute were 167 events
    and lines a second. Now a fold's first poll sends one and the later ones are counted in
    one ``polls`` event per hub a minute."""
    seen = six_minutes
    idle_half = [e for e in seen["events"].received
                 if seen["start"] <= e.at.timestamp() < seen["middle"]]
    runs = [e for e in idle_half if e.kind == "run"]
    # at most a fold's first poll per spoke (most folds opened before): was 3 polls each
    assert len(runs) <= SPOKES // 20 and {e.phase for e in runs} <= {"idle"}, len(runs)
    assert len({e.spoke_id for e in runs}) == len(runs)
    tallies = [e for e in idle_half if e.kind == "polls"]
    assert len(tallies) in (2, 3, 4), [e.counts for e in tallies]  # one a minute (3 min)
    assert SPOKES * 2 <= sum(e.counts["polls"] for e in tallies) <= SPOKES * 4
    assert all(e.counts["spokes"] <= SPOKES and e.spoke_id == "" and e.detail == "fleet"
               and 0 < e.counts["longest_gap_ms"] <= INTERVAL * SLACK * 1000
               for e in tallies), [e.counts for e in tallies]
    # a call a minute to the supervisor, and one per late fold's first poll at most
    assert seen["calls"] <= 4 + len(runs), seen["calls"]
    # the edited spoke's real run and the first idle poll of its new fold each told
    edited = [e.phase for e in seen["events"].received if e.kind == "run"
              and e.spoke_id == seen["edited"] and e.at.timestamp() >= seen["middle"]]
    assert edited == ["done", "idle"], edited


def test_regression_an_idle_fleet_costs_about_one_statement_per_poll(tmp_path: Path) -> None:
    """Before: every idle poll was two read transactions of its own in its own thread hop
    (the spoke's poll view, its links' versions: BEGIN + SELECT each, 4 statements), which
    at 10,000 spokes per minute cost most of a core; polls due together are now probed in
    one read snapshot."""
    loop = VirtualLoop()
    seen = run_virtual(_watch(tmp_path, loop, minutes=2, edit=False), loop)
    assert seen["polls"] >= SPOKES * 2 * 0.9
    assert seen["statements"] / seen["polls"] < 2, seen  # was 4 (and 8 thread hops)


async def _leave(tmp_path: Path, loop: VirtualLoop) -> dict[str, Any]:
    store, settings, hub_id, ids, _ = _fleet(tmp_path, spokes=3)
    actor = SpokeActor(settings.to_dict(), "fleet", clock=loop.wall)
    actor._merger = LocalMerger(actor._store)
    actor._outbox.supervisor = Events()
    await actor.assign([(i, hub_id) for i in ids])
    # every spoke polled idle, and some of those polls are not written yet
    while not (all(s.fold for s in actor._spokes.values()) and len(actor._idle)):
        await asyncio.sleep(0.5)
    unwritten = {r.spoke_id: r.run_id for r in actor._idle._dirty.values()}
    await actor.unassign(ids)
    while await actor.assigned():
        await asyncio.sleep(0.1)
    stored = {i: [r.id for r in store.list_runs(spoke_id=i, limit=100)] for i in unwritten}
    for task in (actor._outbox.task, actor._idle_flusher):
        task.cancel()
    return {"unwritten": unwritten, "stored": stored}


def test_regression_a_spoke_leaves_its_actor_after_its_idle_polls_are_stored(
        tmp_path: Path) -> None:
    """Before: an unassigned spoke left its actor at once, and the idle polls folded since
    the last write (up to 5 s of them) were written after: a spoke no longer hosted anywhere
    got a new run row later (test_disabling_stops_polling_and_enabling_catches_up, 1 in a
    few runs under load). Now its fold is written before the actor stops reporting it."""
    loop = VirtualLoop()
    seen = run_virtual(_leave(tmp_path, loop), loop)
    assert seen["unwritten"]
    for spoke_id, run_id in seen["unwritten"].items():
        assert run_id in seen["stored"][spoke_id], seen
