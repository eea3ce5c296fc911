"""Fixtures shared by the hardening tests (one definition each; the modules used to repeat them).

- ``hostile`` — a :class:`HostileServer` on a free loopback port (a fixed body, an endless
  body, a never-ending sign-in challenge), stopped after the test. ``feed`` is the same server
  in its role of an ics feed (a module may override it to set a body first).
- ``silent`` — a :class:`SilentServer`: accepts connections and never answers (a hanging feed).
- ``server`` — one real ``cirahubctl server`` for the package (embedded Ray, SQLite, a free
  loopback port, no HTTP side, at most :data:`MAX_STREAMS` open streams): its start-up is paid
  once; each test makes hubs of its own names.
- ``loop`` — a :class:`tests.sync.harness.Loop` on a real migrated SQLite store in ``tmp_path``
  (a fresh key), closed after the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from cirahub.store import Store
from tests.control.conftest import Server, start_server, stop_server
from tests.sync.harness import Loop

from .servers import HostileServer, SilentServer, hostile_server

#: the package server's --max-streams (test_streams opens up to it)
MAX_STREAMS = 110


@pytest.fixture(scope="package")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("hardening-ctl"), "--http-listen", "off",
                       "--max-streams", str(MAX_STREAMS))
    yield srv
    stop_server(srv.proc)


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with hostile_server() as srv:
        yield srv


@pytest.fixture
def feed(hostile: HostileServer) -> HostileServer:
    return hostile


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    srv = SilentServer()
    yield srv
    srv.close()


@pytest.fixture
def loop(tmp_path: Path) -> Iterator[Loop]:
    store = Store.open(f"sqlite:///{tmp_path}/cirahub.db", secret_key=Fernet.generate_key(),
                       data_dir=tmp_path)
    yield Loop(store)
    store.close()
