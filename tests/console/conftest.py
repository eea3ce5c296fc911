"""A real ``cirahubctl server`` with its console on a free loopback port, Radicale, and a real
Chromium (Debian's ``chromium`` package) driven by Playwright with ``executable_path``.

Chromium is never downloaded (``playwright install`` cannot run here): ``.ci/run`` installs
Debian's package when missing; without it these tests fail with a message saying so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.caldav.servers import Radicale
from tests.control.conftest import Server, start_server, stop_server

CHROMIUM_ENV = "CIRAHUB_CHROMIUM"
#: every Playwright wait is bounded by this (ms): CI has 2 cores
TIMEOUT_MS = 30_000


def chromium_path() -> str:
    found = os.environ.get(CHROMIUM_ENV) or shutil.which("chromium")
    if not found:
        pytest.fail("Debian's chromium is not installed (apt-get install -y chromium; .ci/run "
                    f"does it) and {CHROMIUM_ENV} is not set", pytrace=False)
    return found


@dataclass
class Console:
    server: Server
    url: str
    token: str


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    srv = start_server(tmp_path_factory.mktemp("console-server"), "--http-listen",
                       "127.0.0.1:0")
    try:
        url = (srv.data_dir / "console.address").read_text().strip()
        token = (srv.data_dir / "control.token").read_text().strip()
        yield Console(srv, url, token)
    finally:
        stop_server(srv.proc)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    srv = Radicale(tmp_path_factory.mktemp("radicale"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(),
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder
