"""Issue 13 item 11 (connector side): disk errors name their cause and the path.

A real 64 KB tmpfs (root only: skipped elsewhere) under a vdir spoke, written through a real
sync run: when it fills up the run says "no space left on device", when it is remounted
read-only "permission denied on PATH"; the failed writes are kept with their items and
retried, nothing is deleted.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cirahub.connectors.vdir import VdirConnector
from tests.sync.harness import Loop, event


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_regression_full_and_read_only_disk_errors_name_the_cause(loop: Loop,
                                                                   small_disk: Path) -> None:
    source = loop.add_memory("source")
    assert source.calendar is not None
    for n in range(60):  # ~2 KB each: more than 64 KB in all
        source.calendar.user_create(event(f"e{n}@x", "E" * 2000, day=1 + n % 28))
    folder = small_disk / "cal"
    folder.mkdir()
    loop.add("vdir", VdirConnector(folder), kind="vdir", config={"path": str(folder)})
    assert loop.sync("source").ok

    full = loop.sync("vdir")
    assert not full.ok and full.error is not None
    assert "no space left on device" in full.error["message"], full.error
    assert str(folder) in full.error["message"]
    rows = loop.store.list_quarantine(loop.spokes["vdir"].id)
    assert rows and all("no space left on device" in r.detail for r in rows)
    assert len(loop.hub_items()) == 60  # nothing lost

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    source.calendar.user_create(event("late@x", "Late"))
    assert loop.sync("source").ok
    frozen = loop.sync("vdir")
    assert not frozen.ok and frozen.error is not None
    assert f"permission denied on {folder}" in frozen.error["message"], frozen.error
    assert "PermissionError" not in str(frozen.to_dict())
    assert len(loop.hub_items()) == 61
