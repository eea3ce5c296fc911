"""`cirahubctl sync` through a real server: it returns only once the hub converged (even when
a spoke's automatic first run is still merging as it starts), counts per item, and Ctrl-C
stops the waiting, not the runs."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import CTL, Server, as_at_a_terminal
from .test_cli_e2e import event, js, summaries

pytestmark = pytest.mark.ray

WAIT = 120.0


class Feed:
    """An iCalendar feed on loopback whose first answer trickles until :meth:`release`: the
    spoke's first run is held inside its pull for as long as the test needs. A byte every
    second keeps the client's read timeout (30 s between bytes) from firing however slow the
    machine: a held answer that timed out was retried, answered at once, and the `sync` the
    test meant to interrupt had ended."""

    def __init__(self, body: str) -> None:
        self.body = body.encode()
        self.requested = threading.Event()
        self.released = threading.Event()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                first = not feed.requested.is_set()
                feed.requested.set()
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(feed.body)))
                self.end_headers()
                self.wfile.flush()
                sent = 0
                while first and not feed.released.wait(1.0) and sent < len(feed.body) - 1:
                    self.wfile.write(feed.body[sent:sent + 1])
                    self.wfile.flush()
                    sent += 1
                if first:
                    feed.released.wait(WAIT)
                self.wfile.write(feed.body[sent:])

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed.ics"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def release(self) -> None:
        self.released.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


def _calendar(n: int) -> str:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:f{i}@feed\r\nDTSTAMP:20300101T000000Z\r\n"
        f"DTSTART:203007{i + 1:02d}T100000Z\r\nDTEND:203007{i + 1:02d}T110000Z\r\n"
        f"SUMMARY:Feed {i}\r\nEND:VEVENT\r\n" for i in range(n))
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" + events + "END:VCALENDAR\r\n"


@pytest.fixture
def feed() -> Iterator[Feed]:
    f = Feed(_calendar(4))
    yield f
    f.stop()


def _until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    """Waits for an observable condition (never for a guessed time)."""
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _sync(server: Server, *args: str) -> subprocess.Popen[str]:
    env = {"CIRAHUB_DATA_DIR": str(server.data_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.Popen([CTL, "sync", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=as_at_a_terminal)


def _manual_run_done(server: Server, hub: str, spoke: str) -> bool:
    runs = js(server, "runs", hub, "--spoke", spoke)
    return any(r["trigger"] == "manual" and r["status"] == "ok" for r in runs)


def _sync_with_feed_held(server: Server, hub: str, folder: Path,
                         feed: Feed) -> subprocess.Popen[str]:
    """A hub of a vdir spoke ``b`` and the feed, whose automatic first run is held in its
    pull; `sync HUB --json` started, returned once the sync's own run of b is done."""
    assert server.ctl("hub", "create", hub).code == 0
    r = server.ctl("spoke", "add", hub, "b", "--kind", "vdir", "--path", str(folder))
    assert r.code == 0, r.text
    r = server.ctl("spoke", "add", hub, "feed", "--kind", "ics-url", "--url", feed.url,
                   "--no-check")
    assert r.code == 0, r.text
    assert feed.requested.wait(WAIT), "the feed's first run never started"
    proc = _sync(server, hub, "--json")
    _until(lambda: _manual_run_done(server, hub, "b"), "the sync's run of b")
    return proc


def test_regression_sync_waits_for_a_first_run_still_merging(server: Server, tmp_path: Path,
                                                             feed: Feed) -> None:
    """The feed's automatic first run (started by `spoke add`) is still in its pull when
    `sync` starts: the command's own runs bring nothing new, and it used to stop after that
    round with exit 0 and an empty folder. It must run until the folder has the feed's items."""
    folder = tmp_path / "b"

    proc = _sync_with_feed_held(server, "rounds", folder, feed)
    assert summaries(folder) == {}  # b ran while the hub was still empty
    feed.release()
    out, err = proc.communicate(timeout=WAIT * 2)
    assert proc.returncode == 0, out + err
    summary = json.loads(out.splitlines()[-1])["summary"]
    # a second round, or the fan-out of the feed's merge, brought them: either way the
    # command returned only once b held them
    assert summary["converged"] and summary["rounds"] >= 1, summary
    assert len(summaries(folder)) == 4


