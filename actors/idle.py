"""Idle polls: scheduled runs that found nothing to do, recorded in batches.

A poll of a spoke whose calendar did not change (empty delta, same cursor), whose hub has
nothing newer than the spoke's push cursor and whose state is already ``ok`` changes nothing
in the store; recording it as a run of its own (INSERT at start, UPDATE at the end, two write
transactions) was most of what an idle fleet cost (10,000 spokes at 60 s: 170 runs/s, each
queueing for SQLite's one write lock). Instead:

- consecutive idle polls of one spoke are *folded* into one run row (status ``ok``, the
  trigger of its first poll): ``started_at`` is the first poll's start, ``finished_at`` the
  last one's end, and ``counts`` holds ``polls`` (how many) and ``longest_gap_ms`` (the
  longest time between the starts of two consecutive polls in it), so the run history still
  tells when the spoke was polled and whether it kept its interval;
- any other run of the spoke closes the fold (:meth:`IdlePolls.close`): the next idle poll
  opens a new row, so rows never overlap a real run;
- the rows are written by :meth:`IdlePolls.take` + ``Store.record_polls`` in one write
  transaction for many spokes, every few seconds (the spoke actor's flusher): the history
  lags the truth by at most that long, and a process killed in between loses those seconds
  of idle polls only (nothing a run changed is ever in this buffer);
- what the server says of them is folded the same way: :meth:`IdlePolls.tally` hands out,
  per hub, how many idle polls there were since the last tally, of how many spokes, and the
  longest gap between two consecutive polls of one spoke among them (the spoke actor sends
  one ``polls`` event per hub a minute, :mod:`cirahub.actors.idle_flush`, instead of one
  event per poll).

Pure bookkeeping (no store; the clock is injected): thread-safe, since polls end in the
spoke actor's pool threads. :class:`Batch` gathers the polls that come due together, so
the spoke actor probes them in one thread hop and one read snapshot.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Generic, TypeVar

#: the count keys of a folded row (``counts`` of its run row)
POLLS = "polls"
LONGEST_GAP_MS = "longest_gap_ms"
#: the count key of a :class:`Tally` (how many spokes polled)
SPOKES = "spokes"

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class PollRow:
    """One run row of folded idle polls, as it is to be stored."""

    run_id: str
    spoke_id: str
    hub_id: str
    trigger: str
    started_at: datetime
    finished_at: datetime
    polls: int
    longest_gap_ms: int
    #: start of the newest poll in the row (the next poll's gap is measured from it)
    last_start: datetime

    def counts(self) -> dict[str, int]:
        return {POLLS: self.polls, LONGEST_GAP_MS: self.longest_gap_ms}


@dataclass(frozen=True)
class Tally:
    """A hub's idle polls between two :meth:`IdlePolls.tally` calls: how many, of how many
    spokes, and the longest gap between the starts of two consecutive polls of one spoke
    among them (a fold's first poll has no earlier one in the fold and counts no gap)."""

    polls: int
    spokes: int
    longest_gap_ms: int

    def counts(self) -> dict[str, int]:
        return {POLLS: self.polls, SPOKES: self.spokes, LONGEST_GAP_MS: self.longest_gap_ms}


class IdlePolls:
    """Folds idle polls per spoke and hands out the rows changed since the last take."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        #: the time polls are stamped with: the wall clock, as every run row (``utcnow``)
        self.now = clock
        self._lock = threading.Lock()
        self._open: dict[str, PollRow] = {}  # spoke id → its open row
        self._dirty: dict[str, PollRow] = {}  # run id → newest state not yet taken
        #: hub id → (polls, spokes that polled, longest gap in ms) since the last tally
        self._tally: dict[str, tuple[int, set[str], int]] = {}

    def poll(self, spoke_id: str, hub_id: str, trigger: str, started: datetime,
             finished: datetime) -> PollRow:
        """Record one idle poll; returns the row it was folded into (a new one when the
        spoke has no open row)."""
        with self._lock:
            row = self._open.get(spoke_id)
            gap = 0
            if row is None:
                row = PollRow(str(uuid.uuid4()), spoke_id, hub_id, trigger, started, finished,
                              1, 0, started)
            else:
                gap = round((started - row.last_start).total_seconds() * 1000)
                row = replace(row, finished_at=max(finished, row.finished_at),
                              polls=row.polls + 1, last_start=started,
                              longest_gap_ms=max(row.longest_gap_ms, gap))
            self._open[spoke_id] = row
            self._dirty[row.run_id] = row
            polls, spokes, longest = self._tally.get(hub_id) or (0, set(), 0)
            spokes.add(spoke_id)
            self._tally[hub_id] = (polls + 1, spokes, max(longest, gap))
            return row

    def tally(self) -> dict[str, Tally]:
        """Per hub, the idle polls since the last tally (hubs without any are left out)."""
        with self._lock:
            tallies, self._tally = self._tally, {}
        return {hub: Tally(polls, len(spokes), longest)
                for hub, (polls, spokes, longest) in tallies.items()}

    def close(self, spoke_id: str) -> None:
        """Another run of the spoke starts: its next idle poll opens a new row (the open one
        is still written by the next take)."""
        with self._lock:
            self._open.pop(spoke_id, None)

    def take(self) -> list[PollRow]:
        """The rows changed since the last take (their newest state), oldest start first."""
        with self._lock:
            rows, self._dirty = list(self._dirty.values()), {}
        return sorted(rows, key=lambda r: r.started_at)

    def give_back(self, rows: list[PollRow]) -> None:
        """Rows whose write failed: written by a later take (unless a newer state of the same
        row was recorded meanwhile, which then wins)."""
        with self._lock:
            for row in rows:
                self._dirty.setdefault(row.run_id, row)

    def __len__(self) -> int:
        with self._lock:
            return len(self._dirty)


class Batch(Generic[K, V]):
    """Gathers calls made within ``window`` seconds of each other (at most ``limit``) and
    hands them to ``work`` together, in ``executor`` (one thread for the whole batch): the
    spoke actor probes the scheduled polls that come due together in one read snapshot
    instead of one thread hop and one set of queries each. ``work`` returns one result per
    key, in order (an exception as a result is raised to that caller alone); an exception
    ``work`` raises goes to every caller of the batch. Used from one event loop."""

    def __init__(self, work: Callable[[list[K]], list[V | BaseException]], executor: Executor,
                 *, window: float, limit: int) -> None:
        self._work, self._executor = work, executor
        self._window, self._limit = window, limit
        self._loop = asyncio.get_running_loop()
        self._pending: list[tuple[K, asyncio.Future[V]]] = []
        self._timer: asyncio.TimerHandle | None = None

    async def __call__(self, key: K) -> V:
        future: asyncio.Future[V] = self._loop.create_future()
        self._pending.append((key, future))
        if len(self._pending) >= self._limit:
            self._flush()
        elif self._timer is None:
            self._timer = self._loop.call_later(self._window, self._flush)
        return await future

    def withdraw(self, key: K, result: V) -> bool:
        """If ``key``'s call is still gathered (its work has not begun), take it out of its
        batch and answer it with ``result`` now; returns whether it was."""
        for i, (k, future) in enumerate(self._pending):
            if k is key:
                del self._pending[i]
                if not future.done():
                    future.set_result(result)
                return True
        return False

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            done = self._loop.run_in_executor(self._executor, self._work, [k for k, _ in batch])
            done.add_done_callback(functools.partial(deliver, [f for _, f in batch]))


def deliver(futures: list[asyncio.Future[V]],
            done: asyncio.Future[list[V | BaseException]]) -> None:
    """Hand each of ``futures`` its result of ``done`` (a job's list, one per future, each a
    value or the exception for that one; the job's own failure or cancellation goes to all),
    skipping a future whose caller went away (cancelled)."""
    failed = done.exception() if not done.cancelled() else asyncio.CancelledError()
    results = done.result() if failed is None else [failed] * len(futures)
    for future, result in zip(futures, results, strict=True):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
