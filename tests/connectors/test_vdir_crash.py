"""Crash safety of the vdir write path (one durable barrier per batch, issue 15): a sync process
killed in the middle of a batch of writes leaves no torn file, and the next run re-converges
the links — every item once, no duplicate in the hub, nothing pulled or pushed after that.

The kill is a real SIGKILL of a real sync process, at a fixed point: in the middle of the
second chunk of writes (the vdir kind's ``write_chunk``, whose links are not committed yet),
so exactly the first chunk's links are in the store: a crash loses at most one chunk's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from cryptography.fernet import Fernet

from cirahub.actors.cycle import LocalMerger, SyncCycle
from cirahub.connectors.kinds import get_kind
from cirahub.connectors.vdir import VdirConnector
from cirahub.core.ical import parse_item, to_ics
from cirahub.core.item import Item
from cirahub.store.repository import Store

CHUNK = get_kind("vdir").write_chunk or 0
N, KILL_AFTER = CHUNK + CHUNK // 2, CHUNK + CHUNK // 4

_SYNC_AND_DIE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import cirahub.connectors.vdir_write as vdir_write
    from cirahub.actors.cycle import LocalMerger, SyncCycle
    from cirahub.connectors.vdir import VdirConnector
    from cirahub.store.repository import Store

    url, key, data, src, dst, src_id, dst_id, kill_after = sys.argv[1:]
    store = Store.open(url, secret_key=key.encode(), data_dir=Path(data))
    merger = LocalMerger(store)
    assert SyncCycle(store, VdirConnector(src), src_id, merger).run("test").ok
    placed = 0
    real = vdir_write.place_new

    def place_then_die(tmp, target):
        global placed
        real(tmp, target)
        placed += 1
        if placed == int(kill_after):
            os.kill(os.getpid(), signal.SIGKILL)

    vdir_write.place_new = place_then_die
    SyncCycle(store, VdirConnector(dst), dst_id, merger).run("test")
    raise SystemExit("not killed")
""")


def _event(i: int) -> Item:
    return Item(f"crash-{i:04d}@example.com", {
        "summary": f"Event {i}",
        "start": {"utc": f"2027-01-{1 + i % 28:02d}T09:00:00Z", "tz": "Europe/Berlin"},
        "end": {"utc": f"2027-01-{1 + i % 28:02d}T10:00:00Z", "tz": "Europe/Berlin"},
    })


def _items(folder: Path) -> dict[str, Item]:
    """UID → item of every item file (fails on a file that is not a whole event)."""
    out: dict[str, Item] = {}
    for path in folder.glob("*.ics"):
        item = parse_item(path.read_text())
        assert item.uid not in out, f"{item.uid} twice"
        out[item.uid] = item
    return out


def test_kill_mid_batch_leaves_no_torn_file_and_links_reconverge(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    for i in range(N):
        (src / f"crash-{i:04d}@example.com.ics").write_text(to_ics(_event(i)))
    key = Fernet.generate_key()
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = Store.open(url, secret_key=key, data_dir=tmp_path)
    store.create_hub("h")
    src_id = store.add_spoke("h", "src", "vdir", {"path": str(src)}).id
    dst_id = store.add_spoke("h", "dst", "vdir", {"path": str(dst)}).id

    done = subprocess.run(
        [sys.executable, "-c", _SYNC_AND_DIE, url, key.decode(), str(tmp_path), str(src),
         str(dst), src_id, dst_id, str(KILL_AFTER)],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]

    # No torn file: what is there is whole and means what the source means.
    expected = {i.uid: i for i in map(_event, range(N))}
    found = _items(dst)
    assert len(found) == KILL_AFTER
    assert all(found[uid] == expected[uid] for uid in found)
    # the first chunk's links were committed, the killed chunk's lost
    assert store.count_links(dst_id) == CHUNK

    # The next run re-links what was placed and writes the rest.
    merger = LocalMerger(store)
    cycle = SyncCycle(store, VdirConnector(dst), dst_id, merger)
    assert cycle.run("test").ok
    assert _items(dst) == expected
    assert store.count_links(dst_id) == N
    assert store.count_items(store.get_hub("h").id) == N
    for spoke_id, folder in ((src_id, src), (dst_id, dst)):
        again = SyncCycle(store, VdirConnector(folder), spoke_id, merger).run("test")
        assert again.ok and again.counts.get("pulled", 0) == 0
        assert again.counts.get("pushed", 0) == 0

    # The killed batch's temp files are hidden, and swept once old.
    leftovers = [p for p in dst.iterdir() if p.name.startswith(".cirahub-")]
    assert leftovers
    old = time.time() - 3600
    for p in leftovers:
        os.utime(p, (old, old))
    assert cycle.run("test").ok
    assert not [p for p in dst.iterdir() if p.name.startswith(".cirahub-")]
    assert sorted(p.name for p in dst.iterdir()) == sorted(p.name for p in src.iterdir())
    store.close()
