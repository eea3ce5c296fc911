"""One server per data folder: an exclusive lock held for the server's whole life.

``<data_dir>/server.lock`` is locked with ``flock`` (released by the kernel when the process
ends, however it ends: no stale lock after a crash) and holds the holder's pid and, once it
listens, its address, so a second server can say exactly who runs there.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from cirahub.core.errors import InUse

LOCK_FILE = "server.lock"


class DataFolderLock:
    """Held from :meth:`acquire` to :meth:`release` (or the end of the process)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> DataFolderLock:
        """Take the lock, or raise InUse naming the running server's pid and address."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise InUse(
                f"the data folder {self.path.parent} is in use by a running cirahub server "
                f"({holder}); stop it first, or give this one another --data-dir",
                data_dir=str(self.path.parent)) from None
        self._fd = fd
        self.publish(None)
        return self

    def publish(self, address: str | None) -> None:
        """Record this process (and the address it listens on) in the lock file."""
        if self._fd is None:
            return
        text = f"pid {os.getpid()}" + (f", listening on {address}" if address else "")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, (text + "\n").encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return text or "pid unknown"
