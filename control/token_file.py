"""The control token file ``<data_dir>/control.token``: created private, refused when unsafe.

Guarantees of :func:`load_or_create_token`:

- a missing file is created with mode 0600 holding a new random token (256 bits); two
  servers starting at once agree on one token (``O_EXCL``);
- an existing file is used only when it is a regular file of ours (not a link), readable by
  its owner alone, and holds a token of at least :data:`MIN_TOKEN_BYTES` bytes. Otherwise the
  server refuses to start with an :class:`~cirahub.core.errors.InvalidInput` naming the file
  and what to do. A group/world-readable token may already be known to other local users,
  so it is never quietly made private; an empty file is never quietly replaced (the
  operator who emptied it expects a token they set, and a client on the machine would read
  a token nobody wrote down).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from pathlib import Path

from cirahub.control.published import TOKEN_FILE
from cirahub.core.errors import InvalidInput

MIN_TOKEN_BYTES = 32
#: a token file never holds more than this (it is one line)
_MAX_BYTES = 4096


def token_path(data_dir: Path) -> Path:
    return Path(data_dir) / TOKEN_FILE


def _refuse(path: Path, why: str) -> InvalidInput:
    return InvalidInput(f"the control token file {path} {why}", path=str(path),
                        field="control.token")


def checked_token(path: Path) -> str | None:
    """The token in ``path``; None when there is no such file. InvalidInput (naming the file
    and the fix) when it is a link, not private, empty or too short."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(path, "is a symbolic link: replace it by the token itself") from None
        raise _refuse(path, f"cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        data = fh.read(_MAX_BYTES + 1)
    mode = stat.S_IMODE(info.st_mode)
    if not stat.S_ISREG(info.st_mode) or len(data) > _MAX_BYTES:
        raise _refuse(path, "is not a token file")
    if mode & 0o077:
        raise _refuse(path, f"is readable by other users (mode {mode:04o}): the token may be "
                            "known to them; delete the file (a new token is created on start) "
                            "or write a new token into it and make it mode 0600")
    token = data.decode("utf-8", errors="replace").strip()
    if not token:
        raise _refuse(path, "is empty: delete it to have a new token created, or write a "
                            f"token of at least {MIN_TOKEN_BYTES} bytes into it")
    if len(token.encode("utf-8")) < MIN_TOKEN_BYTES:
        raise _refuse(path, f"holds a token shorter than {MIN_TOKEN_BYTES} bytes: delete it "
                            "(a new token is created on start) or write a longer one")
    return token


def load_or_create_token(data_dir: Path) -> str:
    """The server's token (see the module docstring), created when missing."""
    path = token_path(data_dir)
    existing = checked_token(path)
    if existing:
        return existing
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # another server created it meanwhile; use theirs once it is complete
        return checked_token(path) or token
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return token
