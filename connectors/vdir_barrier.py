"""Durable barriers of the vdir write path, shared by every batch of this process.

A vdir batch makes its staged temp files durable before it renames them, and its renames
durable before it returns (:mod:`cirahub.connectors.vdir_write`). On Linux both are one
``syncfs(2)`` of the folder's file system: it writes back every dirty file and directory
of that file system and waits for it. The fan-out of one edit to 1,000 vdir spokes runs
1,000 batches at once (64 on the spoke actor's push threads), each wanting two barriers on
the same file system; each ``syncfs`` costs a journal commit, and they queue on the disk.

So concurrent batches share them, as a database shares a log flush (group commit): a
caller joins the next *round* of its file system; a round starts when the previous one
ended, and one ``syncfs`` serves every caller that joined before it started. Guarantee: when
:meth:`SharedBarrier.wait` returns without an error, a ``syncfs`` that *started after the
call* completed successfully on the caller's file system — so everything the caller wrote
before the call is durable, exactly as with a ``syncfs`` of its own. A failed ``syncfs``
fails every caller of its round (a write-back error cannot be attributed to one file).

Elsewhere (no ``syncfs``) each temp file is fsynced as it is written and the renames are
made durable by an fsync of the folder.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


#: syncfs(2), or None where the platform has none (then each temp file is fsynced)
_syncfs = _load_syncfs()


def has_syncfs() -> bool:
    return _syncfs is not None


def syncfs(folder: Path) -> None:
    """One ``syncfs`` of the file system holding ``folder`` (OSError on failure: a write-back
    error of the file system is reported here)."""
    fn = _syncfs
    assert fn is not None
    fd = os.open(folder, os.O_RDONLY)
    try:
        if fn(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(fd)


def sync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable; some file systems cannot fsync a folder (fine)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class _Round:
    """One shared ``syncfs``: ``callers`` that joined it, ``done`` once it ended, ``error``
    if it failed."""

    callers: int = 0
    done: bool = False
    error: OSError | None = None


@dataclass
class _FileSystem:
    """The rounds of one file system: the one running (if any), the one callers join."""

    running: _Round | None = None
    next: _Round = field(default_factory=_Round)
    rounds: int = 0  # syncfs calls made (diagnostics and tests)


class SharedBarrier:
    """Group ``syncfs``: concurrent callers on one file system share one call (see the module
    docstring). ``sync``: what a round runs (``syncfs`` of a folder; tests pass their own)."""

    def __init__(self, sync: Callable[[Path], None] = syncfs) -> None:
        self._sync = sync
        self._cond = threading.Condition()
        self._systems: dict[int, _FileSystem] = {}

    def wait(self, folder: Path) -> None:
        """Return once a ``syncfs`` of ``folder``'s file system that started after this call
        has completed; raise its OSError if it failed (or the folder's stat error)."""
        device = os.stat(folder).st_dev
        with self._cond:
            fs = self._systems.setdefault(device, _FileSystem())
            mine = fs.next  # a running round started before this call: it does not count
            mine.callers += 1
            while not mine.done:
                if fs.running is None:  # the previous round ended: this one starts now
                    fs.running, fs.next = mine, _Round()
                    self._lead(fs, mine, folder)
                else:
                    self._cond.wait()
        if mine.error is not None:
            raise mine.error

    def _lead(self, fs: _FileSystem, mine: _Round, folder: Path) -> None:
        """Run ``mine`` for every caller that joined it (called and returns holding the
        lock; the ``syncfs`` itself runs without it, so the next round gathers meanwhile)."""
        self._cond.release()
        try:
            self._sync(folder)
        except OSError as exc:
            mine.error = exc
        finally:
            self._cond.acquire()
            fs.rounds += 1
            mine.done, fs.running = True, None
            self._cond.notify_all()

    def rounds(self, folder: Path) -> int:
        """How many ``syncfs`` calls this barrier made on ``folder``'s file system."""
        with self._cond:
            fs = self._systems.get(os.stat(folder).st_dev)
            return 0 if fs is None else fs.rounds

    def waiting(self, folder: Path) -> int:
        """How many callers joined the round of ``folder``'s file system not started yet."""
        with self._cond:
            fs = self._systems.get(os.stat(folder).st_dev)
            return 0 if fs is None else fs.next.callers


#: the process's shared barrier (every vdir batch of every connector joins it)
SHARED = SharedBarrier()


def before_place(folder: Path) -> None:
    """Make every temp file written in ``folder`` so far durable (OSError on failure)."""
    if _syncfs is not None:
        SHARED.wait(folder)
    # else: each temp file was fsynced when written


def after_place(folder: Path) -> None:
    """Make the renames done in ``folder`` so far durable. A file system that cannot make a
    folder durable is fine (as an fsync of the folder that fails: nothing to report)."""
    if _syncfs is None:
        sync_folder(folder)
        return
    with contextlib.suppress(OSError):
        SHARED.wait(folder)
