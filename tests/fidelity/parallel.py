"""The fidelity paths side by side, each in a process of its own.

A path is a chain of real components (its own store, its own servers on free loopback ports,
hubs named after the path) and shares nothing with another path, so running the paths in
parallel gives the results a serial run gives: the same outcomes, file by file. What it
changes is the wall time of the harness on a machine of several cores (one path keeps about
one core busy: its client, plus the CalDAV server it waits on).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path

from .runs import PATHS, LazyServers, PathResult, open_store, run

#: the paths, longest first (measured: Radicale ≈ 85 s, Xandikos ≈ 77 s, EWS ≈ 58 s,
#: ics-url ≈ 36 s, vdir ≈ 27 s alone), so that the last path to start is a short one
LONGEST_FIRST = ("caldav-radicale", "caldav-xandikos", "ews", "ics-url", "vdir")
#: processes at once, unless CIRAHUB_FIDELITY_WORKERS says otherwise (1: one after another)
WORKERS_ENV = "CIRAHUB_FIDELITY_WORKERS"
assert sorted(LONGEST_FIRST) == sorted(PATHS)


def run_alone(path: str, file_ids: Sequence[str] | None = None,
              work: str | None = None) -> PathResult:
    """``path`` through a store and servers of its own (in whatever process calls it);
    everything it started is stopped, everything it wrote removed, before it returns."""
    from tests.corpus import corpus

    wanted = set(file_ids or ())
    files = [f for f in corpus() if f.id in wanted] if file_ids is not None else None
    with tempfile.TemporaryDirectory(prefix=f"fidelity-{path}-", dir=work) as tmp:
        root = Path(tmp)
        (root / "servers").mkdir()
        servers = LazyServers(root / "servers")
        store, db_dir = open_store(root)
        try:
            return run(path, store, servers, files=files, work=root)
        finally:
            store.close()
            servers.stop()
            shutil.rmtree(db_dir, ignore_errors=True)


def workers(paths: Sequence[str]) -> int:
    """Processes for ``paths``: one per path, at most one per core (at least two: a CalDAV
    path leaves its core half idle while its server works)."""
    wanted = os.environ.get(WORKERS_ENV)
    if wanted:
        return max(1, int(wanted))
    return max(1, min(len(paths), max(2, os.cpu_count() or 1)))


def run_parallel(paths: Sequence[str], file_ids: Sequence[str] | None = None,
                 work: str | None = None,
                 ) -> Iterator[tuple[str, PathResult | BaseException]]:
    """``(path, result)`` per path as each ends, or ``(path, exception)`` for a path that
    failed (the others go on). Processes are spawned, not forked: the caller may hold threads
    (a test session's servers, Ray's) that a fork would copy in an unknown state."""
    order = sorted(dict.fromkeys(paths), key=LONGEST_FIRST.index)
    if not order:
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers(order), mp_context=context) as pool:
        futures: dict[Future[PathResult], str] = {
            pool.submit(run_alone, path, file_ids, work): path for path in order}
        for future in as_completed(futures):
            error = future.exception()
            yield futures[future], future.result() if error is None else error
