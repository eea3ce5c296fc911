"""The write path of the ``vdir`` spoke kind: a batch of writes, one durable barrier.

:meth:`~cirahub.connectors.vdir.VdirConnector.write_many` (and create / update / delete,
which are batches of one) works in segments — a segment ends before a write to a file the
segment already writes, so chained writes to one multi-item file see each other:

1. *stage*: per write, check the expected version, work out the file's new content and
   write it to a new hidden temp file in the folder (``.cirahub-*.tmp``);
2. *barrier*: one ``syncfs`` of the folder's file system makes every staged temp file
   durable at once (Linux; elsewhere each temp file is fsynced as it is written);
3. *place*: per write, re-check the version, then rename the temp file over the target
   (update), hard-link it to a name that must not exist (create) or unlink the target
   (delete) — each file changes atomically, old content or new, never torn;
4. a second barrier (``syncfs`` again; elsewhere an fsync of the folder) makes the renames
   durable before the batch returns, that is before the caller commits the links that name
   the new versions.

Both barriers are shared with the batches of every other vdir spoke of this process that
wait for one at the same time (:mod:`cirahub.connectors.vdir_barrier`: one ``syncfs`` per
file system serves every batch that joined before it started), so the fan-out of one edit
to 1,000 vdir spokes costs a few ``syncfs`` calls, not 2,000.

So a crash at any point leaves each file as it was or complete with its new content, and
never a link to a version that is not on disk; the next pull re-links what a batch placed
before the crash (by UID). Temp files left behind by a crash are hidden (never listed as
items) and removed by a later listing once stale (:func:`cirahub.connectors.vdir_fs.scan`). Every
write's failure stays with that write; a failed barrier fails its segment's writes (their
temp files removed, the targets untouched).
"""

from __future__ import annotations

import functools
import itertools
import os
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from cirahub.connectors import vdir_barrier
from cirahub.connectors.base import Write, WriteOutcome, WriteResult
from cirahub.connectors.vdir_files import split_id
from cirahub.connectors.vdir_fs import (
    TEMP_PREFIX,
    io_error,
    place_new,
    unlink_quietly,
    version_of,
)
from cirahub.core.errors import CirahubError, ConfigError, RemoteAlreadyExists
from cirahub.core.ical import to_ics
from cirahub.core.item import Item

TEMP_SUFFIX = ".tmp"


def write_temp(folder: str | Path, content: Item | str) -> tuple[str, str]:
    """Write ``content`` (an item, or a whole file's text) to a new hidden temp file in
    ``folder``. Returns its path and version; removes it again on failure."""
    text = content if isinstance(content, str) else text_of(content)
    data = memoryview(text.encode("utf-8"))
    fd, tmp = _open_temp(str(folder))
    try:
        try:
            while data:  # plain os.write on the descriptor: no buffered file object per write
                data = data[os.write(fd, data):]
            if not vdir_barrier.has_syncfs():
                os.fsync(fd)
            version = version_of(os.fstat(fd))
        finally:
            os.close(fd)
    except OSError as exc:
        unlink_quietly(tmp)
        raise io_error(exc, "write", str(folder)) from None
    return tmp, version


#: the texts of items being written, by item object: spokes that share a plan (a wave's
#: spokes of equal options, actors/push_wave.py) write the same Item objects, each to its
#: folder, and the text is made once. An entry lives as long as its item (a weak reference).
#: No lock: each step is one dict operation, and a lost entry is only made again
_texts: dict[int, tuple[weakref.ref[Item], str]] = {}
_TEXTS_MAX = 10_000


def text_of(item: Item) -> str:
    """``item`` as a file's text (:func:`~cirahub.core.ical.to_ics`, stamped now), made
    once per item object while it lives (items are immutable)."""
    key = id(item)
    hit = _texts.get(key)
    if hit is not None and hit[0]() is item:
        return hit[1]
    text = to_ics(item, dtstamp=datetime.now(UTC))
    if len(_texts) >= _TEXTS_MAX:
        _texts.clear()
    _texts[key] = (weakref.ref(item, functools.partial(_forget, key)), text)
    return text


def _forget(key: int, ref: weakref.ref[Item]) -> None:
    entry = _texts.get(key)
    if entry is not None and entry[0] is ref:
        _texts.pop(key, None)


#: names of this process's temp files: unique per process (pid, counter), unguessable enough
#: (a random part) that another program's file of that name is a coincidence O_EXCL handles
_temp_names = itertools.count()
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _open_temp(folder: str) -> tuple[int, str]:
    """A new temp file in ``folder`` (as ``tempfile.mkstemp``, without its per-name random
    generator: one write per item makes that cost show). Returns its descriptor and path."""
    for _ in range(100):
        name = f"{TEMP_PREFIX}{os.getpid()}-{next(_temp_names)}-{os.urandom(4).hex()}{TEMP_SUFFIX}"
        path = os.path.join(folder, name)
        try:
            return os.open(path, _TEMP_FLAGS, 0o600), path
        except FileExistsError:
            continue
        except FileNotFoundError:
            raise ConfigError("vdir folder not found", path=folder) from None
        except OSError as exc:
            raise io_error(exc, "write", folder) from None
    raise io_error(FileExistsError(f"no free temp file name in {folder}"), "write", folder)


