"""The ``vdir`` spoke kind: a folder with one ``.ics`` file per item (vdirsyncer/khal layout).

- Remote id = file name (no folders); items we create are named ``<uid>.ics`` when the UID
  is made of safe characters only, else ``<sha256(uid)[:32]>.ics`` — deterministic, so a
  retried create of the same UID finds the file and raises RemoteAlreadyExists.
- Remote version = ``"<mtime_ns>-<size>-<inode>"``: listing is one ``os.scandir`` and stats,
  unchanged files are never read. Our writes always go through a new inode (temp file +
  rename), so consecutive versions of a file differ even on file systems with coarse clocks.
- Writes are atomic: temp file in the same folder, fsync, then ``os.replace`` (update) or a
  hard link that fails on an existing name (create); the folder is fsynced afterwards. The
  version we return is the temp file's own ``fstat``, so it is exactly what we wrote.
- Conditional writes re-stat and compare versions first. Between that check and the rename
  another program could still write (no locking protocol exists for vdirs); that window is
  microseconds wide and the other program's file would be replaced by ours.
- A missing or unreadable folder raises (ConfigError / TransientError); it never looks like
  "everything was deleted". The folder is created only on a first run (nothing known yet)
  and only when ``create`` is true, so an unmounted disk is never replaced by an empty folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from cirahub.connectors.base import BaseConnector, WriteResult
from cirahub.core.errors import (
    ConfigError,
    ConnectorError,
    InvalidInput,
    MalformedItem,
    PreconditionFailed,
    RemoteAlreadyExists,
    RemoteNotFound,
    TransientError,
)
from cirahub.core.ical import parse_item, to_ics
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, Delta, RemoteItem

_SAFE_UID = re.compile(r"[A-Za-z0-9_@+=-][A-Za-z0-9_.@+=-]{0,199}")
_TEMP_PREFIX = ".cirahub-"
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


def _io_error(exc: OSError, what: str, path: str) -> ConnectorError:
    """Map an OSError to the project's connector errors (message without file contents)."""
    if exc.errno in _CONFIG_ERRNOS:
        return ConfigError(f"vdir {what} failed: {exc.strerror}", path=path, errno=exc.errno)
    return TransientError(f"vdir {what} failed: {exc.strerror}", path=path, errno=exc.errno)


