"""Issue 13 item 1: a vdir spoke never follows a link, and quarantine keeps no raw secrets.

Through a real sync run (SyncCycle, SQLite store, the vdir connector on a tmp folder, a
memory spoke beside it): a symlink or hard link in the synced folder to a file outside it
is reported as such and its target is neither imported nor copied to other spokes; a target
holding a secret (the server's key, its environment) never reaches the database, whose file
is searched byte by byte afterwards; a large malformed file leaves only a bounded excerpt.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from cirahub.connectors.vdir import VdirConnector
from cirahub.core.ical import serialize_calendar
from cirahub.store import Store
from cirahub.store.excerpt import MAX_CHARS
from tests.sync.harness import Loop, event

KEY = Fernet.generate_key()
TOKEN = "tok3n-" + "Zq9" * 12


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Loop, Path, Path]]:
    data, folder, outside = tmp_path / "data", tmp_path / "synced", tmp_path / "elsewhere"
    for d in (data, folder, outside):
        d.mkdir()
    store = Store.open(f"sqlite:///{data}/cirahub.db", secret_key=Fernet.generate_key(),
                       data_dir=data)
    loop = Loop(store)
    yield loop, folder, outside
    store.close()


def _db_bytes(loop: Loop) -> bytes:
    db = Path(loop.store.sqlite_file)
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_regression_vdir_links_are_not_followed_and_secrets_not_stored(
        world: tuple[Loop, Path, Path]) -> None:
    loop, folder, outside = world
    (outside / "secret.key").write_bytes(KEY + b"\n")
    (outside / "private.ics").write_text(serialize_calendar([event("outside@x", "Outside")]))
    (outside / "hard.ics").write_text(serialize_calendar([event("hard@x", "Hard")]))
    (folder / "own.ics").write_text(serialize_calendar([event("own@x", "Own")]))
    os.symlink(outside / "private.ics", folder / "private.ics")
    os.symlink(outside / "secret.key", folder / "key.ics")
    os.symlink("/proc/self/environ", folder / "environ.ics")
    os.link(outside / "hard.ics", folder / "hard.ics")
    (folder / "junk.ics").write_text(f"password={TOKEN}\nnot a calendar\n")
    big = "BEGIN:VCALENDAR\r\n" + "".join(f"X-FILL-{n}:{TOKEN}\r\n" for n in range(4000))
    (folder / "big.ics").write_text(big)
    loop.add("vdir", VdirConnector(folder), kind="vdir", config={"path": str(folder)})
    loop.add_memory("mirror")

    runs = loop.sync_all(rounds=2)
    assert all(run.ok for run in runs), [run.to_dict() for run in runs]
    assert set(loop.hub_items()) == {"own@x"}  # nothing from outside the folder
    assert {e.item.uid for e in loop.spokes["mirror"].calendar.entries().values()  # type: ignore[union-attr]
            if e.item} == {"own@x"}

    rows = {q.remote_id: q for q in loop.store.list_quarantine(loop.spokes["vdir"].id)}
    assert {r: rows[r].reason for r in ("private.ics", "key.ics", "environ.ics")} == dict.fromkeys(
        ("private.ics", "key.ics", "environ.ics"), "symlink, not followed")
    assert rows["hard.ics"].reason == "hard link, not followed"
    assert "outside the folder" in rows["hard.ics"].detail
    assert all(rows[r].raw is None for r in ("private.ics", "key.ics", "environ.ics", "hard.ics"))
    assert rows["junk.ics"].raw is None and "not kept" in rows["junk.ics"].detail
    assert rows["big.ics"].raw is not None and len(rows["big.ics"].raw) <= MAX_CHARS + 100
    stored = _db_bytes(loop)
    for secret in (KEY, TOKEN.encode(), os.environ.get("PATH", "").encode() or b"\x00\x01"):
        assert secret not in stored


def test_regression_vdir_link_replacing_a_synced_file_deletes_nothing(
        world: tuple[Loop, Path, Path]) -> None:
    loop, folder, outside = world
    (folder / "a.ics").write_text(serialize_calendar([event("a@x", "A")]))
    loop.add("vdir", VdirConnector(folder), kind="vdir", config={"path": str(folder)})
    assert loop.sync("vdir").ok and set(loop.hub_items()) == {"a@x"}
    (outside / "a.ics").write_text(serialize_calendar([event("a@x", "A moved out")]))
    (folder / "a.ics").unlink()
    os.symlink(outside / "a.ics", folder / "a.ics")
    run = loop.sync("vdir")
    assert run.ok, run.to_dict()
    assert loop.hub_items()["a@x"].get("summary") == "A"  # neither read nor deleted
    (row,) = loop.store.list_quarantine(loop.spokes["vdir"].id)
    assert row.remote_id == "a.ics" and row.reason == "symlink, not followed"