def test_regression_sync_counts_are_per_item(server: Server, tmp_path: Path) -> None:
    """4 unreadable files and one event: the summary used to say 8 quarantined (4 per round
    over 2 rounds). Counts are per item, whatever the number of rounds."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    (a / "good.ics").write_text(event("good@count", "Good"))
    for i in range(4):
        (a / f"bad{i}.ics").write_text(f"this is not an iCalendar file {i}\n")
    assert server.ctl("hub", "create", "counting").code == 0
    for name, path in (("a", a), ("b", b)):
        r = server.ctl("spoke", "add", "counting", name, "--kind", "vdir", "--path", str(path))
        assert r.code == 0, r.text
    r = server.ctl("sync", "counting", "--json")
    summary = json.loads(r.out.splitlines()[-1])["summary"]
    results = {x["spoke"]: x for x in summary["results"]}
    assert results["a"]["quarantined"] == 4, summary
    assert results["a"]["pulled"] <= 5, summary
    # b may already have its copy from the fan-out of a's automatic first run (spoke add):
    # the sync then pushes nothing more. What must hold is one copy, counted at most once.
    assert results["b"]["pushed"] <= 1, summary
    assert summaries(b) == {"good@count": "Good"}
    human = server.ctl("sync", "counting")
    row = next(line for line in human.out.splitlines() if line.startswith("counting  a "))
    assert row.split()[7] == "4", human.out


def test_ctrl_c_stops_waiting_not_the_runs(server: Server, tmp_path: Path, feed: Feed) -> None:
    """Ctrl-C during `sync` exits 130 (not 2, a usage error) and says the runs go on."""
    assert server.ctl("hub", "create", "waiting").code == 0
    r = server.ctl("spoke", "add", "waiting", "quick", "--kind", "vdir", "--path",
                   str(tmp_path / "quick"))
    assert r.code == 0, r.text
    r = server.ctl("spoke", "add", "waiting", "feed", "--kind", "ics-url", "--url", feed.url,
                   "--no-check")
    assert r.code == 0, r.text
    assert feed.requested.wait(WAIT)
    proc = _sync(server, "waiting")
    # the quick spoke's run of this sync is done: the command now waits for the held feed
    _until(lambda: _manual_run_done(server, "waiting", "quick"), "the sync's run of quick")
    assert proc.poll() is None
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=WAIT)
    assert proc.returncode == 130, out + err
    assert "runs go on in the server" in err and "Traceback" not in err
    feed.release()


def test_regression_a_later_round_runs_only_the_spokes_behind(server: Server, tmp_path: Path,
                                                              feed: Feed) -> None:
    """A second round used to run every spoke of the hub again (each listed once more, each
    with its own run record) though only the spokes still lacking hub versions needed it:
    the feed, whose merge is what the others lack, is up to date after its round-1 run."""
    folder = tmp_path / "b"
    proc = _sync_with_feed_held(server, "behind", folder, feed)
    feed.release()
    out, err = proc.communicate(timeout=WAIT * 2)
    assert proc.returncode == 0, out + err
    messages = [json.loads(line) for line in out.splitlines()]
    summary = messages[-1]["summary"]
    assert summary["converged"], summary
    ended = [m["progress"]["spoke"] for m in messages[:-1] if m["progress"].get("status")]
    # one run of the feed whatever the number of rounds; b ran once per round
    assert ended.count("feed") == 1, (summary["rounds"], ended)
    assert ended.count("b") == summary["rounds"], (summary["rounds"], ended)
    assert len(summaries(folder)) == 4
