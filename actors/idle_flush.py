"""The spoke actor's writer and reporter of folded idle polls (:mod:`cirahub.actors.idle`).

One task per spoke actor (:meth:`IdleWriter.run`), off the run pool:

- every :data:`IDLE_FLUSH_SECONDS` it writes the fold rows changed since the last write, in
  one transaction for all spokes of the actor (``Store.record_polls``); rows whose write
  failed (the store is away) are kept for the next write (bounded by the hosted spokes);
- every :data:`IDLE_REPORT_SECONDS` it sends each hub's :class:`Tally` of the idle polls
  since the last report as one ``polls`` event (to the supervisor, with the other events):
  the server logs one ``idle polls`` line for it instead of one line per poll.

The run history therefore lags the idle polls by at most a flush, and the events and the
server's log by at most a report; nothing a run changed is ever in either. A spoke leaving
its actor has the writer write at once and waits for it (:meth:`IdleWriter.written`), so once
an actor no longer reports a spoke, the spoke's idle polls are in the store (unless that
write failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from cirahub.actors.idle import IdlePolls, Tally
from cirahub.actors.progress import ProgressEvent

log = logging.getLogger("cirahub.actors.spoke")

#: seconds between two writes of the folded idle polls (the run history lags that much)
IDLE_FLUSH_SECONDS = 5.0
#: idle polls are reported (events, the server's log) every this many seconds, per hub
IDLE_REPORT_SECONDS = 60.0


class IdleWriter:
    """Writes ``idle``'s rows to ``store`` and sends its tallies to ``send`` as ``polls``
    events of the spoke actor ``actor`` (``clock``: its wall clock, epoch seconds)."""

    def __init__(self, idle: IdlePolls, store: Any, actor: str, clock: Callable[[], float],
                 send: Callable[[ProgressEvent], None]) -> None:
        self._idle, self._store, self._send = idle, store, send
        self._actor, self._clock = actor, clock
        self._started = self._ended = 0  # writes started / ended (tried)
        self._ended_cond = asyncio.Condition()
        self._asked = asyncio.Event()  # a write is wanted now (a spoke leaves)

    async def run(self) -> None:
        """Write and report until cancelled."""
        loop = asyncio.get_running_loop()
        report_at = loop.time() + IDLE_REPORT_SECONDS
        while True:
            with contextlib.suppress(TimeoutError):  # every few seconds, or when asked
                await asyncio.wait_for(self._asked.wait(), IDLE_FLUSH_SECONDS)
            self._asked.clear()
            self._started += 1
            if loop.time() >= report_at:
                report_at = loop.time() + IDLE_REPORT_SECONDS
                for hub_id, tally in self._idle.tally().items():
                    self._send(self.event(hub_id, tally))
            await self._write()
            async with self._ended_cond:
                self._ended = self._started
                self._ended_cond.notify_all()

    def event(self, hub_id: str, tally: Tally) -> ProgressEvent:
        """The ``polls`` event of a hub's tally (no spoke; ``detail``: the actor)."""
        return ProgressEvent(kind="polls", hub_id=hub_id, spoke_id="", phase="idle",
                             at=datetime.fromtimestamp(self._clock(), UTC),
                             counts=tally.counts(), detail=self._actor)

    async def _write(self) -> None:
        rows = self._idle.take()
        if not rows:
            return
        try:
            await asyncio.to_thread(self._store.record_polls, rows)
        except Exception:  # the store is away: keep them (bounded by the hosted spokes)
            log.warning("could not record %d rows of idle polls; retrying", len(rows),
                        exc_info=log.isEnabledFor(logging.DEBUG))
            self._idle.give_back(rows)

    async def written(self) -> None:
        """Write now and return once that write ended (nothing to write: at once); gives up
        after three flush intervals (the writer is not running). Calls made together share
        one write."""
        if not len(self._idle):
            return
        target = self._started + 1
        self._asked.set()
        with contextlib.suppress(TimeoutError):
            async with self._ended_cond:
                await asyncio.wait_for(
                    self._ended_cond.wait_for(lambda: self._ended >= target),
                    3 * IDLE_FLUSH_SECONDS)
