"""What hostile inputs cost (issue 13): each case is run through the real reader or connector
and its outcome, CPU time (``resource.getrusage``) and Python memory peak (``tracemalloc``)
are printed as a table; the fuzz rows run N generated inputs through both readers.

    .venv/bin/python bench/bench_hostile.py [--fuzz 2000]

Not a test: nothing is asserted. Servers are loopback only; every loop is bounded. Numbers
taken on a shared machine are noisy: compare rows, not runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings

from cirahub.connectors import oauth
from cirahub.connectors.bounded import METER
from cirahub.connectors.caldav.dav import parse_multistatus
from cirahub.connectors.icsurl import IcsUrlConnector, parse_config
from cirahub.connectors.vdir import VdirConnector
from cirahub.core.errors import CirahubError, MalformedItem, ProtocolError
from cirahub.core.filters import in_window
from tests.hardening.fuzz import NOW, WINDOW, dav_bodies, ical_texts, read_dav, read_ical
from tests.hardening.servers import hostile_server
from tests.hardening.test_recurrence_bounds import _feed_body


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def measure(fn: Callable[[], str]) -> tuple[str, float, float]:
    """(outcome, CPU seconds, Python memory peak in MB) of ``fn``."""
    tracemalloc.start()
    start = _cpu()
    try:
        outcome = fn()
    except CirahubError as exc:
        outcome = f"{exc.code}: {exc.message[:70]}"
    cpu = _cpu() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return outcome, cpu, peak / 1e6


def feed_case(base: str, path: str) -> Callable[[], str]:
    """The feed read, and each item placed in a window (where the RRULE is walked)."""
    def run() -> str:
        conn = IcsUrlConnector(parse_config({"url": f"{base}{path}?token=t"}), None)
        try:
            delta = conn.delta(None, {})
            kept = sum(in_window(r.item, WINDOW, NOW) for r in delta.changed if r.item)
            return f"read {len(delta.changed)} items, {kept} in the window (open-ended)"
        finally:
            conn.close()
    return run


def vdir_links() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "cal"
        folder.mkdir()
        (Path(tmp) / "secret.key").write_text("k" * 44)
        os.symlink(Path(tmp) / "secret.key", folder / "key.ics")
        os.symlink("/proc/self/environ", folder / "env.ics")
        delta = VdirConnector(folder).delta(None, {})
        return ", ".join(sorted({r.refused or "read" for r in delta.changed}))


_FILLER = "x" * 900
#: built once, outside the measurement: the answer as the HTTP layer hands it over
MULTISTATUS = ('<d:multistatus xmlns:d="DAV:">' + "".join(
    f'<d:response><d:href>/c/{i}.ics</d:href><d:propstat><d:prop><d:comment>{_FILLER}'
    '</d:comment></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>'
    '</d:response>' for i in range(20_000)) + "</d:multistatus>").encode()


def big_multistatus() -> str:
    responses = parse_multistatus(MULTISTATUS).responses
    return f"read {len(responses)} responses of {len(MULTISTATUS) >> 20} MB"


def login_endless(base: str) -> Callable[[], str]:
    def run() -> str:
        oauth._LoginSession(None, 10.0).post(f"{base}/endless/token", data={"a": "b"})
        return "read"  # not reached: capped
    return run


def fuzz(reader: str, count: int) -> Callable[[], str]:
    tally = {"read": 0, "rejected": 0}
    strategy, target, errors = ((ical_texts(), read_ical, MalformedItem) if reader == "ical"
                                else (dav_bodies(), read_dav, ProtocolError))

    @settings(max_examples=count, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def one(value: object) -> None:
        try:
            target(value)  # type: ignore[arg-type]
            tally["read"] += 1
        except errors as exc:
            assert exc.message.strip()
            tally["rejected"] += 1

    def run() -> str:
        one()
        return f"{tally['read']} read, {tally['rejected']} rejected with a message, 0 crashes"
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=2000, help="generated inputs per reader")
    args = parser.parse_args()
    os.environ["CIRAHUB_MAX_RESPONSE_BYTES"] = str(8 << 20)
    with hostile_server() as srv:
        srv.body = _feed_body()
        cases: list[tuple[str, Callable[[], str]]] = [
            ("feed: 20 impossible RRULEs (4 KB)", feed_case(srv.base, "/impossible.ics")),
            ("feed: endless body (cap 8 MB)", feed_case(srv.base, "/endless.ics")),
            ("oauth token endpoint: endless body", login_endless(srv.base)),
            ("vdir: symlinks to secret.key, environ", vdir_links),
            ("caldav: 20 MB multistatus", big_multistatus),
            (f"fuzz: {args.fuzz} iCalendar inputs", fuzz("ical", args.fuzz)),
            (f"fuzz: {args.fuzz} CalDAV XML inputs", fuzz("dav", args.fuzz)),
        ]
        print(f"| {'input':40} | {'outcome':75} | CPU s | peak MB | net MB |")
        print(f"|{'-' * 42}|{'-' * 77}|-------|---------|--------|")
        for name, fn in cases:
            before = METER.total
            outcome, cpu, peak = measure(fn)
            net = (METER.total - before) / 1e6
            print(f"| {name:40} | {outcome[:75]:75} | {cpu:5.2f} | {peak:7.1f} | {net:6.1f} |")


if __name__ == "__main__":
    main()