class VdirConnector(BaseConnector):
    """A :class:`~cirahub.connectors.base.SpokeConnector` over a vdir folder. Keeps full
    iCalendar: nothing is unsupported."""

    kind: ClassVar[str] = "vdir"

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True,
                 extension: str = ".ics") -> None:
        self.path = Path(path)
        self.create_folder = create
        self.extension = extension
        self.capabilities = Capabilities()

    # --- paths ---------------------------------------------------------------------------

    def _is_item_name(self, name: str) -> bool:
        return (
            not name.startswith(".")
            and name.endswith(self.extension)
            and len(name) > len(self.extension)
        )

    def _file(self, remote_id: str) -> Path:
        """The path of ``remote_id``; refuses anything that is not a plain item file name."""
        if "/" in remote_id or "\\" in remote_id or not self._is_item_name(remote_id):
            raise RemoteNotFound("not an item of this vdir", remote_id=remote_id)
        return self.path / remote_id

    def _ensure_folder(self, may_create: bool) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if not (may_create and self.create_folder):
                raise ConfigError("vdir folder not found", path=str(self.path)) from None
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise _io_error(exc, "creating the folder", str(self.path)) from None
            return
        except OSError as exc:
            raise _io_error(exc, "stat of the folder", str(self.path)) from None
        if not stat.S_ISDIR(st.st_mode):
            raise ConfigError("vdir path is not a folder", path=str(self.path))

    # --- reads ---------------------------------------------------------------------------

    def _listing(self) -> dict[str, str]:
        """File name → version of every item file. Raises on any folder-level failure."""
        out: dict[str, str] = {}
        try:
            with os.scandir(self.path) as it:
                for entry in it:
                    if not self._is_item_name(entry.name):
                        continue
                    try:
                        if not entry.is_file():
                            continue
                        out[entry.name] = version_of(entry.stat())
                    except FileNotFoundError:
                        continue  # removed while we listed: it is gone
        except FileNotFoundError:
            raise ConfigError("vdir folder not found", path=str(self.path)) from None
        except OSError as exc:
            raise _io_error(exc, "listing", str(self.path)) from None
        return out

    def _read(self, name: str, listed_version: str = "unreadable") -> RemoteItem | None:
        """Read and parse one file; None when it vanished. The version comes from the open
        file, so it belongs to exactly the content read (``listed_version`` stands in when
        the file cannot be opened)."""
        try:
            with open(self._file(name), "rb") as fh:
                version = version_of(os.fstat(fh.fileno()))
                data = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            # unreadable (permissions, I/O error): quarantine it, never a deletion
            return RemoteItem(name, listed_version, None, f"cannot read file: {exc.strerror}")
        text = data.decode("utf-8", errors="replace")
        try:
            return RemoteItem(name, version, parse_item(text))
        except MalformedItem as exc:
            return RemoteItem(name, version, None, str(exc), text)

    def delta(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        """One scandir; files that are new or whose version differs from ``known`` are read.
        Always a complete listing (``complete=True``) or an error."""
        self._ensure_folder(may_create=cursor is None and not known)
        listing = self._listing()
        changed: list[RemoteItem] = []
        for name in sorted(listing):
            if known.get(name) == listing[name]:
                continue
            item = self._read(name, listing[name])
            if item is None:  # deleted between listing and read
                del listing[name]
                continue
            if known.get(name) != item.remote_version:
                changed.append(item)
            listing[name] = item.remote_version
        deleted = tuple(sorted(set(known) - set(listing)))
        digest = hashlib.sha256(repr(sorted(listing.items())).encode()).hexdigest()[:16]
        return Delta(tuple(changed), deleted, f"vdir:{digest}", True, len(listing))

    def get_many(self, remote_ids: Sequence[str]) -> list[RemoteItem]:
        self._ensure_folder(may_create=False)
        out: list[RemoteItem] = []
        for rid in remote_ids:
            item = self._read(rid)
            if item is None:
                raise RemoteNotFound("item file not found", remote_id=rid)
            out.append(item)
        return out

    # --- writes --------------------------------------------------------------------------

    def _write_temp(self, item: Item) -> tuple[str, str]:
        """Write ``item`` to a new hidden temp file in the folder, fsynced. Returns its path
        and its version; removes it again on failure."""
        data = to_ics(item).encode("utf-8")
        try:
            fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=self.path)
        except FileNotFoundError:
            raise ConfigError("vdir folder not found", path=str(self.path)) from None
        except OSError as exc:
            raise _io_error(exc, "write", str(self.path)) from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                version = version_of(os.fstat(fh.fileno()))
        except OSError as exc:
            _unlink_quietly(tmp)
            raise _io_error(exc, "write", str(self.path)) from None
        return tmp, version

    def _current_version(self, target: Path) -> str | None:
        try:
            return version_of(target.stat())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _io_error(exc, "stat", str(target)) from None

    def _sync_folder(self) -> None:
        # Make the rename durable; some file systems cannot fsync a folder, which is fine.
        with contextlib.suppress(OSError):
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def create(self, item: Item, hub_item_id: str) -> WriteResult:
        """Create ``<uid>.ics``; RemoteAlreadyExists when that file exists."""
        name = file_name_for(item.uid, self.extension)
        target = self._file(name)
        self._ensure_folder(may_create=False)
        if target.exists():
            raise RemoteAlreadyExists("item file exists", remote_id=name, uid=item.uid)
        tmp, version = self._write_temp(item)
        try:
            _place_new(tmp, target)
        except FileExistsError:
            raise RemoteAlreadyExists("item file exists", remote_id=name, uid=item.uid) from None
        except OSError as exc:
            raise _io_error(exc, "create", str(target)) from None
        finally:
            _unlink_quietly(tmp)
        self._sync_folder()
        return WriteResult(name, version)

    def update(self, remote_id: str, expected_version: str, item: Item,
               hub_item_id: str) -> WriteResult:
        """Replace the file if it is still at ``expected_version``."""
        target = self._file(remote_id)
        self._ensure_folder(may_create=False)
        self._check_version(target, remote_id, expected_version, missing_ok=False)
        tmp, version = self._write_temp(item)
        try:
            self._check_version(target, remote_id, expected_version, missing_ok=False)
            os.replace(tmp, target)
        except OSError as exc:
            raise _io_error(exc, "update", str(target)) from None
        finally:
            _unlink_quietly(tmp)
        self._sync_folder()
        return WriteResult(remote_id, version)

    def delete(self, remote_id: str, expected_version: str) -> None:
        """Remove the file if it is still at ``expected_version``; a missing file is success."""
        target = self._file(remote_id)
        self._ensure_folder(may_create=False)
        if not self._check_version(target, remote_id, expected_version, missing_ok=True):
            return
        try:
            target.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _io_error(exc, "delete", str(target)) from None
        self._sync_folder()

    def _check_version(self, target: Path, remote_id: str, expected: str, *,
                       missing_ok: bool) -> bool:
        """True when ``target`` is at ``expected``; False when missing and ``missing_ok``."""
        current = self._current_version(target)
        if current is None:
            if missing_ok:
                return False
            raise RemoteNotFound("item file not found", remote_id=remote_id)
        if current != expected:
            raise PreconditionFailed("item file changed since it was read",
                                     remote_id=remote_id, expected=expected, actual=current)
        return True


def _place_new(tmp: str, target: Path) -> None:
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


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


# --- registration ----------------------------------------------------------------------------

_CONFIG_KEYS = {"path", "create", "extension"}


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized vdir spoke config. Raises InvalidInput naming the bad key."""
    for key in config:
        if key not in _CONFIG_KEYS:
            raise InvalidInput(f"unknown vdir spoke option {key!r}", key=key)
    path = config.get("path")
    if not isinstance(path, str) or not path.strip():
        raise InvalidInput("'path' must be the folder of the vdir", key="path")
    create = config.get("create", True)
    if not isinstance(create, bool):
        raise InvalidInput("'create' must be true or false", key="create")
    ext = config.get("extension", ".ics")
    if not isinstance(ext, str) or not re.fullmatch(r"\.[A-Za-z0-9]{1,16}", ext):
        raise InvalidInput("'extension' must look like '.ics'", key="extension")
    return {"path": os.path.abspath(os.path.expanduser(path)), "create": create, "extension": ext}


def open_vdir(config: Mapping[str, Any], secret: str | None = None) -> VdirConnector:
    """Factory for the registry (no I/O until the first call)."""
    return VdirConnector(config["path"], create=config["create"], extension=config["extension"])


