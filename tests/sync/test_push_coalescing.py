"""Coalesced fan-out through the real SpokeActor (a plain object here, without Ray, hosting
memory spokes in this process so the test can hold their connector writes at a gate): many merges in a
row cost each spoke one push run, plus one follow-up for a spoke whose push was already
writing when they came — never one push run per merge, never a push run with nothing to do.

Nothing races a scheduler: the writes wait on a gate the test opens, and every wait is for
observable state (push runs held at the gate, the actor's queue drained)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

from cirahub.actors.cycle import LocalMerger
from cirahub.actors.spoke import SpokeActor
from cirahub.actors.summary import Trigger
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.settings import Settings
from cirahub.connectors.memory import MemoryCalendar, MemoryConnector
from cirahub.connectors.memory_calendar import WriteAttempt
from tests.sync.harness import Loop, event, until

SPOKES = 20
EDITS = 50
PUSH_THREADS = 4


class Gate:
    """Holds every connector write of the target spokes until opened; counts who waits."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.lock = threading.Lock()
        self.waiting: set[int] = set()

    def __call__(self, attempt: WriteAttempt) -> bool:
        with self.lock:
            self.waiting.add(threading.get_ident())
        self.open.wait(120)
        return False  # never fails the write


def _summaries(calendar: MemoryCalendar) -> list[str]:
    return sorted(str(i.fields.get("summary")) for i in calendar.items().values())


async def _fan_out(loop: Loop, tmp: Path, namespace: str) -> dict[str, list[str]]:
    """Edits in the source while the first push runs are held; returns the push runs'
    pushed counts per spoke name."""
    settings = Settings(data_dir=tmp, namespace=namespace, push_threads=PUSH_THREADS,
                        spoke_threads=2)
    actor = SpokeActor(settings.to_dict(), "test-coalescing")
    actor._merger = LocalMerger(loop.store)  # a full run would merge here, not on Ray
    targets = [s for name, s in loop.spokes.items() if name != "s00"]
    await actor.assign([(s.id, loop.hub.id) for s in loop.spokes.values()])
    for hosted in actor._spokes.values():
        hosted.next_run_at = time.time() + 3600  # no poll during the test: pushes only
    gate = Gate()
    for s in targets:
        assert s.calendar is not None
        s.calendar.fail_writes_matching(gate)
    source = loop.spokes["s00"]
    assert source.calendar is not None

    def edit(n: int) -> int:
        assert source.calendar is not None
        source.calendar.user_create(event(f"e{n}", f"edit {n}", day=1 + n % 27))
        loop.sync("s00")
        return int(loop.store.hub_version(loop.hub.id))

    version = edit(1)
    await actor.push_soon([s.id for s in targets], version)
    await until(lambda: len(gate.waiting) == PUSH_THREADS, "the first push runs at the gate")
    for n in range(2, EDITS + 1):  # every merge tells the actor, as the hub actor does
        version = edit(n)
        await actor.push_soon([s.id for s in targets], version)
    gate.open.set()
    await until(lambda: not actor._pushes.due() and actor._pushes.pushing == 0
                 and not any(h.running or h.push_pending for h in actor._spokes.values()),
                 "every push run done")
    await actor.unassign(list(actor._spokes))
    pushed: dict[str, list[str]] = {}
    for s in targets:
        runs = loop.store.list_runs(spoke_id=s.id, limit=1000)
        pushed[s.name] = [str(r.counts.get("pushed", 0)) for r in reversed(runs)
                          if r.trigger == Trigger.FANOUT]
    return pushed


def test_regression_one_push_run_per_edit_per_spoke(tmp_path: Path) -> None:
    """Before: each notice re-armed a spoke's pending flag once its run had *started
    waiting* for a thread, so a burst of merges gave every spoke a follow-up push run that
    carried nothing (its run had read the newest hub version already), and merges landing
    during every follow-up gave another; the hub's version was not in the notice, so nothing
    could tell a covered notice from a new one."""
    store = open_store(Settings(data_dir=tmp_path / "store"))
    loop = Loop(store, hub_name=f"coalesce-{uuid.uuid4().hex[:6]}")
    for i in range(SPOKES):
        name = f"s{i:02d}"
        calendar = MemoryCalendar.named(f"{loop.hub_name}-{name}")
        loop.add(name, MemoryConnector(calendar))
    loop.spokes["s00"].calendar.user_create(event("e0", "before"))  # type: ignore[union-attr]
    loop.sync_all()
    pushed = asyncio.run(_fan_out(loop, tmp_path / "store", f"coalesce-{uuid.uuid4().hex}"))
    expected = _summaries(loop.spokes["s00"].calendar)  # type: ignore[arg-type]
    assert len(expected) == EDITS + 1
    for name, spoke in loop.spokes.items():
        assert _summaries(spoke.calendar) == expected, name  # type: ignore[arg-type]
    held = [n for n, runs in pushed.items() if len(runs) == 2]
    assert all(1 <= len(runs) <= 2 for runs in pushed.values()), pushed
    # the spokes whose push was writing when the burst came: one follow-up each, carrying
    # every edit after the first; the others: one push run with all 50
    assert len(held) == PUSH_THREADS, pushed
    assert all(pushed[n] == ["1", str(EDITS - 1)] for n in held), pushed
    assert all(runs == [str(EDITS)] for n, runs in pushed.items() if n not in held), pushed
