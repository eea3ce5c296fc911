"""How the asyncio gRPC server runs handlers without a thread per call or per stream.

- :func:`unary` / :func:`streaming` wrap servicer methods: a unary method's (blocking) body runs
  in the servicer's bounded pool; a stream is an async generator on the server's loop. Both
  map errors the same way (a :class:`CirahubError` becomes its status code with a message and
  the trailing metadata; anything else INTERNAL with a generic message).
- :class:`StreamGate` bounds the open streams (``--max-streams``): one more gets
  RESOURCE_EXHAUSTED with a message, so streams can never starve unary calls.
- :class:`EventFanout` is the one poller of the runtime's events that every ``WatchEvents``
  stream reads from: an open event stream costs a queue, not a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any, TypeVar

import grpc

from cirahub.control.errors import CODE_KEY, status_for, trailing_metadata
from cirahub.core.errors import CirahubError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
#: seconds the event poller waits for new events per call
EVENT_POLL = 1.0
#: events queued for one slow WatchEvents client before it is cut off
QUEUE_LIMIT = 10_000
#: error code (trailing metadata) of a refused stream
TOO_MANY_STREAMS = "too_many_streams"
_END = object()


async def abort(context: grpc.aio.ServicerContext[Any, Any], exc: BaseException,
                method: str) -> None:
    """Ends the call with ``exc`` as a status (never returns)."""
    if isinstance(exc, CirahubError):
        context.set_trailing_metadata(trailing_metadata(exc))
        await context.abort(status_for(exc), exc.message)
    log.error("%s failed unexpectedly: %s", method, type(exc).__name__, exc_info=exc)
    await context.abort(grpc.StatusCode.INTERNAL,
                        f"internal error in {method} ({type(exc).__name__}); see the server log")


def unary(fn: F) -> F:
    """A servicer method whose blocking body ``fn(self, request, context)`` runs in
    ``self.pool`` (the context is not used there: it belongs to the loop)."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: Any) -> Any:
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.pool, fn, self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await abort(context, exc, fn.__name__)

    return wrapper  # type: ignore[return-value]


def streaming(fn: F) -> F:
    """A server-streaming method: ``fn`` is an async generator; the stream holds one of
    ``self.gate``'s slots while open."""

    @functools.wraps(fn)
    async def wrapper(self: Any, request: Any, context: Any) -> AsyncIterator[Any]:
        async with self.gate.slot(context):
            try:
                # the headers tell the client its stream is open (counted), before any event
                await context.send_initial_metadata(())
                async for message in fn(self, request, context):
                    yield message
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                await abort(context, exc, fn.__name__)

    return wrapper  # type: ignore[return-value]


async def iterate_in(pool: Executor, it: Iterator[Any]) -> AsyncIterator[Any]:
    """The items of a blocking iterator, each ``next`` run in ``pool``."""
    loop = asyncio.get_running_loop()
    while True:
        item = await loop.run_in_executor(pool, next, it, _END)
        if item is _END:
            return
        yield item


class StreamGate:
    """At most ``limit`` open streams; the next one is refused with RESOURCE_EXHAUSTED.
    Used from the server's loop only (no lock needed)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the stream limit must be at least 1")
        self.limit = limit
        self.open = 0

    @contextlib.asynccontextmanager
    async def slot(self, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[None]:
        if self.open >= self.limit:
            context.set_trailing_metadata(((CODE_KEY, TOO_MANY_STREAMS),))
            await context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many open streams: this server allows {self.limit} (cirahubctl server "
                "--max-streams); close some, or retry later")
        self.open += 1
        try:
            yield
        finally:
            self.open -= 1


class EventFanout:
    """One poller of ``events(since, timeout)`` (in its own one-thread pool), fanned out to a
    queue per subscriber. The poller runs while anyone subscribes and starts from the newest
    event then (``last_seq()``); subscribers see every event polled after they subscribed, in
    order. A subscriber that falls :data:`QUEUE_LIMIT` events behind gets ``None`` and is
    dropped (its stream ends with an error rather than holding memory)."""

    def __init__(self, events: Callable[[int, float], list[Any]], last_seq: Callable[[], int],
                 pool: Executor) -> None:
        self._events, self._last_seq, self._pool = events, last_seq, pool
        self._subscribers: set[asyncio.Queue[Any]] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> asyncio.Queue[Any]:
        queue: asyncio.Queue[Any] = asyncio.Queue(QUEUE_LIMIT + 1)
        self._subscribers.add(queue)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._pump())
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Any]) -> None:
        self._subscribers.discard(queue)

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        since: int | None = None
        try:
            while self._subscribers:
                try:
                    if since is None:
                        since = int(await loop.run_in_executor(self._pool, self._last_seq))
                    batch = await loop.run_in_executor(self._pool, self._events, since,
                                                       EVENT_POLL)
                except Exception as exc:  # the runtime did not answer: try again
                    log.warning("event poll failed: %s", exc)
                    await asyncio.sleep(EVENT_POLL)
                    continue
                for event in batch:
                    since = max(since, int(event.seq))
                    for queue in list(self._subscribers):
                        self._offer(queue, event)
        finally:
            self._task = None

    def _offer(self, queue: asyncio.Queue[Any], event: Any) -> None:
        if queue.qsize() >= QUEUE_LIMIT:
            self._subscribers.discard(queue)
            queue.put_nowait(None)
        else:
            queue.put_nowait(event)
