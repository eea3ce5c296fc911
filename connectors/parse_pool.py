"""Reading and parsing many vdir files on the machine's other cores.

A large listing (an initial sync of a full folder) spends most of its time parsing files
(the fast reader and the field mapping: pure Python, so one core at a time per process). A
server runs every spoke and hub writer on threads of one process, so that work used one of
the machine's cores. Here a listing of at least :data:`MIN_FILES` files to read is cut into
pages of :data:`PAGE` files; pages go to worker processes (:mod:`cirahub.connectors.
parse_worker`, at most :func:`workers` of them) while the calling thread reads pages itself,
so every core parses.

Guarantees:

- the items are exactly what in-process reading gives (the worker runs the same
  :meth:`~cirahub.connectors.vdir.VdirConnector.read_items`; items travel as plain values and
  are rebuilt here), in listing order, and what the parser recorded in the worker's
  :mod:`~cirahub.core.source_cache` is recorded here too, so the writer passes the same
  sources through without parsing them again;
- a bad file is that file's error, as in process (the reader turns it into a quarantined
  item); a worker that dies or answers garbage costs time only: its page is read in process,
  the rest of the listing too (a new worker is started at the next large listing: one that
  cannot start is not retried page after page);
- bounded: at most :func:`workers` processes (``$CIRAHUB_PARSE_WORKERS``, default the
  machine's cores minus one, at most 4; ``0`` turns the pool off), two pages in flight per
  worker; started once per process, on the first large listing, never for small ones (a
  re-sync reading a few changed files never starts one), never waited for (a worker takes
  pages only once it is ready: until then the caller reads them), and kept while used (a
  worker ends when this process does, its stdin closed, or after :data:`IDLE_SECONDS`
  without a request: an idle server does not keep its memory);
- workers are new interpreters (``python -m``), never forks: safe in a process with
  threads (a Ray worker, the server), and they import only the reader.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO, Any

from cirahub.core import source_cache
from cirahub.core.item import Item
from cirahub.core.model import RemoteItem

__all__ = ["IDLE_ENV", "IDLE_SECONDS", "MIN_FILES", "PAGE", "Job", "read_frame", "read_many", "shutdown", "to_wire",
           "workers", "write_frame"]

#: a listing with fewer files to read is read in process (a pool would not pay back)
MIN_FILES = 256
#: files per page sent to a worker (small enough that the last pages end together)
PAGE = 128
#: pages sent to a worker before its first answer is read
_IN_FLIGHT = 2
_log = logging.getLogger(__name__)
_ENV = "CIRAHUB_PARSE_WORKERS"
_warned: set[str] = set()
#: a worker without a request this long ends (``$CIRAHUB_PARSE_WORKER_IDLE`` seconds)
IDLE_SECONDS = 300.0
IDLE_ENV = "CIRAHUB_PARSE_WORKER_IDLE"
_MAX_WORKERS = 4

#: one file to read: (name, listed version, remote ids known in it, names of its inode)
Job = tuple[str, str, tuple[str, ...], int]
#: what reading one file gives: its items, or None when it vanished
Read = list[RemoteItem] | None
Wire = tuple[Any, ...]
_HEADER = struct.Struct("!Q")


def workers() -> int:
    """How many worker processes a large listing may use (see the module docstring)."""
    raw = os.environ.get(_ENV, "").strip()
    if raw.isdigit():
        return min(int(raw), _MAX_WORKERS)
    if raw and raw not in _warned:  # an operator's typo must not pass unseen
        _warned.add(raw)
        _log.warning("%s=%r is not a number of workers; using the default", _ENV, raw)
    return max(0, min((os.cpu_count() or 1) - 1, _MAX_WORKERS))


# --- the wire: frames of pickled plain values -------------------------------------------------

def write_frame(stream: IO[bytes], value: object) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)  # one write: the reader wakes once
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next value; None at the end of the stream. Raises EOFError on a torn frame."""
    header = _exactly(stream, _HEADER.size)
    if not header:
        return None
    if len(header) != _HEADER.size:
        raise EOFError("torn frame header")
    (size,) = _HEADER.unpack(header)
    data = _exactly(stream, size)
    if len(data) != size:
        raise EOFError("torn frame")
    return pickle.loads(data)


