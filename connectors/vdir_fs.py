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
from pathlib import Path

from cirahub.core.errors import ConfigError, ConnectorError, TransientError

_SAFE_UID = re.compile(r"[A-Za-z0-9_@+=-][A-Za-z0-9_.@+=-]{0,199}")
TEMP_PREFIX = ".cirahub-"
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


def io_error(exc: OSError, what: str, path: str) -> ConnectorError:
    """Map an OSError to the project's connector errors (message without file contents)."""
    if exc.errno in _CONFIG_ERRNOS:
        return ConfigError(f"vdir {what} failed: {exc.strerror}", path=path, errno=exc.errno)
    return TransientError(f"vdir {what} failed: {exc.strerror}", path=path, errno=exc.errno)


def place_new(tmp: str, target: Path) -> None:
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


def unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
