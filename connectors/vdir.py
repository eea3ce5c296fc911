"""The ``vdir`` spoke kind: a folder with one ``.ics`` file per item (vdirsyncer/khal layout).

- Remote id = file name (no folders); items we create are named ``<uid>.ics`` when the UID
  is made of safe characters only, else ``<sha256(uid)[:32]>.ics`` — deterministic, so a
  retried create of the same UID finds the file and raises RemoteAlreadyExists.
- Remote version = ``"<mtime_ns>-<size>-<inode>"``: listing is one ``os.scandir`` and stats,
  unchanged files are never read. Our writes always go through a new inode (temp file +
  rename), so consecutive versions of a file differ even on file systems with coarse clocks.
  A listing with many files to read (an initial sync) reads and parses them on every core
  (:mod:`cirahub.connectors.parse_pool`), with the same items as in process.
- Writes are atomic: temp file in the same folder, then ``os.replace`` (update) or a hard
  link that fails on an existing name (create); a batch of writes is made durable with one
  barrier before the renames and one after them (:mod:`cirahub.connectors.vdir_write`),
  shared with the batches of other vdir spokes writing at the same time
  (:mod:`cirahub.connectors.vdir_barrier`). The version we return is the temp file's own
  ``fstat``, so it is exactly what we wrote.
- Conditional writes re-stat and compare versions first. Between that check and the rename
  another program could still write (no locking protocol exists for vdirs); that window is
  microseconds wide and the other program's file would be replaced by ours.
- A file may hold several items (an export dropped into the folder): each is an item of its
  own (remote ids and in-place rewrites: :mod:`cirahub.connectors.vdir_files`).
- What we write carries the write time as DTSTAMP; an item read from an iCalendar spoke is
  written from its source text (verbatim when unchanged, see :mod:`cirahub.core.ical_patch`).
- A missing or unreadable folder raises (ConfigError / TransientError); it never looks like
  "everything was deleted". The folder is created only on a first run (nothing known yet)
  and only when ``create`` is true, so an unmounted disk is never replaced by an empty folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from cirahub.connectors.base import BaseConnector, Write, WriteOutcome, WriteResult
from cirahub.connectors.bounded import max_response_bytes
from cirahub.connectors.parse_pool import Job, read_many
from cirahub.connectors.vdir_files import find, holds_one_item, read_file, rewrite, split_id
from cirahub.connectors.vdir_fs import (
    Listing,
    Refused,
    file_name_for,
    io_error,
    read_no_follow,
    scan,
    version_of,
)
from cirahub.connectors.vdir_write import Batch, write_temp
from cirahub.core.errors import (
    CirahubError,
    ConfigError,
    InvalidInput,
    PreconditionFailed,
    RemoteNotFound,
)
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, Delta, RemoteItem

__all__ = ["SLICE", "VdirConnector", "file_name_for", "open_vdir", "validate", "version_of"]

#: files read per page of a paged listing (:meth:`VdirConnector.paged_delta`): several of
#: the parse pool's pages, so a slice keeps every core reading (and few slices end apart)
SLICE = 1024

class VdirConnector(BaseConnector):
    """A :class:`~cirahub.connectors.base.SpokeConnector` over a vdir folder. Keeps full
    iCalendar: nothing is unsupported."""

    kind: ClassVar[str] = "vdir"
    local_delta: ClassVar[bool] = True

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True,
                 extension: str = ".ics") -> None:
        self.path = Path(path)
        #: the folder as text: the write path joins file names to it with os.path (a Path
        #: per file costs more than the rest of placing it)
        self._dir = str(self.path)
        self.create_folder = create
        self.extension = extension
        self.capabilities = Capabilities(carries_components=True, carries_source=True)

    # --- paths ---------------------------------------------------------------------------

    def _is_item_name(self, name: str) -> bool:
        return (
            not name.startswith(".")
            and name.endswith(self.extension)
            and len(name) > len(self.extension)
        )

    def _file(self, remote_id: str) -> Path:
        """The path of the file holding ``remote_id``; refuses anything that is not a plain
        item file name (with an optional ``#<uid key>``)."""
        return self.path / self._item_name(remote_id)

    def _target(self, remote_id: str) -> str:
        """:meth:`_file` as text (the write path: no Path per file)."""
        return os.path.join(self._dir, self._item_name(remote_id))

    def _item_name(self, remote_id: str) -> str:
        name, _ = split_id(remote_id)
        if "/" in name or "\\" in name or not self._is_item_name(name):
            raise RemoteNotFound("not an item of this vdir", remote_id=remote_id)
        return name

    def _ensure_folder(self, may_create: bool) -> None:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            if not (may_create and self.create_folder):
                raise ConfigError("vdir folder not found", path=str(self.path)) from None
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise io_error(exc, "creating the folder", str(self.path)) from None
            return
        except OSError as exc:
            raise io_error(exc, "stat of the folder", str(self.path)) from None
        if not stat.S_ISDIR(st.st_mode):
            raise ConfigError("vdir path is not a folder", path=str(self.path))

    # --- reads ---------------------------------------------------------------------------

    def _listing(self) -> Listing:
        """The item files (and the item names that are links: never followed). Raises on any
        folder-level failure."""
        try:
            return scan(self.path, self._is_item_name)
        except FileNotFoundError:
            raise ConfigError("vdir folder not found", path=str(self.path)) from None
        except OSError as exc:
            raise io_error(exc, "listing", str(self.path)) from None

    def _read_text(self, name: str, names: int = 1) -> tuple[str, str] | None:
        """``(version, text)`` of file ``name`` (``names``: how many names the folder has
        for its inode); None when it vanished. The version comes from the open file, so it
        belongs to exactly the content read. Refused for a link or an oversized file."""
        version, data = read_no_follow(self._file(name), names, max_response_bytes())
        return version, data.decode("utf-8", errors="replace")

    def read_items(self, name: str, listed_version: str = "unreadable",
                   known: Sequence[str] = (), names: int = 1) -> list[RemoteItem] | None:
        """Read and parse one file: its items (``known``: the ids already linked in it);
        None when it vanished (``listed_version`` stands in when it cannot be opened)."""
        try:
            read = self._read_text(name, names)
        except FileNotFoundError:
            return None
        except Refused as refused:
            return [_refused(name, refused)]
        except OSError as exc:
            # unreadable (permissions, I/O error): quarantine it, never a deletion
            cause = io_error(exc, "read", str(self.path / name)).message
            return [RemoteItem(name, listed_version, None, f"cannot read file: {cause}")]
        assert read is not None
        version, text = read
        return [
            RemoteItem(e.remote_id, version, e.item, e.error, text if e.item is None else None)
            for e in read_file(name, text, known)
        ]

    def delta(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        """One scandir; files that are new or whose version differs from what ``known``
        holds for their items are read. Always a complete listing (``complete=True``) or
        an error."""
        return self.paged_delta(cursor, known, None)

    def paged_delta(self, cursor: str | None, known: Mapping[str, str],
                    on_page: Callable[[Sequence[RemoteItem]], None] | None) -> Delta:
        """:meth:`delta`, handing the changed items of the files read to ``on_page`` as
        they are read, in listing order, a slice of at least :data:`SLICE` files at a time
        (a link or an unreadable name is not handed over: only in the delta returned);
        see :mod:`cirahub.actors.paged_pull`."""
        self._ensure_folder(may_create=cursor is None and not known)
        scanned = self._listing()
        listing = scanned.files
        by_file: dict[str, list[str]] = {}
        for rid in known:
            by_file.setdefault(split_id(rid)[0], []).append(rid)
        changed: list[RemoteItem] = []
        present: dict[str, str] = {}
        for name, refused in sorted(scanned.refused.items()):
            # a link is reported, never read; the items known in that file are kept as
            # they are (a refusal is not a deletion)
            present.update((rid, known[rid]) for rid in by_file.get(name, []))
            present[name] = refused.version
            if known.get(name) != refused.version:
                changed.append(_refused(name, refused))
        jobs: list[Job] = []
        for name in sorted(listing):
            ids = by_file.get(name, [])
            if ids and all(known[rid] == listing[name] for rid in ids):
                present.update((rid, listing[name]) for rid in ids)
                continue
            ino = int(listing[name].rsplit("-", 1)[1])
            jobs.append((name, listing[name], tuple(ids), scanned.names_of[ino]))
        # many files (an initial sync) are parsed on every core (see parse_pool)
        for part in _slices(jobs, on_page is not None):
            page: list[RemoteItem] = []
            for items in read_many(self.read_items, str(self.path), self.extension, part):
                if items is None:  # deleted between listing and read
                    continue
                for item in items:
                    present[item.remote_id] = item.remote_version
                    if known.get(item.remote_id) != item.remote_version:
                        page.append(item)
            changed.extend(page)
            if on_page is not None:
                on_page(page)
        deleted = tuple(sorted(set(known) - set(present)))
        digest = hashlib.sha256(repr(sorted(present.items())).encode()).hexdigest()[:16]
        return Delta(tuple(changed), deleted, f"vdir:{digest}", True, len(present))

    def get_many(self, remote_ids: Sequence[str]) -> list[RemoteItem]:
        self._ensure_folder(may_create=False)
        out: list[RemoteItem] = []
        for rid in remote_ids:
            items = self.read_items(split_id(rid)[0], known=[rid])
            item = next((i for i in items or () if i.remote_id == rid), None)
            if item is None:
                raise RemoteNotFound("item file not found", remote_id=rid)
            out.append(item)
        return out

    # --- writes --------------------------------------------------------------------------

    def _write_temp(self, item: Item | str) -> tuple[str, str]:
        """Write ``item`` (or a whole file's text) to a new hidden temp file in the folder.
        Returns its path and its version; removes it again on failure."""
        return write_temp(self._dir, item)

    def _current_version(self, target: str | Path) -> str | None:
        try:
            return version_of(os.lstat(target))  # a link never matches a version we wrote
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise io_error(exc, "stat", str(target)) from None

    def _create_name(self, item: Item) -> str:
        return file_name_for(item.uid, self.extension)

    def _one(self, write: Write) -> WriteResult:
        [outcome] = self.write_many([write])
        if isinstance(outcome, CirahubError):
            raise outcome
        return outcome

    def create(self, item: Item, hub_item_id: str) -> WriteResult:
        """Create ``<uid>.ics``; RemoteAlreadyExists when that file exists."""
        return self._one(Write("create", hub_item_id, item=item))

    def update(self, remote_id: str, expected_version: str, item: Item,
               hub_item_id: str) -> WriteResult:
        """Replace the item if its file is still at ``expected_version`` (the whole file
        when it holds only this item, else only this item's components in it)."""
        return self._one(Write("update", hub_item_id, item=item, remote_id=remote_id,
                               expected_version=expected_version))

    def delete(self, remote_id: str, expected_version: str) -> None:
        """Remove the item if its file is still at ``expected_version`` (the file, when
        nothing else is left in it); a missing file or item is success."""
        self._one(Write("delete", "", remote_id=remote_id, expected_version=expected_version))

    def _new_content(self, remote_id: str, item: Item | None) -> Item | str | None:
        """What the file becomes: ``item`` alone (it was the file's only item), the file's
        text with the item replaced or removed, or None (remove the file)."""
        name, _ = split_id(remote_id)
        try:
            read = self._read_text(name)
        except FileNotFoundError:
            raise RemoteNotFound("item file not found", remote_id=remote_id) from None
        except Refused as refused:
            raise PreconditionFailed(f"the item file is now a {refused.reason}",
                                     remote_id=remote_id) from None
        except OSError as exc:
            raise io_error(exc, "read", name) from None
        assert read is not None
        if holds_one_item(read[1]):  # what reading it would conclude, without parsing it
            return item
        entries = read_file(name, read[1], [remote_id])
        entry = find(entries, remote_id)
        if entry is None or len(entries) == 1:
            if entry is None and len(entries) > 1:
                raise RemoteNotFound("item not in its file", remote_id=remote_id)
            return item
        return rewrite(name, read[1], entry, item, datetime.now(UTC))

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        """Writes in order, made durable together (one barrier per batch, see
        :mod:`cirahub.connectors.vdir_write`); several writes to items of one file chain: a
        write expecting the version the file had before an earlier write *of this batch*
        expects the version that write produced (so a batch changing three events of one
        export file does not fail on its own writes)."""
        if not writes:
            return []
        try:
            self._ensure_folder(may_create=False)
        except CirahubError as exc:
            return [exc for _ in writes]
        return Batch(self).run(writes)

    def _check_version(self, target: str | Path, remote_id: str, expected: str, *,
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


def _slices(jobs: list[Job], paged: bool) -> list[list[Job]]:
    """``jobs`` in one slice, or (``paged``) in slices of :data:`SLICE` (the last one may
    be up to half a slice longer: no short slice read without the pool)."""
    out, start = [], 0
    while paged and len(jobs) - start >= SLICE + SLICE // 2:
        out.append(jobs[start:start + SLICE])
        start += SLICE
    return [*out, jobs[start:]]


def _refused(name: str, refused: Refused) -> RemoteItem:
    return RemoteItem(name, refused.version, None, refused.detail, refused=refused.reason)


# --- registration ----------------------------------------------------------------------------

_CONFIG_KEYS = {"path", "create", "extension", "node"}


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
    out: dict[str, Any] = {"path": os.path.abspath(os.path.expanduser(path)), "create": create,
                           "extension": ext}
    node = config.get("node")
    if node is not None and node != "":
        if not isinstance(node, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,252}", node):
            raise InvalidInput("'node' must be a node name (letters, digits, . _ : -)",
                               key="node")
        out["node"] = node
    return out


def open_vdir(config: Mapping[str, Any], secret: str | None = None) -> VdirConnector:
    """Factory for the registry (no I/O until the first call)."""
    return VdirConnector(config["path"], create=config["create"], extension=config["extension"])


