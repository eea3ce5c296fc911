"""Issue 13 item 10: a run whose process is gone is closed as ``interrupted`` (not "running"
forever), actors of a gone server are fenced, and leftover vdir temp files are removed.

The server test kills a real ``cirahubctl server`` with SIGKILL in the middle of a run (a feed
that never answers keeps the run going) and starts a new one on the same data folder."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cirahub.connectors.vdir import VdirConnector
from cirahub.connectors.vdir_fs import STALE_TEMP_SECONDS
from cirahub.core.errors import WriterFenced
from cirahub.store import Store
from tests.control.conftest import CTL, Server, start_server, stop_server
from tests.hardening.servers import SilentServer

WAIT = 120.0


def _runs(server: Server) -> list[dict[str, object]]:
    r = server.ctl("runs", "--json", "--limit", "50")
    assert r.code == 0, r.text
    return list(json.loads(r.out))


def _wait_for(what: str, check: object, timeout: float = WAIT) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()  # type: ignore[operator]
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def _hanging_run(server: Server, hub: str, silent: SilentServer) -> Iterator[str]:
    """Hub ``hub`` with one feed spoke on ``silent`` (which never answers), and a
    ``cirahubctl sync`` started on it: yields the id of its run once it is "running" (the
    sync client is killed on the way out; the server's run goes on)."""
    assert server.ctl("hub", "create", hub).code == 0
    r = server.ctl("spoke", "add", hub, "feed", "--kind", "ics-url", "--url",
                   f"http://127.0.0.1:{silent.port}/cal.ics", "--no-check")
    assert r.code == 0, r.text
    sync = subprocess.Popen([CTL, "sync", hub], env={**os.environ,
                            "CIRAHUB_DATA_DIR": str(server.data_dir)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        running = _wait_for("a running run", lambda: [x for x in _runs(server)
                                                      if x.get("status") == "running"])
        yield str(running[0]["id"])  # type: ignore[index]
    finally:
        sync.kill()
        sync.wait(30)


def test_regression_killed_server_leaves_no_run_running(tmp_path: Path,
                                                        silent: SilentServer) -> None:
    base = tmp_path / "srv"
    base.mkdir()
    first = start_server(base, "--http-listen", "off")
    killed = False
    try:
        with _hanging_run(first, "k9", silent) as run_id:
            os.kill(first.proc.pid, signal.SIGKILL)  # the server only, mid-run
            first.proc.wait(30)
            killed = True
        (first.data_dir / "control.address").unlink()  # the dead server's; wait for the new
        second = start_server(base, "--http-listen", "off")
        try:
            runs = {x["id"]: x for x in _runs(second)}
            assert runs[run_id]["status"] == "interrupted", runs[run_id]
            assert "stopped before the run ended" in json.dumps(runs[run_id])
            assert runs[run_id].get("finished_at")
            status = second.ctl("status", "k9")
            assert status.code == 0, status.text
        finally:
            stop_server(second.proc)
    finally:
        if not killed:
            stop_server(first.proc)
        with contextlib.suppress(ProcessLookupError):  # what the killed server left behind
            os.killpg(first.proc.pid, signal.SIGKILL)


def test_regression_sigterm_mid_run_leaves_no_run_running(tmp_path: Path,
                                                          silent: SilentServer) -> None:
    srv = start_server(tmp_path, "--http-listen", "off")
    try:
        with _hanging_run(srv, "term", silent) as run_id:
            pass
    finally:
        stop_server(srv.proc)  # SIGTERM, mid-run
    store = Store.open(None, data_dir=srv.data_dir)
    try:
        run = store.get_run(run_id)
    finally:
        store.close()
    assert run.status == "interrupted" and run.finished_at is not None, run
    assert "the server stopped during the run" in str(run.error)


def test_regression_actors_of_an_older_server_are_fenced(tmp_path: Path) -> None:
    store = Store.open(None, data_dir=tmp_path)
    old = store.take_runtime_lease()
    store.check_runtime_lease(old)  # the owner writes
    new = store.take_runtime_lease()  # a newer server started
    assert new > old
    with pytest.raises(WriterFenced) as info:
        store.check_runtime_lease(old)
    assert info.value.fields.get("lease") is True
    store.check_runtime_lease(new)


def test_regression_stale_vdir_temp_files_removed(tmp_path: Path) -> None:
    folder = tmp_path / "cal"
    folder.mkdir()
    stale = folder / ".cirahub-abc123.tmp"
    fresh = folder / ".cirahub-def456.tmp"
    other = folder / ".hidden.tmp"
    for path in (stale, fresh, other):
        path.write_text("BEGIN:VCALENDAR\n")
    old = time.time() - STALE_TEMP_SECONDS - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    conn = VdirConnector(folder)
    conn.delta(None, {})
    assert not stale.exists()  # a leftover of a run that never ended
    assert fresh.exists() and other.exists()  # a write in progress; not ours
