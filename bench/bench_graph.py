"""Cost of a graph spoke against the local Graph emulator (and the OAuth token emulator):
HTTP requests and seconds for writing N events (``$batch`` of 20), the first delta round, a
no-change poll, and the poll after N/10 user edits.

    .venv/bin/python bench/bench_graph.py [--sizes 100,1000]

Not a test: it prints a table, nothing is asserted. Loopback numbers: they show request counts
and the connector's own overhead, not Microsoft's latency.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cirahub.connectors import oauth
from cirahub.connectors.base import Write
from cirahub.connectors.registry import open_connector
from cirahub.core.item import Item
from tests.graph_emulator import GraphEmulator
from tests.oauth_emulator import TokenEmulator

APP = "11111111-2222-3333-4444-555555555555"
SECRET = "bench-secret"
MAILBOX = "bench@contoso.onmicrosoft.com"


def item(n: int) -> Item:
    start = datetime(2026, 12, 10, 8, tzinfo=UTC) + timedelta(hours=n)
    return Item(f"bench-{n}@test", {"summary": f"event {n}",
                                    "start": {"utc": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "tz": "Europe/Berlin"},
                                    "end": {"utc": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                                            "tz": "Europe/Berlin"}})


def measure(graph: GraphEmulator, conn: object, fn: object) -> tuple[tuple[int, int], float, object]:
    """((HTTP requests, Graph operations incl. those inside $batch), seconds, result)."""
    ops, http = len(graph.log), conn.http.requests  # type: ignore[attr-defined]
    started = time.perf_counter()
    result = fn()  # type: ignore[operator]
    return ((conn.http.requests - http, len(graph.log) - ops),  # type: ignore[attr-defined]
            time.perf_counter() - started, result)


def run(size: int) -> list[tuple[str, int, tuple[int, int], float]]:
    oauth.forget_cached_tokens()
    rows = []
    with TokenEmulator() as tokens:
        tenant = tokens.add_tenant("contoso.onmicrosoft.com")
        tokens.add_app(tenant, APP, secret=SECRET, roles={"https://graph.microsoft.com": {"Calendars.ReadWrite"}})
        with GraphEmulator(tokens) as graph:
            graph.add_mailbox(MAILBOX)
            conn = open_connector("graph", {"tenant": tenant.domain, "client_id": APP, "mailbox": MAILBOX,
                                            "authority": tokens.authority, "ca_file": tokens.ca_file,
                                            "graph_url": graph.url, "page_size": 100}, SECRET)
            n, secs, _ = measure(graph, conn, lambda: conn.write_many(
                [Write("create", f"hub-{i}", item(i)) for i in range(size)]))
            rows.append(("create N (write_many)", size, n, secs))
            n, secs, first = measure(graph, conn, lambda: conn.delta(None, {}))
            rows.append(("first delta round", size, n, secs))
            known = {r.remote_id: r.remote_version for r in first.changed}  # type: ignore[attr-defined]
            n, secs, again = measure(graph, conn, lambda: conn.delta(first.cursor, known))  # type: ignore[attr-defined]
            rows.append(("no-change poll", size, n, secs))
            with graph.store.lock:
                for ev in list(graph.store.events.values())[: max(1, size // 10)]:
                    graph.store.update(ev, None, {"subject": "edited"})
            n, secs, _ = measure(graph, conn, lambda: conn.delta(again.cursor, known))  # type: ignore[attr-defined]
            rows.append(("poll after N/10 edits", size, n, secs))
            conn.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000")
    args = parser.parse_args()
    print(f"{'step':<24} {'items':>6} {'HTTP requests':>14} {'Graph ops':>10} {'seconds':>8}")
    for size in (int(s) for s in args.sizes.split(",")):
        for step, items, (http, ops), secs in run(size):
            print(f"{step:<24} {items:>6} {http:>14} {ops:>10} {secs:>8.2f}")


if __name__ == "__main__":
    main()
