"""What every console request handler shares: handlers, sessions, templates, a thread pool.

Blocking work (the store, the Ray runtime) never runs on the event loop: :meth:`Console.call`
runs it in a bounded pool (:data:`POOL_SIZE` threads), so a slow store call delays only the
requests waiting for it, never the event loop or the gRPC server's own threads.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from aiohttp import web

from cirahub.control.http.auth import RateLimit, Session, Sessions
from cirahub.control.http.events import EventPump
from cirahub.control.http.metrics import Metrics

T = TypeVar("T")
POOL_SIZE = 8
#: sync-now runs started from the console at once, at most
MAX_SYNC_JOBS = 16
TEMPLATES = Path(__file__).with_name("templates")
STATIC = Path(__file__).with_name("static")


@dataclass
class Console:
    handlers: Any
    token: str
    data_dir: Path
    tls: bool
    metrics: Metrics
    pump: EventPump
    sessions: Sessions = field(default_factory=Sessions)
    limiter: RateLimit = field(default_factory=RateLimit)
    pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="cirahub-http"))
    jobs: set[tuple[str, str]] = field(default_factory=set)
    #: shared per-page values (see Snapshot), e.g. the dashboard's status read
    cache: dict[str, Snapshot] = field(default_factory=dict)
    jobs_lock: threading.Lock = field(default_factory=threading.Lock)
    env: jinja2.Environment = field(default_factory=lambda: jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True))

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, functools.partial(fn, *args, **kwargs))

    def render(self, request: web.Request, name: str, *, status: int = 200,
               **values: Any) -> web.Response:
        session: Session | None = request.get("session")
        flash = list(session.flash) if session is not None else []
        if session is not None:
            session.flash.clear()
        html = self.env.get_template(name).render(
            csrf=session.csrf if session is not None else request.get("signin_csrf", ""),
            signed_in=session is not None, flash=flash, path=request.path, **values)
        return web.Response(text=html, status=status, content_type="text/html")

    def start_sync(self, hub: str, spoke: str) -> bool:
        """Start ``sync now`` of one spoke (``spoke`` set) or a whole hub in a thread; False
        when that one is already running or :data:`MAX_SYNC_JOBS` are. Progress reaches the
        pages through the runtime's event stream."""
        key = (hub, spoke)
        with self.jobs_lock:
            if key in self.jobs or len(self.jobs) >= MAX_SYNC_JOBS:
                return False
            self.jobs.add(key)

        def run() -> None:
            try:
                for _ in self.handlers.sync_now(hub, spoke):
                    pass
            except Exception:  # the run's own result is in the store and the event stream
                import logging

                logging.getLogger(__name__).exception("console: sync now of %s/%s failed",
                                                      hub, spoke)
            finally:
                with self.jobs_lock:
                    self.jobs.discard(key)

        threading.Thread(target=run, name="cirahub-sync-now", daemon=True).start()
        return True


CONSOLE_KEY: web.AppKey[Console] = web.AppKey("console", Console)


def console_of(request: web.Request) -> Console:
    return request.app[CONSOLE_KEY]


def session_of(request: web.Request) -> Session:
    """The signed-in session (the guard middleware has checked it)."""
    return request["session"]


def when(value: Any) -> str:
    """A timestamp as the pages show it (UTC, to the second), '' for none."""
    if not value:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class Snapshot:
    """A value shared by every request for ``ttl`` seconds, computed by one of them at a time
    (the others wait for that result): however many pages are open, the runtime answers at
    most one status read per ``ttl`` for them. ``invalidate()`` after a change."""

    def __init__(self, compute: Callable[[], Any], ttl: float = 1.0) -> None:
        self._compute = compute
        self._ttl = ttl
        self._lock = threading.Lock()
        self._value: Any = None
        self._at = float("-inf")
        self._generation = 0

    def get(self) -> Any:
        import time

        with self._lock:
            if time.monotonic() - self._at > self._ttl:
                generation = self._generation
                value = self._compute()
                if generation == self._generation:  # not invalidated meanwhile
                    self._value, self._at = value, time.monotonic()
                return value
            return self._value

    def invalidate(self) -> None:
        self._generation += 1
        self._at = float("-inf")
