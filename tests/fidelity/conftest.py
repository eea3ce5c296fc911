"""Fixtures for the fidelity harness: the real servers (started only for the paths that run)
and one result cache per session, so each path syncs the whole corpus once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cirahub.store import Store
from tests.caldav.servers import FeedServer, Radicale, Xandikos
from tests.ews_emulator import EwsEmulator

from .runs import EWS_USERS, PathResult, Servers, open_store


class LazyServers(Servers):
    """Starts each server the first time a path asks for it; stops them all at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._started: dict[str, object] = {}

    def _get(self, name: str, start: type) -> object:
        if name not in self._started:
            folder = self.root / name
            folder.mkdir()
            self._started[name] = start(folder) if start is not EwsEmulator else \
                EwsEmulator(dict(EWS_USERS)).start()
        return self._started[name]

    def radicale(self) -> Radicale:
        return self._get("radicale", Radicale)  # type: ignore[return-value]

    def xandikos(self) -> Xandikos:
        return self._get("xandikos", Xandikos)  # type: ignore[return-value]

    def ews(self) -> EwsEmulator:
        return self._get("ews", EwsEmulator)  # type: ignore[return-value]

    def feeds(self) -> FeedServer:
        if "feeds" not in self._started:
            self._started["feeds"] = FeedServer()
        return self._started["feeds"]  # type: ignore[return-value]

    def stop(self) -> None:
        for server in self._started.values():
            server.stop()  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def fidelity_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LazyServers]:
    servers = LazyServers(tmp_path_factory.mktemp("fidelity-servers"))
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def fidelity_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store, db_dir = open_store(tmp_path_factory.mktemp("fidelity-store"))
    yield store
    store.close()
    shutil.rmtree(db_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def fidelity_results() -> dict[str, PathResult]:
    """path name → its outcomes, filled by the first test of each path."""
    return {}


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Store]:
    """A store of its own per test (hub names repeat from one run of a path to the next)."""
    store, db_dir = open_store(tmp_path)
    yield store
    store.close()
    shutil.rmtree(db_dir, ignore_errors=True)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[LazyServers]:
    """Servers of its own per test (collection names repeat from one run to the next)."""
    started = LazyServers(tmp_path / "servers")
    started.root.mkdir()
    yield started
    started.stop()
