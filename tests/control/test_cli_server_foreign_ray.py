"""An embedded server starts its own Ray, whatever other Ray runs on the machine.

``ray.init()`` without an address joins a Ray instance it finds on the machine (another
program's ``ray start``, or another embedded cirahub): the server then refused to start
("When connecting to an existing cluster, object_store_memory must not be provided"), and with
two such instances "Found multiple active Ray instances".
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import start_server, stop_server

pytestmark = pytest.mark.ray

RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def foreign_ray(tmp_path: Path) -> Iterator[str]:
    """``ray start --head --block`` in its own session: another program's Ray on this machine
    (it registers itself as the machine's current cluster, which ``ray.init()`` would join)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIRAHUB_", "RAY_"))}
    log = tmp_path / "foreign-ray.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [RAY, "start", "--head", "--block", "--node-ip-address=127.0.0.1",
             f"--port={port}", "--num-cpus=1", "--include-dashboard=false",
             "--disable-usage-stats"],
            stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while b"Ray runtime started" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise RuntimeError("ray start did not start:\n" + log.read_text(errors="replace"))
        time.sleep(0.2)
    try:
        yield address
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_regression_embedded_server_does_not_join_a_foreign_ray(
        foreign_ray: str, tmp_path: Path) -> None:
    (tmp_path / "srv").mkdir()
    srv = start_server(tmp_path / "srv")
    try:
        assert srv.ctl("hub", "create", "own").code == 0
        folder = tmp_path / "cal"
        r = srv.ctl("spoke", "add", "own", "laptop", "--kind", "vdir", "--path", str(folder))
        assert r.code == 0, r.text
        assert srv.ctl("sync", "own").code == 0
        # the foreign Ray is untouched by our server's runs (still answering on its port)
        host, port = foreign_ray.rsplit(":", 1)
        socket.create_connection((host, int(port)), timeout=5).close()
    finally:
        stop_server(srv.proc)