def _exactly(stream: IO[bytes], size: int) -> bytes:
    """``size`` bytes, fewer only at the end of the stream (an unbuffered stream, as the
    worker reads its requests, may return less per call)."""
    data = stream.read(size)
    while data is not None and 0 < len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            break
        data += more
    return data or b""


def to_wire(read: Read) -> Wire | None:
    """One file's items as plain values (an Item's mappings are read-only proxies, which
    pickle refuses), with each item's source-cache entry (what the parser recorded)."""
    if read is None:
        return None
    out = []
    for r in read:
        item = r.item
        plain = None
        if item is not None:
            entry = source_cache.recorded(item.source) if item.source is not None else None
            plain = (item.uid, dict(item.fields), {k: dict(v) for k, v in item.overrides.items()},
                     item.source, entry)
        out.append((r.remote_id, r.remote_version, plain, r.error, r.raw, r.refused))
    return tuple(out)


def _from_wire(wire: Wire | None) -> Read:
    if wire is None:
        return None
    out = []
    for remote_id, version, plain, error, raw, refused in wire:
        item = None
        if plain is not None:
            uid, fields, overrides, source, entry = plain
            item = Item(uid, fields, overrides, source)
            if entry is not None:  # with the item: the writer compares with it
                key, meaning = entry
                source_cache.learn(key, meaning, item)
        out.append(RemoteItem(remote_id, version, item, error, raw, refused))
    return out


# --- the workers ------------------------------------------------------------------------------

class _Lost(Exception):
    """The worker died or answered something unreadable."""


class _Listing:
    """The pages of one :func:`read_many` call: the workers' threads take them from the
    front, the caller from the back, until none is left; then the caller waits for the
    pages a worker took (a worker never ready takes none)."""

    def __init__(self, pages: list[Sequence[Job]]) -> None:
        self.pages = pages
        self.out: list[list[Read] | None] = [None] * len(pages)
        self.lost: list[int] = []  # pages a worker took and lost: read by the caller
        self._todo = deque(range(len(pages)))
        self._taken = 0
        self._cond = threading.Condition()

    def front(self) -> int | None:
        with self._cond:
            if not self._todo:
                return None
            self._taken += 1
            return self._todo.popleft()

    def back(self) -> int | None:
        with self._cond:
            return self._todo.pop() if self._todo else None

    def answer(self, index: int, reads: list[Read] | None) -> None:
        with self._cond:
            if reads is None:
                self.lost.append(index)
            else:
                self.out[index] = reads
            self._taken -= 1
            self._cond.notify_all()

    def wait_taken(self) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._taken == 0)


