"""The compose head's way of running the server, on a real `cirahubctl server` (embedded Ray,
SQLite, a free loopback port): started by `sh -c "... && exec cirahubctl server ..."`, the health
probe of docker/healthcheck.py sees it SERVING, a SIGTERM sent to the shell's pid (what Docker
sends to the container's main process) stops the server itself, and the probe then fails."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.control.conftest import CTL, STARTUP_TIMEOUT, stop_server
from tests.deploy.conftest import DOCKER

PROBE = str(DOCKER / "healthcheck.py")


def _probe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, PROBE, *args], capture_output=True, text=True,
                          timeout=60)


def test_probe_and_sigterm_through_exec(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIRAHUB_", "RAY_ADDRESS"))}
    script = (f"true && exec {shlex.quote(CTL)} server --data-dir {shlex.quote(str(data))} "
              "--listen 127.0.0.1:0 --http-listen off")
    log = tmp_path / "server.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(["sh", "-c", script], stdout=fh, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    try:
        # cirahubctl's "…; data folder DIR" line comes after the server published its address
        # and installed its SIGTERM handler (the log's own "listening" line comes before)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while f"; data folder {data}" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        address = (data / "control.address").read_text().split()[0]
        healthy = _probe("control", address)
        assert healthy.returncode == 0, healthy.stderr
        # exec: the shell's pid is the server's pid, so the signal reaches the server
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        assert code == 0, log.read_text()  # a clean stop, as systemd and Docker expect
        down = _probe("control", address)
        assert down.returncode == 1 and "UNAVAILABLE" in down.stderr
    finally:
        stop_server(proc)


def test_raylet_probe_fails_clearly_without_a_raylet() -> None:
    # port 1 on loopback: nothing listens there
    result = _probe("raylet", "1")
    assert result.returncode == 1 and "raylet health" in result.stderr


def test_probe_usage_error() -> None:
    assert _probe("bogus").returncode == 2
