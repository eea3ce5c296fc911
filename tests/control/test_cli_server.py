"""The server process as an operator meets it: one server per port and per data folder, a
private data folder, a store whose file is whole after a clean stop, and online backups."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from cirahub.control.server import remove_address, write_address

from .conftest import CTL, Server, start_server, stop_server

pytestmark = pytest.mark.ray


def _second_server(data_dir: Path, listen: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIRAHUB_", "RAY_ADDRESS"))}
    return subprocess.run([CTL, "server", "--data-dir", str(data_dir), "--listen", listen],
                          capture_output=True, text=True, env=env, timeout=120)


def test_regression_second_server_on_the_same_port_is_refused(server: Server,
                                                              tmp_path: Path) -> None:
    """gRPC's SO_REUSEPORT let a second server bind the same port silently; the kernel then
    split the clients between the two (random "wrong token" errors)."""
    done = _second_server(tmp_path / "other", server.address)
    assert done.returncode == 9, done.stdout + done.stderr
    assert "address in use" in done.stderr and "Traceback" not in done.stderr
    assert server.ctl("hub", "list").code == 0  # the first one still answers every call


def test_regression_second_server_on_the_same_data_folder_is_refused(server: Server) -> None:
    """Two servers on one data folder ran against one database; the second must exit naming
    the running one."""
    done = _second_server(server.data_dir, "127.0.0.1:0")
    assert done.returncode == 9, done.stdout + done.stderr
    assert f"pid {server.proc.pid}" in done.stderr, done.stderr
    assert server.address in done.stderr
    assert (server.data_dir / "control.address").read_text().split()[0] == server.address


def test_a_stopping_server_leaves_another_servers_address(tmp_path: Path) -> None:
    path = write_address(tmp_path, "127.0.0.1", 7001, tls=False)
    mine = path.read_text()
    write_address(tmp_path, "127.0.0.1", 7002, tls=False)  # another server published since
    remove_address(path, mine)
    assert path.read_text().startswith("127.0.0.1:7002")
    remove_address(path, path.read_text())
    assert not path.exists()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_regression_data_folder_is_private(server: Server) -> None:
    """cirahub.db was 0644 in a 0755 folder: calendars readable by every local user."""
    assert server.ctl("hub", "create", "private").code == 0
    assert _mode(server.data_dir) == 0o700
    files = [p for p in server.data_dir.iterdir() if p.is_file()]
    names = {p.name for p in files}
    assert {"cirahub.db", "cirahub.db-wal", "cirahub.db-shm", "secret.key",
            "control.token", "control.address", "server.lock"} <= names
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}


def test_regression_backup_is_a_consistent_private_copy(server: Server, tmp_path: Path) -> None:
    """Copying cirahub.db backed up nothing while the data sat in the -wal file; `backup` makes
    a consistent online copy, private like the store."""
    assert server.ctl("hub", "create", "saved").code == 0
    target = tmp_path / "backup.db"
    r = server.ctl("backup", str(target))
    assert r.code == 0, r.text
    assert "secret key" in r.out and "restore" in r.out.lower()
    assert _mode(target) == 0o600
    with sqlite3.connect(target) as db:
        assert "saved" in {row[0] for row in db.execute("SELECT name FROM hubs")}
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    again = server.ctl("backup", str(target))
    assert again.code == 6 and "never overwrites" in again.err, again.text
    assert server.ctl("backup", str(tmp_path / "no" / "such" / "b.db")).code == 2


def test_regression_clean_stop_leaves_the_whole_store_in_the_db_file(tmp_path: Path) -> None:
    """After a clean stop the data was still all in cirahub.db-wal: copying cirahub.db alone
    backed up nothing. The store is checkpointed on a clean stop."""
    srv = start_server(tmp_path)
    try:
        assert srv.ctl("hub", "create", "kept").code == 0
    finally:
        stop_server(srv.proc)
    assert srv.proc.returncode == 0, srv.log_text()
    wal = srv.data_dir / "cirahub.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    copy = tmp_path / "copy.db"
    shutil.copyfile(srv.data_dir / "cirahub.db", copy)  # the file alone, as a user would
    with sqlite3.connect(copy) as db:
        assert {row[0] for row in db.execute("SELECT name FROM hubs")} == {"kept"}
    assert not (srv.data_dir / "control.address").exists()


def test_regression_the_server_logs_every_run(server: Server, tmp_path: Path) -> None:
    """The server's log held only "listening" and "stopping": runs went to Ray worker files
    under /tmp, by spoke UUID. Now each run is one line of the server's own log, by name."""
    folder = tmp_path / "a"
    folder.mkdir()
    (folder / "x.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:x@log\r\n"
        "DTSTAMP:20300101T000000Z\r\nDTSTART:20300601T100000Z\r\nDTEND:20300601T110000Z\r\n"
        "SUMMARY:Logged\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    (folder / "bad.ics").write_text("not a calendar\n")
    assert server.ctl("hub", "create", "logged").code == 0
    r = server.ctl("spoke", "add", "logged", "alpha", "--kind", "vdir", "--path", str(folder))
    assert r.code == 0, r.text
    assert server.ctl("sync", "logged").code == 0
    assert server.ctl("spoke", "options", "logged", "alpha", "--days-back", "30").code == 0
    stopping = server.ctl("hub", "list")  # a call after the sync, so its lines are flushed
    assert stopping.code == 0

    def lines(what: str) -> list[str]:
        return [ln for ln in server.log_text().splitlines() if what in ln]

    import time
    deadline = time.monotonic() + 30
    while not any("trigger=manual" in ln for ln in lines("hub=logged spoke=alpha")):
        assert time.monotonic() < deadline, server.log_text()[-3000:]
        time.sleep(0.2)  # the log line follows the run's event through the runtime
    run = next(ln for ln in lines("run finished") if "spoke=alpha" in ln and "manual" in ln)
    assert "status=ok" in run and "pulled=" in run and "duration=" in run
    assert lines("items quarantined hub=logged spoke=alpha items=1")
    assert lines("spoke added hub=logged spoke=alpha kind=vdir")
    assert lines("spoke options changed hub=logged spoke=alpha options=days_back")


def test_json_log_lines() -> None:
    import json
    import logging

    from cirahub.control.runlog import JsonFormatter, KeyValueFormatter

    record = logging.LogRecord("cirahub.runs", logging.INFO, __file__, 1, "run finished",
                               None, None)
    record.fields = {"hub": "team", "spoke": "a b", "status": "ok"}
    data = json.loads(JsonFormatter().format(record))
    assert (data["msg"], data["hub"], data["spoke"], data["level"]) == (
        "run finished", "team", "a b", "INFO")
    assert KeyValueFormatter().format(record).endswith('hub=team spoke="a b" status=ok')