# --- batches ---------------------------------------------------------------------------------


class Folder(Protocol):
    """What a batch needs of the connector (see :class:`~cirahub.connectors.vdir.VdirConnector`)."""

    path: Path
    extension: str

    def _target(self, remote_id: str) -> str: ...
    def _check_version(self, target: str, remote_id: str, expected: str, *,
                       missing_ok: bool) -> bool: ...
    def _new_content(self, remote_id: str, item: Item | None) -> Item | str | None: ...
    def _write_temp(self, item: Item | str) -> tuple[str, str]: ...
    def _create_name(self, item: Item) -> str: ...


@dataclass
class _Staged:
    """One write between stage and place. ``op``: create, replace or remove."""

    index: int
    op: str
    target: str
    remote_id: str
    expected: str
    asked: str  # the version the caller expected (before chaining)
    tmp: str | None = None
    version: str = ""
    uid: str = ""


class Batch:
    """One ``write_many`` call (see the module docstring)."""

    def __init__(self, folder: Folder) -> None:
        self.folder = folder
        self.segment: list[_Staged] = []
        self.names: set[str] = set()
        #: file → (version the caller expected, version we wrote): later writes chain
        self.after: dict[str, tuple[str, str]] = {}

    def run(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        out: list[WriteOutcome | None] = [None] * len(writes)
        for index, w in enumerate(writes):
            try:
                name = (self.folder._create_name(w.item) if w.op == "create" and w.item
                        else split_id(w.remote_id or "")[0])
                if name in self.names:
                    self.finish(out)
                self.names.add(name)
                staged = self.stage(index, w, name)
            except CirahubError as exc:
                out[index] = exc
                continue
            if staged is None:  # a delete of something already gone
                out[index] = WriteResult(w.remote_id or "", "")
            else:
                self.segment.append(staged)
        self.finish(out)
        assert all(o is not None for o in out)
        return [o for o in out if o is not None]

    def stage(self, index: int, w: Write, name: str) -> _Staged | None:
        f = self.folder
        if w.op == "create":
            assert w.item is not None
            target = f._target(name)
            if os.path.lexists(target):  # never raises (a folder we may not search)
                raise RemoteAlreadyExists("item file exists", remote_id=name, uid=w.item.uid)
            tmp, version = f._write_temp(w.item)
            return _Staged(index, "create", target, name, "", "", tmp, version, w.item.uid)
        assert w.remote_id is not None and w.expected_version is not None
        expected = w.expected_version
        if name in self.after and self.after[name][0] == expected:
            expected = self.after[name][1]
        target = f._target(w.remote_id)
        item = w.item if w.op == "update" else None
        if not f._check_version(target, w.remote_id, expected, missing_ok=item is None):
            return None
        content = f._new_content(w.remote_id, item)
        if content is None:
            return _Staged(index, "remove", target, w.remote_id, expected, w.expected_version)
        tmp, version = f._write_temp(content)
        return _Staged(index, "replace", target, w.remote_id, expected, w.expected_version,
                       tmp, version)

    def finish(self, out: list[WriteOutcome | None]) -> None:
        """Barrier, place every staged write of the segment, fsync the folder."""
        segment, self.segment, self.names = self.segment, [], set()
        if not segment:
            return
        try:
            if any(s.tmp for s in segment):
                vdir_barrier.before_place(self.folder.path)
        except OSError as exc:
            for s in segment:
                out[s.index] = io_error(exc, "write", str(self.folder.path))
                if s.tmp:
                    unlink_quietly(s.tmp)
            return
        placed = False
        for s in segment:
            try:
                out[s.index] = self.place(s)
                placed = True
            except CirahubError as exc:
                out[s.index] = exc
            finally:
                if s.tmp:
                    unlink_quietly(s.tmp)
        if placed:
            vdir_barrier.after_place(self.folder.path)

    def place(self, s: _Staged) -> WriteResult:
        f = self.folder
        if s.op == "create":
            assert s.tmp is not None
            try:
                place_new(s.tmp, s.target)
            except FileExistsError:
                raise RemoteAlreadyExists("item file exists", remote_id=s.remote_id,
                                          uid=s.uid) from None
            except OSError as exc:
                raise io_error(exc, "create", s.target) from None
            return WriteResult(s.remote_id, s.version)
        name = split_id(s.remote_id)[0]
        if s.op == "remove":
            if f._check_version(s.target, s.remote_id, s.expected, missing_ok=True):
                try:
                    os.unlink(s.target)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise io_error(exc, "delete", s.target) from None
            self.after[name] = (s.asked, "")
            return WriteResult(s.remote_id, "")
        assert s.tmp is not None
        f._check_version(s.target, s.remote_id, s.expected, missing_ok=False)
        try:
            os.replace(s.tmp, s.target)
        except OSError as exc:
            raise io_error(exc, "update", s.target) from None
        self.after[name] = (s.asked, s.version)
        return WriteResult(s.remote_id, s.version)
