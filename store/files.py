"""The data folder's files: private permissions, the SQLite checkpoint, consistent backups.

Guarantees:

- the data folder is 0700 and the files cirahub keeps there (database with its ``-wal`` and
  ``-shm``, secret key, control token and address, server lock, backups) are 0600: the
  database holds calendars and encrypted secrets, the folder the key that decrypts them;
- :func:`checkpoint` moves everything from the ``-wal`` file into the database file, so after
  a clean stop ``cirahub.db`` alone is the whole store;
- :func:`backup_sqlite` writes a consistent copy of a live database (SQLite's online backup
  API: pages copied under the database's own locking, never a torn file).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from cirahub.core.errors import AlreadyExists, InvalidInput, StoreError

DIR_MODE = 0o700
FILE_MODE = 0o600
#: SQLite's companions of a database file
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def private_dir(folder: Path) -> Path:
    """Create ``folder`` (and parents) if missing; make it 0700 when this user owns it."""
    folder = Path(folder)
    folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = folder.stat()
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != DIR_MODE:
        folder.chmod(DIR_MODE)
    return folder


def private_files(folder: Path) -> list[Path]:
    """Make every regular file directly in ``folder`` 0600 (those this user owns); returns
    the files changed."""
    changed = []
    for path in Path(folder).iterdir():
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        if (stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()
                and stat.S_IMODE(info.st_mode) != FILE_MODE):
            path.chmod(FILE_MODE)
            changed.append(path)
    return changed


def prepare_sqlite_file(db: Path) -> None:
    """Create the database file 0600 before SQLite does (SQLite gives its ``-wal`` and
    ``-shm`` files the database file's mode), and make existing ones 0600.

    StoreError naming the file when it cannot be created or changed (missing folder, no
    permission, full disk)."""
    db = Path(db)
    try:
        if not db.exists():
            os.close(os.open(db, os.O_WRONLY | os.O_CREAT, FILE_MODE))
        for suffix in SQLITE_SUFFIXES:
            path = db.with_name(db.name + suffix)
            if path.exists() and stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
                path.chmod(FILE_MODE)
    except OSError as exc:
        raise StoreError(f"cannot open the database file {db}: {exc.strerror}",
                         action="open", path=str(db)) from None


def checkpoint(db: Path) -> tuple[int, int]:
    """``PRAGMA wal_checkpoint(TRUNCATE)`` on the database file: (wal frames, frames moved).
    Run it once the other processes closed the database; StoreError when it cannot be done."""
    try:
        conn = sqlite3.connect(str(db), timeout=30)
        try:
            busy, frames, moved = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"checkpoint of {db} failed: {exc}", action="checkpoint") from None
    if busy:
        raise StoreError(f"checkpoint of {db} incomplete: the database is still in use",
                         action="checkpoint")
    return int(frames), int(moved)


def backup_sqlite(db: Path, target: Path) -> int:
    """A consistent copy of the live database ``db`` into the new file ``target`` (0600);
    returns its size in bytes. AlreadyExists when ``target`` exists (never overwritten),
    InvalidInput when its folder does not exist, StoreError when the copy fails."""
    target = Path(target)
    if not target.is_absolute():
        raise InvalidInput(f"the backup file must be an absolute path, got {str(target)!r}",
                           field="path")
    if not target.parent.is_dir():
        raise InvalidInput(f"the folder of the backup file does not exist: {target.parent}",
                           field="path")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        raise AlreadyExists(f"{target} exists; a backup never overwrites a file",
                            path=str(target)) from None
    except OSError as exc:
        raise InvalidInput(f"cannot create {target}: {exc.strerror}", field="path") from None
    os.close(fd)
    try:
        src = sqlite3.connect(str(db), timeout=30)
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
            src.close()
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise StoreError(f"backup failed: {exc}", action="backup") from None
    return target.stat().st_size
