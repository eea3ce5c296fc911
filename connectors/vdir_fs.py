"""The file-system steps of the vdir connector: names, versions, atomic placement, errors.

No knowledge of iCalendar here; :mod:`cirahub.connectors.vdir` composes these into
conditional, atomic writes (see its docstring for the guarantees).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cirahub.core.errors import ConfigError, ConnectorError, TransientError

_SAFE_UID = re.compile(r"[A-Za-z0-9_@+=-][A-Za-z0-9_.@+=-]{0,199}")
TEMP_PREFIX = ".cirahub-"
#: a temp file of ours untouched this long is a leftover of a run that never ended (killed
#: mid-write): the next listing removes it (a write in progress is seconds old at most)
STALE_TEMP_SECONDS = 60.0
#: errors that mean "this will not work until an operator acts"
_CONFIG_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR}


def file_name_for(uid: str, extension: str = ".ics") -> str:
    """The file name an item with ``uid`` gets: the UID itself when it is made of safe
    characters (letters, digits, ``_ @ + = - .``, not starting with a dot, at most 200),
    else a hash of it. Deterministic: the same UID always gives the same name."""
    if _SAFE_UID.fullmatch(uid):
        return uid + extension
    return hashlib.sha256(uid.encode("utf-8")).hexdigest()[:32] + extension


def version_of(st: os.stat_result) -> str:
    """The remote version of a file: modification time, size and inode."""
    return f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}"


#: the causes an operator must act on, said the way they would look them up
_CAUSES = {
    errno.EACCES: "permission denied on {path}",
    errno.EPERM: "permission denied on {path}",
    errno.EROFS: "permission denied on {path} (read-only file system)",
    errno.ENOSPC: "no space left on device ({path})",
    errno.EDQUOT: "disk quota exceeded ({path})",
}


def io_error(exc: OSError, what: str, path: str) -> ConnectorError:
    """Map an OSError to the project's connector errors, naming the cause and the path
    (never file contents): "vdir write failed: permission denied on /data/cal"."""
    cause = _CAUSES.get(exc.errno or 0, "{strerror} ({path})").format(
        path=path, strerror=exc.strerror or type(exc).__name__)
    message = f"vdir {what} failed: {cause}"
    if exc.errno in _CONFIG_ERRNOS:
        return ConfigError(message, path=path, errno=exc.errno)
    return TransientError(message, path=path, errno=exc.errno)


def place_new(tmp: str, target: str | Path) -> None:
    """Give the finished temp file the name ``target`` unless that name exists
    (FileExistsError). A hard link is atomic and never replaces; where links are not
    supported, reserve the name with O_EXCL and then rename over the reservation."""
    try:
        os.link(tmp, target)
        return
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
            raise
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.close(fd)
    os.replace(tmp, target)


def remove_stale_temp(entry: os.DirEntry[str], before: float, dir_fd: int | None = None) -> None:
    """Remove ``entry`` when it is one of our temp files (a regular file, never a link)
    last changed before ``before``; anything else is left alone. ``dir_fd``: the folder's
    descriptor when ``entry`` came from a scan of it (its ``path`` is then the bare name)."""
    if not (entry.name.startswith(TEMP_PREFIX) and entry.name.endswith(".tmp")):
        return
    with contextlib.suppress(OSError):
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISREG(st.st_mode) and st.st_mtime < before:
            os.unlink(entry.name if dir_fd is not None else entry.path, dir_fd=dir_fd)


def unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# --- reading without following links -----------------------------------------------------------

#: quarantine reasons of item names that are links (their targets are never read)
SYMLINK = "symlink, not followed"
HARDLINK = "hard link, not followed"
OVERSIZED = "file too large"
NOT_FILE = "not a regular file"
_WHY = {
    SYMLINK: "a symbolic link: a vdir spoke never reads through a link, so whatever it points "
             "to (inside or outside the folder) is not read",
    HARDLINK: "a hard link to a file with a name outside the folder: a vdir spoke reads only "
              "files that belong to the folder alone",
    OVERSIZED: "larger than the limit of {limit} bytes ($CIRAHUB_MAX_RESPONSE_BYTES)",
    NOT_FILE: "a device, pipe or socket (replaced since it was listed): not read",
}


class Refused(Exception):
    """A name the connector will not read; ``reason`` is the quarantine reason."""

    def __init__(self, reason: str, version: str, limit: int = 0) -> None:
        super().__init__(reason)
        self.reason, self.version = reason, version
        self.detail = f"{reason}: {_WHY[reason].format(limit=limit)}"


@dataclass
class Listing:
    """One scan of the folder: ``files`` name → version of the plain item files, ``refused``
    name → Refused for item names that are links, ``names_of`` how many names in the folder
    share an inode (a file whose link count is higher also has a name elsewhere)."""

    files: dict[str, str]
    refused: dict[str, Refused]
    names_of: Counter[int]


#: whether a folder can be listed through its descriptor (its entries' lstat is then an
#: ``fstatat`` of the bare name: no walk of the folder's path per file)
_SCAN_FD = os.scandir in os.supports_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)


def scan(folder: Path, is_item: Callable[[str], bool]) -> Listing:
    """List ``folder`` without following any link; our temp files left by a run that never
    ended are removed on the way. Raises OSError (folder-level failures).

    Every listing of a vdir spoke (5,000 files: one ``lstat`` each) runs this loop, so it is
    kept lean: the entries are stat'ed relative to the folder's descriptor, the inodes
    counted at the end."""
    if not _SCAN_FD:
        return _scan(folder, None, is_item)
    fd = os.open(folder, _DIR_FLAGS)
    try:
        return _scan(folder, fd, is_item)
    finally:
        os.close(fd)


def _scan(folder: Path, fd: int | None, is_item: Callable[[str], bool]) -> Listing:
    files: dict[str, str] = {}
    refused: dict[str, Refused] = {}
    inodes: list[int] = []
    nlinks: dict[str, int] = {}
    stale_before = time.time() - STALE_TEMP_SECONDS
    is_reg, is_link = stat.S_ISREG, stat.S_ISLNK
    with os.scandir(folder if fd is None else fd) as it:
        for entry in it:
            try:
                if entry.is_dir(follow_symlinks=False):
                    continue
                inodes.append(entry.inode())
                name = entry.name
                if not is_item(name):
                    remove_stale_temp(entry, stale_before, fd)
                    continue
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed while we listed: it is gone
            mode = info.st_mode
            if is_reg(mode):
                files[name] = version_of(info)
                if info.st_nlink > 1:
                    nlinks[name] = info.st_nlink  # the lstat above: no second stat
            elif is_link(mode):
                refused[name] = Refused(SYMLINK, version_of(info))
    out = Listing(files, refused, Counter(inodes))
    for name, count in nlinks.items():
        ino = int(files[name].rsplit("-", 1)[1])
        if count > out.names_of[ino]:
            refused[name] = Refused(HARDLINK, files.pop(name))
    return out


#: how item files are opened for reading (``os.open``; tests inject errors here, as root
#: ignores file modes)
open_file = os.open


def read_no_follow(path: Path, names: int, limit: int) -> tuple[str, bytes]:
    """``(version, content)`` of the regular file ``path``, opened without following a link
    (Refused SYMLINK), refused when it has more names than the ``names`` the folder holds
    (HARDLINK) or more than ``limit`` bytes (OVERSIZED). The version is the open file's."""
    try:
        fd = open_file(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Refused(SYMLINK, version_of(path.lstat())) from None
        raise
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        version = version_of(info)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(NOT_FILE, version)
        if info.st_nlink > max(names, 1):
            raise Refused(HARDLINK, version)
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise Refused(OVERSIZED, version, limit)
    return version, data
