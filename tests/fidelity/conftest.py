"""Fixtures for the fidelity harness: one result cache per session, so each path syncs the
whole corpus once (every selected path at the first ask, side by side, each in a process of
its own with its own store and servers), and a store and servers per test for the others."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from cirahub.store import Store

from .parallel import run_parallel
from .runs import LazyServers, PathResult, open_store


class PathResults:
    """path → its :class:`PathResult`. The first ask runs every path this session selected
    (the ``path`` of its ``test_fidelity.py`` tests), side by side in processes of their own
    (:mod:`tests.fidelity.parallel`); a path that failed raises its error for its own tests
    only."""

    def __init__(self, wanted: Sequence[str], work: Path) -> None:
        self.wanted = list(dict.fromkeys(wanted))
        self.work = work
        self._done: dict[str, PathResult | BaseException] = {}

    def __getitem__(self, path: str) -> PathResult:
        if path not in self._done:
            todo = [p for p in self.wanted if p not in self._done]
            for name, result in run_parallel(todo if path in todo else [*todo, path],
                                             work=str(self.work)):
                self._done[name] = result
        result = self._done[path]
        if isinstance(result, BaseException):
            raise RuntimeError(f"the fidelity path {path} failed: {result!r}") from result
        return result


def _selected_paths(session: pytest.Session) -> list[str]:
    here = Path(__file__).parent / "test_fidelity.py"
    return [item.callspec.params["path"] for item in session.items
            if isinstance(item, pytest.Function) and item.path == here
            and hasattr(item, "callspec") and "path" in item.callspec.params]


@pytest.fixture(scope="session")
def fidelity_results(request: pytest.FixtureRequest,
                     tmp_path_factory: pytest.TempPathFactory) -> PathResults:
    """path name → its outcomes, every selected path run at the first ask."""
    return PathResults(_selected_paths(request.session), tmp_path_factory.mktemp("fidelity"))


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
