"""vdir specifics on a real folder: atomic writes, file naming, ignored files, a vanishing
folder, external rewrites, config. (Generic behaviour: tests/contract/test_vdir_contract.py.)"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

import cirahub.connectors.vdir as vdir_mod
import cirahub.connectors.vdir_barrier as vdir_barrier
import cirahub.connectors.vdir_fs as vdir_fs
import cirahub.connectors.vdir_write as vdir_write
from cirahub.connectors.registry import open_connector, validate_config
from cirahub.connectors.vdir import VdirConnector, file_name_for, version_of
from cirahub.connectors.vdir_files import FileEntry
from cirahub.core.errors import (
    ConfigError,
    InvalidInput,
    PreconditionFailed,
    RemoteAlreadyExists,
    RemoteNotFound,
    TransientError,
)
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_item, to_ics
from cirahub.core.item import Item


def ev(uid: str, summary: str = "Review", **extra: object) -> Item:
    return Item(uid, {
        "summary": summary,
        "start": {"utc": "2026-03-02T08:00:00Z", "tz": "Europe/Berlin"},
        "end": {"utc": "2026-03-02T09:00:00Z", "tz": "Europe/Berlin"},
        **extra,
    })


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "cal"
    path.mkdir()
    return path


@pytest.fixture
def conn(folder: Path) -> VdirConnector:
    return VdirConnector(folder)


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


# --- atomic writes ---------------------------------------------------------------------------


def _fail_fsync(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk refuses to make data durable (the batch barrier, or an fsync)."""
    def boom(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    def refused(fd: int) -> int:
        ctypes.set_errno(errno.ENOSPC)
        return -1

    monkeypatch.setattr(vdir_mod.os, "fsync", boom)
    if vdir_barrier._syncfs is not None:
        monkeypatch.setattr(vdir_barrier, "_syncfs", refused)


def test_failed_update_leaves_the_old_file_and_no_temp_file(
    conn: VdirConnector, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = conn.create(ev("a@x"), "h")
    before = (folder / res.remote_id).read_bytes()
    _fail_fsync(monkeypatch)
    with pytest.raises(TransientError) as err:
        conn.update(res.remote_id, res.remote_version, ev("a@x", "new"), "h")
    assert err.value.fields["errno"] == errno.ENOSPC
    assert names(folder) == [res.remote_id]
    assert (folder / res.remote_id).read_bytes() == before
    monkeypatch.undo()
    [got] = conn.get_many([res.remote_id])
    assert got.remote_version == res.remote_version  # untouched, so still writable
    assert conn.update(res.remote_id, res.remote_version, ev("a@x", "new"), "h")


def test_failed_create_leaves_nothing(
    conn: VdirConnector, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_fsync(monkeypatch)
    with pytest.raises(TransientError):
        conn.create(ev("a@x"), "h")
    assert names(folder) == []


def test_a_temp_name_taken_by_another_file_is_skipped_not_overwritten(
    conn: VdirConnector, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Temp files are opened with O_EXCL under a new name per write (pid, counter, random
    part): a file already holding the next name is left alone and the write goes on."""
    import itertools

    monkeypatch.setattr(vdir_write, "_temp_names", itertools.count(7))
    monkeypatch.setattr(vdir_write.os, "urandom", lambda n: b"\0" * n)
    taken = folder / f"{vdir_fs.TEMP_PREFIX}{os.getpid()}-7-00000000{vdir_write.TEMP_SUFFIX}"
    taken.write_text("someone else's")
    res = conn.create(ev("a@x"), "h")
    assert taken.read_text() == "someone else's"
    assert parse_item((folder / res.remote_id).read_text()) == ev("a@x")
    assert sorted(p.name for p in folder.iterdir()) == sorted([res.remote_id, taken.name])


def test_failed_rename_leaves_the_old_file_and_no_temp_file(
    conn: VdirConnector, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = conn.create(ev("a@x"), "h")

    def boom(src: str, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(vdir_mod.os, "replace", boom)
    with pytest.raises(TransientError):
        conn.update(res.remote_id, res.remote_version, ev("a@x", "new"), "h")
    assert names(folder) == [res.remote_id]
    assert parse_item((folder / res.remote_id).read_text()) == ev("a@x")


def test_returned_version_is_the_version_listed(conn: VdirConnector, folder: Path) -> None:
    res = conn.create(ev("a@x"), "h")
    res2 = conn.update(res.remote_id, res.remote_version, ev("a@x", "b"), "h")
    st = (folder / res.remote_id).stat()
    assert res2.remote_version == f"{st.st_mtime_ns}-{st.st_size}-{st.st_ino}"
    assert conn.delta(None, {res.remote_id: res2.remote_version}).changed == ()


def test_create_does_not_replace_a_file_written_meanwhile(
    conn: VdirConnector, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program creates the same file between our check and our rename."""
    real = vdir_mod.VdirConnector._write_temp

    def racing(self: VdirConnector, item: Item) -> tuple[str, str]:
        (folder / file_name_for(item.uid)).write_text(to_ics(ev(item.uid, "theirs")))
        return real(self, item)

    monkeypatch.setattr(vdir_mod.VdirConnector, "_write_temp", racing)
    with pytest.raises(RemoteAlreadyExists):
        conn.create(ev("a@x", "ours"), "h")
    assert names(folder) == ["a@x.ics"]
    assert parse_item((folder / "a@x.ics").read_text()).get("summary") == "theirs"


# --- file names and ignored files ------------------------------------------------------------


@pytest.mark.parametrize(
    ("uid", "safe"),
    [
        ("040000008200E00074C5B7101A82E008@example.com", True),
        ("a.b-c_d+e=f", True),
        ("../../etc/passwd", False),
        ("a/b", False),
        (".hidden", False),
        ("space in uid", False),
        ("ünïcode@x", False),
        ("x" * 201, False),
    ],
)
def test_unsafe_uids_get_hashed_file_names(
    conn: VdirConnector, folder: Path, uid: str, safe: bool
) -> None:
    res = conn.create(ev(uid), "h")
    assert res.remote_id == file_name_for(uid)
    assert names(folder) == [res.remote_id]
    if safe:
        assert res.remote_id == uid + ".ics"
    else:
        stem = res.remote_id.removesuffix(".ics")
        assert len(stem) == 32 and all(c in "0123456789abcdef" for c in stem)
    [got] = conn.get_many([res.remote_id])
    assert got.item is not None and got.item.uid == uid
    with pytest.raises(RemoteAlreadyExists):  # same UID → same name, even when hashed
        conn.create(ev(uid, "again"), "h2")


def test_hidden_temp_and_foreign_files_are_ignored(conn: VdirConnector, folder: Path) -> None:
    good = conn.create(ev("a@x"), "h")
    text = to_ics(ev("b@x"))
    for name in (".hidden.ics", ".cirahub-abc.tmp", ".b@x.ics.swp", "b@x.ics~", "notes.txt",
                 "b@x.ics.tmp", ".ics"):
        (folder / name).write_text(text)
    (folder / "sub.ics").mkdir()
    delta = conn.delta(None, {})
    assert [r.remote_id for r in delta.changed] == [good.remote_id]
    assert delta.listing_size == 1
    with pytest.raises(RemoteNotFound):
        conn.get_many([".hidden.ics"])


@pytest.mark.parametrize("rid", ["../outside.ics", "sub/x.ics", ".hidden.ics", "x.txt"])
def test_remote_ids_cannot_escape_the_folder(conn: VdirConnector, folder: Path, rid: str) -> None:
    (folder.parent / "outside.ics").write_text(to_ics(ev("o@x")))
    with pytest.raises(RemoteNotFound):
        conn.get_many([rid])
    with pytest.raises(RemoteNotFound):
        conn.delete(rid, "1-2-3")
    assert (folder.parent / "outside.ics").exists()


# --- the folder ------------------------------------------------------------------------------


def test_vanished_folder_is_an_error_not_a_mass_deletion(conn: VdirConnector, folder: Path) -> None:
    for n in range(3):
        conn.create(ev(f"{n}@x"), "h")
    first = conn.delta(None, {})
    known = {r.remote_id: r.remote_version for r in first.changed}
    shutil.rmtree(folder)
    with pytest.raises(ConfigError):
        conn.delta(first.cursor, known)
    with pytest.raises(ConfigError):
        conn.create(ev("new@x"), "h")
    assert not folder.exists()  # never silently re-created while items are known


def test_folder_is_created_on_first_run_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "new" / "cal"
    with pytest.raises(ConfigError):
        VdirConnector(path, create=False).delta(None, {})
    assert not path.exists()
    delta = VdirConnector(path).delta(None, {})
    assert path.is_dir() and delta.complete and delta.listing_size == 0


def test_a_file_in_place_of_the_folder_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "cal").write_text("not a folder")
    with pytest.raises(ConfigError):
        VdirConnector(tmp_path / "cal").delta(None, {})


def test_unreadable_file_is_quarantined_not_deleted(
    conn: VdirConnector, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = conn.create(ev("a@x"), "h")
    other = conn.create(ev("b@x"), "h")
    known = {res.remote_id: res.remote_version, other.remote_id: other.remote_version}
    (folder / res.remote_id).write_text(to_ics(ev("a@x", "edited")))

    def deny(path: object, flags: int) -> int:
        if str(path).endswith(res.remote_id):
            raise PermissionError(errno.EACCES, "Permission denied")
        return os.open(path, flags)  # type: ignore[arg-type]

    # (a chmod would not stop root, so the denial is injected where the file is opened)
    monkeypatch.setattr(vdir_fs, "open_file", deny)
    delta = conn.delta(None, known)
    [bad] = delta.changed
    assert bad.remote_id == res.remote_id and bad.item is None
    assert f"permission denied on {folder / res.remote_id}" in (bad.error or "")
    assert bad.remote_version == version_of((folder / res.remote_id).stat())
    assert delta.deleted == () and delta.listing_size == 2


def test_file_removed_between_listing_and_read_is_not_listed(
    conn: VdirConnector, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    res = conn.create(ev("a@x"), "h")
    keep = conn.create(ev("b@x"), "h")

    def racing_delete(path: object, flags: int) -> int:
        if str(path).endswith(res.remote_id):
            os.unlink(str(path))  # the user deletes it just as we open it
        return os.open(path, flags)  # type: ignore[arg-type]

    monkeypatch.setattr(vdir_fs, "open_file", racing_delete)
    # known at an older version, so the listing reads it, and the open proves it is gone
    delta = conn.delta(None, {res.remote_id: "1-1-1", keep.remote_id: keep.remote_version})
    assert delta.changed == () and delta.deleted == (res.remote_id,)
    assert delta.listing_size == 1


# --- listing cost and external edits ---------------------------------------------------------


def test_unchanged_files_are_not_read(
    conn: VdirConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [conn.create(ev(f"{n}@x"), "h") for n in range(5)]
    known = {r.remote_id: r.remote_version for r in made}
    parsed: list[str] = []
    real = vdir_mod.read_file

    def counting(name: str, text: str, known: Sequence[str] = ()) -> list[FileEntry]:
        entries = real(name, text, known)
        parsed.extend(e.uid or "" for e in entries)
        return entries

    monkeypatch.setattr(vdir_mod, "read_file", counting)
    assert conn.delta(None, known).changed == ()
    assert parsed == []
    conn.update(made[2].remote_id, made[2].remote_version, ev("2@x", "edited"), "h")
    parsed.clear()  # the update read its own file (is it the file's only item?)
    conn.delta(None, known)
    assert parsed == ["2@x"]


KHAL_REWRITE = """BEGIN:VCALENDAR\r
PRODID:-//khal//NONSGML v0.11//EN\r
VERSION:2.0\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r
TZNAME:CET\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r
TZNAME:CEST\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
DTEND;TZID=Europe/Berlin:20260302T100000\r
SUMMARY:Review\r
DTSTART;TZID=Europe/Berlin:20260302T090000\r
DTSTAMP:20310101T000000Z\r
UID:a@x\r
SEQUENCE:0\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_external_rewrite_is_changed_but_fingerprint_equal(conn: VdirConnector, folder: Path) -> None:
    res = conn.create(ev("a@x"), "h")
    known = {res.remote_id: res.remote_version}
    before = (folder / res.remote_id).read_text()
    tmp = folder / ".khal-tmp"
    tmp.write_text(KHAL_REWRITE, newline="")
    os.replace(tmp, folder / res.remote_id)
    assert (folder / res.remote_id).read_text() != before
    delta = conn.delta(None, known)
    [changed] = delta.changed
    assert changed.remote_version != res.remote_version
    assert changed.item is not None
    assert fingerprint(changed.item) == fingerprint(ev("a@x"))


def test_stale_version_after_external_rewrite(conn: VdirConnector, folder: Path) -> None:
    res = conn.create(ev("a@x"), "h")
    (folder / res.remote_id).write_text(to_ics(ev("a@x", "user")))  # in place, like vim
    with pytest.raises(PreconditionFailed):
        conn.delete(res.remote_id, res.remote_version)
    assert (folder / res.remote_id).exists()


# --- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "bad_key"),
    [
        ({}, "path"),
        ({"path": ""}, "path"),
        ({"path": "/tmp/x", "colour": "red"}, "colour"),
        ({"path": "/tmp/x", "create": "yes"}, "create"),
        ({"path": "/tmp/x", "extension": "ics"}, "extension"),
        ({"path": "/tmp/x", "extension": "./x"}, "extension"),
    ],
)
def test_bad_config_names_the_key(config: dict[str, object], bad_key: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_config("vdir", config)
    assert err.value.fields["key"] == bad_key


def test_open_through_the_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = validate_config("vdir", {"path": "cal", "extension": ".ICS"})
    assert config == {"path": str(tmp_path / "cal"), "create": True, "extension": ".ICS"}
    conn = open_connector("vdir", {"path": "cal", "extension": ".ICS"})
    assert isinstance(conn, VdirConnector)
    assert not (tmp_path / "cal").exists()  # opening does no I/O
    conn.delta(None, {})
    res = conn.create(ev("a@x"), "h")
    assert res.remote_id == "a@x.ICS"
    assert conn.capabilities.unsupported_fields == frozenset()
