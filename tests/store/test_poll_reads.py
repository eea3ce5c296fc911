"""The reads a fleet of idle spokes makes every few seconds, each one query: a poll's view
(spoke, hub version, runtime epoch), the placement's enabled spokes, the running runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cirahub.core.errors import NotFound, WriterFenced
from cirahub.store.lease import check_epoch


def test_poll_view_is_the_spoke_its_hub_version_and_the_lease(store: Any) -> None:
    store.create_hub("h")
    spoke = store.add_spoke("h", "a", "memory", {"calendar": "c"}, {"interval_seconds": 90})
    view, version, epoch = store.poll_view(spoke.id)
    assert view == store.get_spoke(spoke.id) and version == 0 and epoch == 0
    taken = store.take_runtime_lease()
    assert store.poll_view(spoke.id)[2] == taken
    check_epoch(taken, taken)
    check_epoch(0, taken)  # an actor without a lease is never fenced
    with pytest.raises(WriterFenced):
        check_epoch(taken - 1 or 99, taken)
    with pytest.raises(NotFound):
        store.poll_view("no-such-spoke")


def test_spoke_placements_are_the_enabled_spokes_with_their_config(store: Any) -> None:
    store.create_hub("h")
    a = store.add_spoke("h", "a", "memory", {"calendar": "c", "node": "n1"})
    b = store.add_spoke("h", "b", "memory", {"calendar": "c"}, {"enabled": False})
    c = store.add_spoke("h", "c", "memory", {"calendar": "c"})
    placed = store.spoke_placements()
    assert [p[0] for p in placed] == [a.id, c.id]
    assert placed[0][2] == {"node": "n1"} and placed[0][1] == a.hub_id
    assert placed[1][2] == {}  # only the pin is read (in SQL), not the whole config
    store.set_spoke_enabled(b.id, True)
    assert b.id in {p[0] for p in store.spoke_placements()}


def test_running_spoke_ids_are_what_interrupt_runs_would_close(store: Any) -> None:
    store.create_hub("h")
    a = store.add_spoke("h", "a", "memory", {"calendar": "c"})
    b = store.add_spoke("h", "b", "memory", {"calendar": "c"})
    store.start_run(a.id, "schedule")
    done = store.start_run(b.id, "schedule")
    store.finish_run(done, "ok", {})
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert store.running_spoke_ids(before=later) == {a.id}
    assert store.running_spoke_ids(before=later - timedelta(hours=1)) == set()


def test_regression_the_orphan_check_reads_the_running_runs_through_an_index(
        store: Any) -> None:
    """Before: ``running_spoke_ids`` (after every reconcile, every 5 s) scanned the whole run
    history, which only grows (a row per real run). Now it reads an index on (status,
    started_at): SQLite's own plan for the statement the store runs says so."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's (PostgreSQL plans a scan of a small table)")
    from sqlalchemy import event as sa_event

    store.create_hub("h")
    a = store.add_spoke("h", "a", "memory", {"calendar": "c"})
    store.start_run(a.id, "schedule")
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        statements.append((sql, params))

    sa_event.listen(store.engine, "before_cursor_execute", seen)
    try:
        assert store.running_spoke_ids(before=datetime.now(UTC) + timedelta(seconds=5))
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", seen)
    [(sql, params)] = [s for s in statements if "sync_runs" in s[0]]
    with store.engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {sql}", params))
    assert "ix_sync_runs_status_started_at" in plan, plan
