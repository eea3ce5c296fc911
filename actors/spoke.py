"""The spoke actor: one process hosting many spokes as asyncio tasks.

A Ray actor is a whole process (tens of MB), so one process per calendar cannot reach
thousands of calendars; instead each spoke is a small asyncio task here, and the blocking sync
cycle (connectors are synchronous) runs in a bounded thread pool (``Settings.spoke_threads``).

Per spoke, guarantees:

- scheduled polls keep to the spoke's slots: one every ``interval_seconds`` at a phase fixed by
  a hash of its id (:func:`~cirahub.actors.spoke_state.poll_slot`), so thousands of spokes
  are spread evenly over the interval and a late poll does not delay the later ones; the
  first poll after assignment comes within ``FIRST_RUN_SPREAD`` seconds; the interval and
  options are re-read from the store every run;
- a scheduled poll that finds nothing to do writes nothing on its own: it is folded into the
  spoke's run row of idle polls, stored in batches every few seconds (see
  :mod:`cirahub.actors.idle`); polls due together are probed together (:mod:`.probes`);
  only a fold's first poll sends a ``run`` event (phase ``idle``), the later ones are
  counted in one ``polls`` event per hub a minute (:mod:`.idle_flush`);
- ``sync_now`` wakes the spoke for a run that *starts after* the call (it sees every change
  made before; a poll not reading the spoke yet gives way to it); concurrent callers share it;
- ``push_soon`` (the fan-out after another spoke changed the hub, with the hub version the
  merge committed) gives the spoke a push run soon, coalesced by
  :class:`~cirahub.core.fanout.PushQueue` (at most one waiting per spoke; a notice a run
  under way covers adds nothing; a full run starting first answers it); a spoke backing off
  is left to its schedule, and the poll schedule does not move. The push runs started
  together (a sync's push runs too) share one store read, plan and writer (:mod:`.push_wave`),
  read ahead for the due spokes waiting (:mod:`.waves`), and write to their spokes on
  threads of their own (``Settings.push_threads``), never the polls';
- never two runs of one spoke at once in this actor; an unassigned spoke finishes its current
  run and its folded idle polls are written, then it stops (it is reported as ``stopping``
  until then, so the supervisor does not start it elsewhere meanwhile);
- failures back off exponentially (interval × 2^(n-1), bounded by ``max_backoff_seconds``,
  at least the server's ``back_off`` hint); the error stays visible in :meth:`status`;
- a slow or broken spoke holds one pool thread at most: the others keep their schedule as long
  as fewer than ``spoke_threads`` spokes are slow at once.

One run's work in a pool thread, and the events, are :mod:`cirahub.actors.spoke_runs`'
(a base of the actor). Progress events go to the supervisor in batches
(:mod:`cirahub.actors.outbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from cirahub.actors.hub import RayMerger
from cirahub.actors.idle import Batch, IdlePolls
from cirahub.actors.idle_flush import IdleWriter
from cirahub.actors.merger import Merger
from cirahub.actors.outbox import Outbox
from cirahub.actors.probes import Probed, Prober
from cirahub.actors.push_wave import WAVE_WINDOW, GroupCommit, prepare_wave
from cirahub.actors.run_modes import FULL, PULL, PUSH, run_mode
from cirahub.actors.spoke_runs import SpokeRuns
from cirahub.actors.spoke_state import (
    HostedSpoke,
    close_quietly,
    live_state,
    node_id,
    schedule_next,
    store_rotated_secret,
)
from cirahub.actors.summary import RunStatus, Trigger, error_summary
from cirahub.actors.waves import Waves
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.heap import settle
from cirahub.cluster.settings import Settings
from cirahub.core.errors import CirahubError, ConnectorError, NotFound, WriterFenced, error_record
from cirahub.core.fanout import PushQueue

log = logging.getLogger(__name__)

#: the first run after assignment starts within this many seconds (spread, not all at once)
FIRST_RUN_SPREAD = 2.0
#: scheduled polls due within this many seconds of each other are probed together (one
#: thread hop, one read snapshot: :class:`~cirahub.actors.probes.Prober`), PROBE_BATCH at most
PROBE_WINDOW = 0.5
PROBE_BATCH = 500


class SpokeActor(SpokeRuns):
    """Wrapped with ``ray.remote`` by :func:`spoke_actor_class` (an async actor); usable as
    a plain object inside an event loop too (without Ray it keeps its events buffered)."""

    def __init__(self, settings: dict[str, Any], name: str = "",
                 clock: Callable[[], float] = time.time, settle_heap: bool = False) -> None:
        """``clock``: the wall clock (epoch seconds) polls are scheduled and stamped by; the
        event loop's timers must follow it (tests pass a virtual one with a loop that does).
        ``settle_heap``: this is the process's actor (:func:`cirahub.cluster.heap.settle`)."""
        self._settings = Settings.from_dict(settings)
        self._clock, self._name = clock, name
        self._store = open_store(self._settings, migrate=False)  # the server migrated
        self._pool = ThreadPoolExecutor(self._settings.spoke_threads,
                                        thread_name_prefix="spoke-run")
        self._push_pool = ThreadPoolExecutor(self._settings.push_threads,
                                             thread_name_prefix="spoke-push")
        self._pushes = PushQueue(self._settings.push_threads)
        self._writer = GroupCommit(self._store)
        self._waves = Waves(functools.partial(prepare_wave, self._store, self._writer,
                                              self._capabilities), ThreadPoolExecutor(
            1, thread_name_prefix="push-read"), self._idle_due, window=WAVE_WINDOW,
            limit=10_000)
        self._merger: Merger = RayMerger(self._settings)
        self._spokes: dict[str, HostedSpoke] = {}
        self._rng = random.Random()
        self._loop = asyncio.get_running_loop()
        self._outbox = Outbox(self._settings.namespace)
        self._idle = IdlePolls(lambda: datetime.fromtimestamp(clock(), UTC))
        self._idle_writer = IdleWriter(self._idle, self._store, name, clock,
                                       lambda e: self._outbox.add(e, urgent=False))
        self._idle_flusher = self._loop.create_task(self._idle_writer.run())
        prober = Prober(self._store, self._settings.lease_epoch,
                        lambda s, spoke: self._cycle(s, self._connector(s, spoke),
                                                     Trigger.SCHEDULE),
                        functools.partial(store_rotated_secret, self._store))
        self._probe = Batch(prober, self._pool, window=PROBE_WINDOW, limit=PROBE_BATCH)
        self._node_id = node_id()
        if settle_heap:  # the process's own actor: its start-up heap out of the collector's way
            settle()

    # --- API ------------------------------------------------------------------------------

    async def ping(self) -> dict[str, Any]:
        return {"name": self._name, "node_id": self._node_id, "pid": os.getpid(),
                "assigned": list(self._spokes)}

    async def assign(self, spokes: Iterable[tuple[str, str]]) -> list[str]:
        """Host these (spoke id, hub id) pairs; already hosted ones are left as they are (a
        stopping one is resumed). Returns the ids now hosted that were not before."""
        added = []
        for spoke_id, hub_id in spokes:
            if (state := self._spokes.get(spoke_id)) is not None:
                state.stopping = False
                continue
            state = self._spokes[spoke_id] = HostedSpoke(spoke_id, hub_id)
            state.next_run_at = self._clock() + self._rng.uniform(0, FIRST_RUN_SPREAD)
            state.task = self._loop.create_task(self._spoke_loop(state))
            added.append(spoke_id)
            self._emit("state", state, "assigned", detail=self._name)
        return added

    async def unassign(self, spoke_ids: Iterable[str]) -> list[str]:
        """Stop hosting these spokes: each finishes its current run, then its task ends.
        Returns the ids that were hosted."""
        out = []
        for spoke_id in spoke_ids:
            if (state := self._spokes.get(spoke_id)) is None:
                continue
            state.stopping = True
            state.wake.set()
            out.append(spoke_id)
        return out

    async def assigned(self) -> list[str]:  # the spokes hosted here, stopping ones included
        return list(self._spokes)

    async def sync_now(self, spoke_id: str, mode: str = FULL) -> dict[str, Any]:
        """Run ``spoke_id`` now (preempting its wait; ``mode``: see :func:`.cycle.run_mode`)
        and return the RunSummary as a dict. Raises NotFound when the spoke is not hosted here."""
        if (state := self._spokes.get(spoke_id)) is None or state.stopping:
            raise NotFound("the spoke is not hosted by this actor", spoke_id=spoke_id,
                           actor=self._name)
        future: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        state.waiters.append(future)
        # a scheduled poll still gathering its probe batch gives way: this run does its work too
        state.modes.update({mode, FULL} if self._probe.withdraw(state, None) else {mode})
        state.wake.set()
        return await future

    async def push_soon(self, spoke_ids: Iterable[str], version: int,
                        share: int | None = None) -> int:
        """The hub committed ``version`` (a merge by another spoke): give these spokes a push
        run soon (see :class:`~cirahub.core.fanout.PushQueue`). Spokes not hosted here,
        stopping, or backing off after failures are left alone. ``share``: how many push runs
        this actor may run at once (the supervisor's share of the global limit). Returns how
        many spokes became due."""
        if share is not None:
            self._pushes.limit = max(1, min(self._settings.push_threads, share))
        ids = [i for i in spoke_ids if (s := self._spokes.get(i)) is not None
               and not s.stopping and not s.failures]
        added = len(self._pushes.notice(ids, version))
        self._dispatch()
        return added

    async def expect_pushes(self, spoke_ids: Iterable[str]) -> None:
        """The push runs of these spokes (a sync's push phase) are asked for now: their wave
        is read once the last of them asked (:meth:`~cirahub.actors.waves.Waves.expect`)."""
        self._waves.expect(i for i in spoke_ids if i in self._spokes)

    def _dispatch(self) -> None:
        """Start the push runs the queue allows now (each in its spoke's own loop)."""
        for spoke_id in self._pushes.take():
            s = self._spokes[spoke_id]
            s.push_pending = True
            s.wake.set()

    async def status(self) -> list[dict[str, Any]]:
        """One dict per hosted spoke (not one only waiting to leave): state (running,
        waiting, backoff, action_required, stopping), next_run_at (epoch seconds), failures,
        last_error, last_summary, actor, node_id."""
        out = []
        for s in (s for s in self._spokes.values() if not s.leaving):
            state = live_state(s)
            out.append({
                "spoke_id": s.spoke_id, "hub_id": s.hub_id, "state": state,
                "next_run_at": s.next_run_at, "failures": s.failures, "runs": s.runs,
                "last_error": s.last_error, "last_summary": s.last_summary,
                "push_pending": s.push_pending or self._pushes.slot(s.spoke_id).due,
                "actor": self._name, "node_id": self._node_id,
            })
        return out

    # --- the per-spoke loop ---------------------------------------------------------------

    async def _spoke_loop(self, s: HostedSpoke) -> None:
        try:
            while not s.stopping:
                await self._next_run(s)
                if s.stopping:  # its idle polls are stored before it leaves (or is resumed)
                    self._idle.close(s.spoke_id)
                    s.leaving = True
                    await self._idle_writer.written()
                    s.leaving = False
        finally:
            for w in s.waiters:
                if not w.done():
                    w.set_exception(NotFound("the spoke stopped before the run",
                                             spoke_id=s.spoke_id))
            self._spokes.pop(s.spoke_id, None)
            self._pushes.drop(s.spoke_id)
            self._dispatch()
            self._idle.close(s.spoke_id)
            self._emit("state", s, "unassigned", detail=self._name)
            if s.connector is not None:
                self._pool.submit(close_quietly, s.connector)

    async def _next_run(self, s: HostedSpoke) -> None:
        """Wait until the spoke is due or woken, then run it (a removed spoke then stops)."""
        delay = max(0.0, (s.next_run_at or 0) - self._clock())
        if not s.wake.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(s.wake.wait(), timeout=delay)
        s.wake.clear()
        if s.stopping:
            return
        waiters, s.waiters = s.waiters, []
        trigger = self._trigger(s, bool(waiters))
        if trigger is None:
            return  # woken early for nothing due (or a wake-up already answered)
        summary = await self._run(s, trigger)  # {}: a poll that gave way to a sync now
        for w in waiters:
            if not w.done():
                w.set_result(summary)
        if (summary.get("error") or {}).get("code") == "not_found":
            s.stopping = True  # the spoke was removed from the store

    def _trigger(self, s: HostedSpoke, manual: bool) -> Trigger | None:
        """What the spoke runs now: a full run when asked or due (it answers a due push
        too), else the push run the queue started, else nothing."""
        if manual or self._clock() >= (s.next_run_at or 0):
            s.mode, s.modes = run_mode(s.modes, push_due=s.push_pending), set()
            if s.mode == PULL:
                return Trigger.MANUAL  # a pull run answers no push: the queue is left alone
            if not s.push_pending:
                self._pushes.start(s.spoke_id)
            s.push_pending = False
            return Trigger.MANUAL if manual else Trigger.SCHEDULE
        if s.push_pending:
            s.push_pending = False
            return Trigger.FANOUT
        return None

    async def _run(self, s: HostedSpoke, trigger: Trigger) -> dict[str, Any]:
        s.running = True
        if trigger != Trigger.FANOUT:
            self._waves.forget(s.spoke_id)  # what a wave prepared for it is stale now
        interval = 300.0
        hint: float | None = None
        snapshot: int | None = None
        # a push run (the fan-out's, or a sync's push phase) goes with the spoke's wave
        push = trigger == Trigger.FANOUT or (trigger == Trigger.MANUAL and s.mode == PUSH)
        pool = self._push_pool if push else self._pool
        probed: Probed | None = None
        idle = False
        try:
            if trigger == Trigger.SCHEDULE:
                probed = await self._probe(s)
                if probed is None and s.waiters:  # withdrawn (or no probe): sync now's run
                    return {}  # (the sync's run comes next)
            if probed is not None and probed.summary is not None:  # idle: nothing more to do
                summary, interval, snapshot = probed.summary, probed.interval, None
            else:
                wave = (await self._waves(s.spoke_id, self._pushes.slot(s.spoke_id).wanted)
                        if push else None)
                summary, interval, pushed, ended = await self._loop.run_in_executor(
                    pool, self._run_blocking, s, trigger, probed, wave)
                if ended is not None:  # a push run is done once its end is committed
                    await asyncio.wrap_future(ended)
                snapshot = pushed  # (not when the commit failed)
            idle = probed is not None and probed.cycle.folded
            result = summary.to_dict()
        except WriterFenced as exc:
            result = error_summary(s.spoke_id, error_record(exc))
            if exc.fields.get("lease"):
                self._stop_all(exc)
        except CirahubError as exc:
            hint = exc.back_off if isinstance(exc, ConnectorError) else None
            result = error_summary(s.spoke_id, error_record(exc))
        except Exception as exc:  # never let one spoke's bug kill its loop or the actor
            log.exception("run of spoke %s crashed", s.spoke_id)
            result = error_summary(s.spoke_id, error_record(exc))
        finally:
            s.running = False
            self._pushes.finish(s.spoke_id, snapshot)
            self._dispatch()
        s.runs += 1
        s.last_summary = result
        schedule_next(s, trigger, result, interval, hint,
                      cap=self._settings.max_backoff_seconds, rng=self._rng, now=self._clock())
        wait = max(0.0, (s.next_run_at or 0) - self._clock())
        backoff = (f"back-off: next run in {wait:.0f}s "
                   f"after {s.failures} failed runs" if s.failures >= 2 else None)
        if idle and result.get("run_id") == s.fold:
            return result  # a later poll of a fold already told: counted in its hub's tally
        s.fold = result.get("run_id") if idle else None
        phase = "idle" if idle else "done" if result["status"] != RunStatus.ERROR else "failed"
        self._emit("run", s, phase, summary=result, trigger=str(trigger), detail=backoff,
                   urgent=not idle)
        return result

    def _stop_all(self, exc: WriterFenced) -> None:
        """A newer server owns the store: this actor was left behind by a server that is
        gone. Every spoke here stops after its current run; nothing more is written."""
        log.error("spoke actor %s stops every spoke: %s", self._name, exc)
        for state in self._spokes.values():
            state.stopping = True
            state.wake.set()

    def _idle_due(self) -> list[str]:
        """Spokes due for a push run with no run under way (a wave prepares them ahead)."""
        return [i for i in self._pushes.due()
                if (s := self._spokes.get(i)) is not None and not s.running and not s.stopping]


def spoke_actor_class() -> Any:
    """The Ray actor class (created lazily so importing this module does not import Ray)."""
    import ray

    return ray.remote(SpokeActor)
