"""The spoke actor's outbox of progress events, sent to the supervisor in batches.

Events are buffered (bounded: the oldest are dropped first while the supervisor is away) and
sent fire-and-forget in one call per batch: a batch is gathered for 50 ms after an event
that someone may be waiting for (a run's progress, a real run's end, a state change), and up
to :data:`IDLE_EVENTS_SECONDS` while only idle polls ended (thousands of idle spokes would
otherwise cost the supervisor a call every 50 ms from every actor). An idle actor wakes for
nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import Any

from cirahub.actors.progress import ProgressEvent
from cirahub.cluster.names import SUPERVISOR_NAME

#: events kept while the supervisor is unreachable (oldest dropped first)
EVENT_BUFFER = 10_000
#: events of idle polls only are sent to the supervisor at most this often (others at once)
IDLE_EVENTS_SECONDS = 1.0
#: seconds a batch is gathered after an urgent event
GATHER_SECONDS = 0.05


class Outbox:
    """Used from one event loop (:meth:`add`), or from threads (:meth:`add_threadsafe`)."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
        self._loop = asyncio.get_running_loop()
        self._events: deque[ProgressEvent] = deque(maxlen=EVENT_BUFFER)
        self._ready = asyncio.Event()
        self._urgent = asyncio.Event()  # a buffered event is not an idle poll's
        #: the supervisor's handle (anything with ``record_events.remote(batch)``)
        self.supervisor: Any = None
        self.task = self._loop.create_task(self._flush())

    def add(self, event: ProgressEvent, *, urgent: bool = True) -> None:
        self._events.append(event)
        self._ready.set()
        if urgent:
            self._urgent.set()

    def add_threadsafe(self, event: ProgressEvent) -> None:
        self._loop.call_soon_threadsafe(self.add, event)

    async def _flush(self) -> None:
        while True:
            await self._ready.wait()
            if not self._urgent.is_set():  # idle polls' events only: gather longer
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), IDLE_EVENTS_SECONDS)
            await asyncio.sleep(GATHER_SECONDS)
            self._ready.clear()
            self._urgent.clear()
            batch = list(self._events)
            self._events.clear()
            if not batch:
                continue
            try:
                self._handle().record_events.remote(batch)
            except Exception:  # supervisor restarting: keep the newest events for later
                self.supervisor = None
                self._events.extendleft(reversed(batch))
                await asyncio.sleep(1.0)
                self._ready.set()

    def _handle(self) -> Any:
        if self.supervisor is None:
            import ray

            if not ray.is_initialized():  # a plain object (tests): never start Ray
                raise LookupError("Ray is not running")
            self.supervisor = ray.get_actor(SUPERVISOR_NAME, namespace=self._namespace)
        return self.supervisor
