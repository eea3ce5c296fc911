"""``sync now`` of a spoke whose scheduled poll is under way, in one real SpokeActor (a plain
object, without Ray) on the virtual clock of :mod:`tests.sync.test_fleet_schedule`: nothing
races a scheduler (the clock moves only when nothing is ready and no work is in a thread).

The rule: a ``sync now`` is answered by a run that starts reading the spoke after it was
asked, so it sees every change made before. A scheduled poll that has not begun reading the
spoke (it is gathering the polls due with it, :data:`~cirahub.actors.spoke.PROBE_WINDOW`)
gives way to the sync's run, which does the poll's work too (a complete run), instead of the
sync waiting for the poll and then listing the spoke again (seen after ``apply``: the first
automatic run, within ``FIRST_RUN_SPREAD``, raced the ``sync`` that followed, and folder 0 was
listed twice). A poll that is reading the spoke already may miss a change made meanwhile:
the sync gets a run of its own after it."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from cirahub.actors.cycle import LocalMerger
from cirahub.actors.spoke import PROBE_WINDOW, SpokeActor
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.settings import Settings
from cirahub.connectors.memory import MemoryCalendar, MemoryConnector
from cirahub.core.options import SyncOptions
from tests.sync.harness import event
from tests.sync.test_fleet_schedule import Events, VirtualLoop, run_virtual


class Spoke:
    """One memory spoke hosted by a real SpokeActor whose first poll is at ``poll_at``
    seconds of the virtual clock."""

    def __init__(self, tmp_path: Path, loop: VirtualLoop) -> None:
        settings = Settings(data_dir=tmp_path)
        self.store = open_store(settings)
        self.calendar_name = f"poll-{uuid.uuid4().hex[:8]}"
        hub = self.store.create_hub(self.calendar_name)
        self.hub_id = hub.id
        self.calendar = MemoryCalendar.named(self.calendar_name)
        self.calendar.user_create(event("u1", "there before"))
        self.id = self.store.add_spoke(hub.name, "s", "memory", {"calendar": self.calendar_name},
                                       SyncOptions(interval_seconds=3600)).id
        self.loop = loop
        self.actor = SpokeActor(settings.to_dict(), "t", clock=loop.wall)
        self.actor._merger = LocalMerger(self.actor._store)  # merges here, not on Ray
        self.actor._outbox.supervisor = Events()

    async def assign(self, poll_at: float) -> None:
        await self.actor.assign([(self.id, self.hub_id)])
        self.actor._spokes[self.id].next_run_at = self.loop.wall() + poll_at  # not random

    def hub_uids(self) -> set[str]:
        return {h.item.uid for h in self.store.hub_items_changed_since(self.hub_id, 0) if h.item}

    def runs(self) -> int:
        return self.actor._spokes[self.id].runs

    async def close(self) -> None:
        await self.actor.unassign([self.id])
        await asyncio.sleep(5)
        for task in (self.actor._outbox.task, self.actor._idle_flusher):
            task.cancel()


def test_regression_a_sync_now_during_a_pending_poll_shares_it(tmp_path: Path) -> None:
    loop = VirtualLoop()

    async def main() -> tuple[dict[str, Any], list[Any], set[str], float]:
        spoke = Spoke(tmp_path, loop)
        try:
            return await shared(spoke)
        finally:
            await spoke.close()

    async def shared(spoke: Spoke) -> tuple[dict[str, Any], list[Any], set[str], float]:
        await spoke.assign(poll_at=1.0)
        # the poll started at 1.0 and gathers the polls due with it until 1.0 + PROBE_WINDOW
        await asyncio.sleep(1.0 + PROBE_WINDOW / 2)
        assert spoke.actor._spokes[spoke.id].running
        spoke.calendar.user_create(event("u2", "made just before the sync"))
        asked = loop.time()
        summary = await spoke.actor.sync_now(spoke.id)
        runs = spoke.store.list_runs(spoke_id=spoke.id, limit=10)
        return summary, runs, spoke.hub_uids(), loop.time() - asked

    summary, runs, uids, took = run_virtual(main(), loop)
    assert summary["status"] == "ok", summary
    assert uids == {"u1", "u2"}  # the change made before the sync is in the hub
    # one run, the sync's (before: the poll, then the sync's own run listing the spoke
    # again), and the sync did not wait for the rest of the poll's gathering window
    assert [(r.id, r.trigger, r.status) for r in runs] == [(summary["run_id"], "manual", "ok")]
    assert took < PROBE_WINDOW / 2


def test_a_sync_now_while_a_poll_reads_the_spoke_gets_a_run_of_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = VirtualLoop()
    listed: asyncio.Future[None] = loop.create_future()
    go_on = threading.Event()
    real_delta = MemoryConnector.delta

    def delta(self: MemoryConnector, cursor: str | None, known: Any) -> Any:
        out = real_delta(self, cursor, known)
        if not listed.done():  # the poll's listing: read, then held until the sync is asked
            loop.call_soon_threadsafe(listed.set_result, None)
            assert go_on.wait(60)
        return out

    monkeypatch.setattr(MemoryConnector, "delta", delta)

    async def main() -> tuple[dict[str, Any], int, set[str]]:
        spoke = Spoke(tmp_path, loop)
        try:
            return await own(spoke)
        finally:
            go_on.set()
            await spoke.close()

    async def own(spoke: Spoke) -> tuple[dict[str, Any], int, set[str]]:
        await spoke.assign(poll_at=1.0)
        await listed  # the poll has read the spoke
        spoke.calendar.user_create(event("u2", "made while the poll ran"))
        sync = asyncio.ensure_future(spoke.actor.sync_now(spoke.id))
        await asyncio.sleep(0)  # the sync is asked before the poll goes on
        go_on.set()
        return await sync, spoke.runs(), spoke.hub_uids()

    summary, runs, uids = run_virtual(main(), loop)
    assert summary["status"] == "ok", summary
    assert uids == {"u1", "u2"}
    assert runs == 2  # the poll (it missed u2), then the sync's own run