class _Worker:
    """One worker process, used by one thread at a time."""

    def __init__(self) -> None:
        self.ready = False
        # the worker must import this checkout's cirahub, however this process found it
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cirahub.connectors.parse_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True)

    def wait_ready(self) -> None:
        """Until the worker has imported the reader (it says so once, when it starts)."""
        assert self.proc.stdout is not None
        if not self.ready:
            with contextlib.suppress(OSError, EOFError, pickle.UnpicklingError):
                self.ready = read_frame(self.proc.stdout) is True
            if not self.ready:
                raise _Lost("did not start")

    def send(self, folder: str, extension: str, jobs: Sequence[Job]) -> None:
        assert self.proc.stdin is not None
        try:
            write_frame(self.proc.stdin, (folder, extension, list(jobs)))
        except OSError as exc:
            raise _Lost(str(exc)) from None

    def receive(self, jobs: int) -> list[Read]:
        """The answer to the oldest request sent (``jobs`` files)."""
        assert self.proc.stdout is not None
        try:
            answer = read_frame(self.proc.stdout)
        except (OSError, EOFError, pickle.UnpicklingError) as exc:
            raise _Lost(str(exc)) from None
        if not isinstance(answer, list) or len(answer) != jobs:
            raise _Lost("no answer")
        return [_from_wire(w) for w in answer]

    def close(self) -> None:
        """End the process; a thread reading its answer gets the end of the stream."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def release(self) -> None:
        """Close the pipes (once no thread uses them)."""
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


class _Pool:
    def __init__(self, size: int) -> None:
        self.size = size
        self.idle: queue.SimpleQueue[_Worker | None] = queue.SimpleQueue()
        self.started: list[_Worker] = []
        self.lock = threading.Lock()
        self.closed = False

    def _take(self) -> _Worker | None:
        """An idle worker, a new one while fewer than ``size`` live, else the next one
        idle; None once the pool is closed."""
        with self.lock:
            if self.closed:
                return None
            while True:  # an idle worker that ended (idle too long) is dropped
                try:
                    worker = self.idle.get_nowait()
                except queue.Empty:
                    break
                if worker is None or worker.proc.poll() is None:
                    return worker
                worker.release()
            alive = [w for w in self.started if w.proc.poll() is None]
            if len(alive) < self.size:
                worker = _Worker()
                self.started = [*alive, worker]
                return worker
        return self.idle.get()

    def serve(self, listing: _Listing, folder: str, extension: str) -> None:
        """One worker reads pages of ``listing`` from the front, once it is ready (a thread
        of its own: it waits on the pipes, without the GIL)."""
        worker = self._take()
        if worker is None:
            return
        sent: deque[int] = deque()  # two pages in flight: the worker never waits for this
        try:                        # thread to get the GIL between pages
            worker.wait_ready()
            while True:
                while len(sent) < _IN_FLIGHT and (index := listing.front()) is not None:
                    sent.append(index)
                    worker.send(folder, extension, listing.pages[index])
                if not sent:
                    break
                listing.answer(sent[0], worker.receive(len(listing.pages[sent[0]])))
                sent.popleft()
        except _Lost:
            worker.close()
            worker.release()
            with self.lock:
                self.started = [w for w in self.started if w is not worker]
            for index in sent:
                listing.answer(index, None)
            return
        self.idle.put(worker)

    def close(self) -> None:
        with self.lock:
            workers, self.started, self.closed = self.started, [], True
        for worker in workers:  # a thread waiting on one sees the end of its stream
            worker.close()
        for _ in range(self.size):  # a thread waiting for an idle worker gets none
            self.idle.put(None)


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool(size: int) -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.size != size:
            if _pool is not None:
                _pool.close()
            _pool = _Pool(size)
            atexit.register(shutdown)
        return _pool


def shutdown() -> None:
    """End the workers (at exit; tests). A later large listing starts new ones."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
        _pool = None


def worker_pids() -> list[int]:
    """The pids of the running workers (tests)."""
    with _pool_lock:
        return [w.proc.pid for w in _pool.started] if _pool is not None else []


def read_many(read: Callable[[str, str, tuple[str, ...], int], Read], folder: str,
              extension: str, jobs: Sequence[Job]) -> list[Read]:
    """``read(*job)`` for every job, in order: in process for a small listing, else on the
    pool and this thread together (see the module docstring)."""
    size = workers()
    if len(jobs) < MIN_FILES or size == 0:
        return [read(*job) for job in jobs]
    pool = _get_pool(size)
    listing = _Listing([jobs[i:i + PAGE] for i in range(0, len(jobs), PAGE)])
    for _ in range(size):
        threading.Thread(target=pool.serve, args=(listing, folder, extension),
                         name="vdir-parse", daemon=True).start()
    while (index := listing.back()) is not None:
        listing.out[index] = [read(*job) for job in listing.pages[index]]
    listing.wait_taken()
    for index in listing.lost:  # a worker died with it: read here (a new worker next time)
        listing.out[index] = [read(*job) for job in listing.pages[index]]
    return [r for page in listing.out if page is not None for r in page]
