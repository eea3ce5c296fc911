"""One reader of the runtime's event stream for the whole HTTP side.

:class:`EventPump` runs a thread that long-polls ``Handlers.events`` and hands every event,
with hub and spoke names resolved, to the metrics and to each live console page (server-sent
events). Guarantees: one poll at a time whatever the number of open pages; each subscriber
has a bounded queue (:data:`QUEUE_SIZE`; a page that does not read loses its oldest events,
never blocks the pump); at most :data:`MAX_SUBSCRIBERS` pages at once; the last
:data:`RECENT` events are kept for a page that just opened. A runtime that does not answer is
retried after a pause, and logged once per outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

QUEUE_SIZE = 200
MAX_SUBSCRIBERS = 100
RECENT = 200
POLL_SECONDS = 2.0
RETRY_SECONDS = 2.0


@dataclass(frozen=True)
class ConsoleEvent:
    """An event as a page shows it."""

    seq: int
    kind: str  # progress | run | state
    hub: str
    spoke: str
    phase: str
    at: str
    counts: dict[str, int]
    status: str
    message: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)


def to_console(event: Any, hub: str, spoke: str) -> ConsoleEvent:
    summary = event.summary or {}
    counts = dict(summary.get("counts") or event.counts or {})
    error = summary.get("error") or {}
    message = event.detail or (error.get("message") if isinstance(error, dict) else "") or ""
    return ConsoleEvent(
        seq=int(event.seq), kind=event.kind, hub=hub, spoke=spoke, phase=event.phase,
        at=event.at.isoformat(), counts={k: int(v) for k, v in counts.items()
                                         if isinstance(v, int | float)},
        status=str(summary.get("status") or ""), message=str(message),
    )


class Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[ConsoleEvent] = asyncio.Queue(QUEUE_SIZE)

    def offer(self, event: ConsoleEvent) -> None:
        """Called in the loop's thread."""
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(event)


class EventPump:
    def __init__(self, handlers: Any, on_event: Callable[[Any, str, str], None]) -> None:
        self.handlers = handlers
        self.on_event = on_event
        self.recent: deque[ConsoleEvent] = deque(maxlen=RECENT)
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cirahub-events", daemon=True)
        self._since = 0
        self.polls = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(POLL_SECONDS + 5)

    def subscribe(self, loop: asyncio.AbstractEventLoop) -> Subscriber | None:
        """A new subscriber, or None when :data:`MAX_SUBSCRIBERS` are open."""
        with self._lock:
            if len(self._subs) >= MAX_SUBSCRIBERS:
                return None
            sub = Subscriber(loop)
            self._subs.add(sub)
            return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                events = self.handlers.events(self._since, POLL_SECONDS)
                self.polls += 1
                failing = False
            except Exception as exc:
                if not failing:
                    log.warning("console: the runtime's event stream did not answer (%s); "
                                "retrying", type(exc).__name__)
                failing = True
                self._stop.wait(RETRY_SECONDS)
                continue
            if events:
                self._dispatch(events)

    def _dispatch(self, events: list[Any]) -> None:
        names = self.handlers.names()
        for event in events:
            self._since = max(self._since, int(event.seq))
            hub, spoke = names.hub(event.hub_id), names.spoke(event.spoke_id)
            try:
                self.on_event(event, hub, spoke)
            except Exception:  # metrics must never stop the stream
                log.exception("console: counting an event failed")
            shown = to_console(event, hub, spoke)
            self.recent.append(shown)
            with self._lock:
                subs = list(self._subs)
            for sub in subs:
                with contextlib.suppress(RuntimeError):  # its loop has closed
                    sub.loop.call_soon_threadsafe(sub.offer, shown)
