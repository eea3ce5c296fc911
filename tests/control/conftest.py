"""A real ``cirahubctl server`` subprocess for the package (embedded Ray, SQLite in a tmp data
folder, a free loopback port) and a helper that runs the real ``cirahubctl`` against it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from cirahub.control.auth import HEADER
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from cirahub.proto.cirahub.control.v1 import control_pb2_grpc as pb_grpc

CTL = str(Path(sys.executable).with_name("cirahubctl"))
STARTUP_TIMEOUT = 180.0


def as_at_a_terminal() -> None:
    """``preexec_fn`` for a ``cirahubctl`` a test will Ctrl-C: Ctrl-C reaches it as it reaches
    a command typed at a terminal. A suite started in the background (``cmd &``, nohup) hands
    its children SIGINT ignored, and Python then never raises KeyboardInterrupt: the command
    went on as if no Ctrl-C had come (how both Ctrl-C tests failed in such a run)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    address: str
    log: Path

    def ctl(self, *args: str, env: Mapping[str, str] | None = None, stdin: str = "") -> Result:
        """Runs ``cirahubctl ARGS`` finding the server through the data folder only."""
        full = {k: v for k, v in os.environ.items() if not k.startswith("CIRAHUB_")}
        full["CIRAHUB_DATA_DIR"] = str(self.data_dir)
        full.update(env or {})
        done = subprocess.run([CTL, *args], input=stdin, capture_output=True, text=True,
                              env=full, timeout=300)
        return Result(done.returncode, done.stdout, done.stderr)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(base: Path, *extra: str) -> Server:
    data = base / "data"
    log = base / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIRAHUB_", "RAY_ADDRESS"))}
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [CTL, "server", "--data-dir", str(data), "--listen", "127.0.0.1:0",
             "--log-level", "DEBUG", *extra],
            stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    address_file = data / "control.address"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not address_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError("cirahubctl server did not start:\n" + log.read_text())
        time.sleep(0.2)
    return Server(proc, data, address_file.read_text().split()[0], log)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only this server's tree
            proc.wait(10)


def remove_every_spoke(server: Server) -> None:
    """Detaches every spoke of every hub (over the API, one channel): their runs stop, so
    nothing a module left behind (spokes on servers and folders that are gone) goes on failing
    and changing states while the next module runs."""
    token = (server.data_dir / "control.token").read_text().strip()
    meta = ((HEADER, f"Bearer {token}"),)
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.ControlServiceStub(channel)
        spokes, page = [], ""
        while True:
            answer = stub.ListSpokes(pb.ListSpokesRequest(page_size=100, page_token=page),
                                     metadata=meta, timeout=120)
            spokes += [(s.hub, s.name) for s in answer.spokes]
            page = answer.next_page_token
            if not page:
                break
        for hub, name in spokes:
            stub.RemoveSpoke(pb.SpokeRef(hub=hub, spoke=name), metadata=meta, timeout=120)


@pytest.fixture(scope="package")
def package_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the package: its start-up (an embedded Ray) is paid once."""
    srv = start_server(tmp_path_factory.mktemp("ctl-server"))
    yield srv
    stop_server(srv.proc)


@pytest.fixture(scope="module")
def server(package_server: Server) -> Iterator[Server]:
    """The package's server for a module: each test makes hubs of its own names, and the
    module's spokes are removed when it ends (the next module sees none of them run). A
    module that needs a server of its own (other flags or environment, or hub names the docs
    fix) defines its own ``server``."""
    yield package_server
    if package_server.proc.poll() is None:
        remove_every_spoke(package_server)
