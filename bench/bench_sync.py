"""Benchmark: the sync cycle at 10,000 items (no Ray), on SQLite and PostgreSQL.

Measures, per store:
- initial pull of N items from one in-memory spoke into an empty hub (items/s, transactions),
- fan-out push of those N items into a second, empty spoke,
- a no-change poll of each spoke (the steady state every interval pays),
- one edit flowing from one spoke to the other.

Prints a table. Run: ``.venv/bin/python bench/bench_sync.py [--items 10000] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import event

from cirahub.actors.cycle import LocalMerger, SyncCycle
from cirahub.connectors.memory import MemoryCalendar, MemoryConnector
from cirahub.core.item import Item
from cirahub.core.options import SyncOptions
from cirahub.store.repository import Store

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def _item(i: int) -> Item:
    day, hour = 1 + i % 28, 8 + i % 10
    return Item(f"bench-{i}@example.com", {
        "summary": f"Meeting {i}",
        "location": f"Room {i % 40}",
        "description": "Agenda:\n- status\n- risks",
        "start": {"utc": f"2026-12-{day:02d}T{hour:02d}:00:00Z", "tz": "Europe/Berlin"},
        "end": {"utc": f"2026-12-{day:02d}T{hour:02d}:30:00Z", "tz": "Europe/Berlin"},
        "categories": ["Team"],
    })


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(url: str, label: str, n: int) -> list[tuple[str, str, str]]:
    store = Store.open(url, secret_key=Fernet.generate_key(), data_dir=Path(tempfile.gettempdir()))
    commits = [0]
    event.listen(store.engine, "commit", lambda conn: commits.__setitem__(0, commits[0] + 1))
    hub = store.create_hub(f"bench-{uuid.uuid4().hex[:6]}")
    merger = LocalMerger(store)
    cal_a, cal_b = MemoryCalendar(), MemoryCalendar()
    for i in range(n):
        cal_a.user_create(_item(i))
    cycles = []
    # a lists everything every poll (like vdir); b has a server cursor (like a CalDAV
    # sync-token), so its no-change poll reads nothing from the store
    for name, cal, incremental in (("a", cal_a, False), ("b", cal_b, True)):
        spoke = store.add_spoke(hub.name, name, "memory", {"calendar": name}, SyncOptions())
        connector = MemoryConnector(cal, incremental=incremental)
        cycles.append(SyncCycle(store, connector, spoke.id, merger, clock=lambda: NOW))
    rows: list[tuple[str, str, str]] = []

    commits[0] = 0
    t, summary = _timed(lambda: cycles[0].run("bench"))
    assert summary.ok, summary
    rows.append((label, f"initial pull of {n} items", f"{t:.2f} s ({n / t:,.0f} items/s, {commits[0]} commits)"))
    commits[0] = 0
    t, summary = _timed(lambda: cycles[1].run("bench"))
    assert summary.ok and len(cal_b.items()) == n, summary
    rows.append((label, f"fan-out push of {n} items", f"{t:.2f} s ({n / t:,.0f} items/s, {commits[0]} commits)"))
    for c in cycles:
        c.run("bench")
    for cycle, kind in ((cycles[0], "listing"), (cycles[1], "server-cursor")):
        commits[0] = 0
        t, _ = _timed(lambda c=cycle: c.run("bench"))
        rows.append((label, f"no-change poll, {kind} spoke", f"{t * 1000:.1f} ms ({commits[0]} commits)"))
    rid = sorted(cal_a.items())[0]
    cal_a.user_update(rid, _item(0).replace(summary="Edited"))
    t, _ = _timed(lambda: [c.run("bench") for c in cycles])
    edited = [i for i in cal_b.items().values() if i.get("summary") == "Edited"]
    assert len(edited) == 1
    rows.append((label, "one edit a → hub → b", f"{t * 1000:.1f} ms"))
    store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--postgres-url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows += run(f"sqlite:///{tmp}/bench.db", "sqlite", args.items)
    if not args.no_postgres:
        rows += run(args.postgres_url, "postgres", args.items)
    width = max(len(r[1]) for r in rows)
    print(f"{'store':<9} {'measure':<{width}}  result")
    for store, what, result in rows:
        print(f"{store:<9} {what:<{width}}  {result}")


if __name__ == "__main__":
    main()
