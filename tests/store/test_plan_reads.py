"""The reads of a sync run (planning a delta, the merge's batch load) find their rows through
an index on both backends, and on SQLite never walk a whole hub's items or a spoke's links
to pick a few of them: SQLite's own plan for every statement the store runs says so.

Before: ``hub_items`` and the merge's batch load (``hub_id = ? AND id IN (…)``) walked the
hub's ``hub_id`` index (10 ms for 50 of 5,000 items), ``links_for`` by UID every link of
the spoke (8 ms), ``item_versions`` scanned every stored version (a row-value IN list).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event as sa_event

from cirahub.store import Store

from .helpers import create, event, hub_and_spokes, update

#: a plan step that reads a whole table, or a whole hub's / spoke's rows of one
_WIDE = re.compile(r"\bSCAN (?!CONSTANT)|\((hub_id|spoke_id)=\?\)")


@contextmanager
def statements(store: Store) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            seen.append((sql, params))

    sa_event.listen(store.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", note)


def wide_steps(store: Store, seen: list[tuple[str, Any]]) -> list[str]:
    """The plan steps of ``seen`` (reads of hub items, links, versions) that read widely."""
    out = []
    with store.engine.connect() as conn:
        for sql, params in seen:
            if not re.search(r"\b(hub_items|links|hub_item_versions)\b", sql):
                continue
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params):
                step = str(row[-1])
                if _WIDE.search(step) and "spokes" not in step and "hubs" not in step:
                    out.append(f"{step}  ← {sql[:160]}")
    return out


def _filled(store: Store) -> tuple[Any, Any, list[str], dict[str, Any]]:
    hub, (spoke, other) = hub_and_spokes(store, "a", "b")
    epoch = store.acquire_writer(hub.id)
    made = store.apply_hub_ops(hub.id, spoke.id, epoch,
                               [create(f"r{i}", event(f"u{i}", day=1 + i % 20))
                                for i in range(40)])
    store.apply_hub_ops(hub.id, other.id, epoch,
                        [create(f"o{i}", event(f"u{i}", day=1 + i % 20)) for i in range(40)])
    return hub, spoke, [made.created[f"r{i}"] for i in range(40)], {"epoch": epoch}


READS: dict[str, Callable[[Store, Any, Any, list[str]], object]] = {
    "hub_items": lambda s, hub, sp, ids: s.hub_items(hub.id, ids[:10]),
    "links_for": lambda s, hub, sp, ids: s.links_for(
        sp.id, remote_ids=["r1", "r2"], uids=["u3", "u4", "u-new"]),
    "item_versions": lambda s, hub, sp, ids: s.item_versions([(i, 1) for i in ids[:10]]),
    "links_by_item": lambda s, hub, sp, ids: s.links_by_item(sp.id, ids[:10]),
    "hub_items_by_uid": lambda s, hub, sp, ids: s.hub_items_by_uid(hub.id, ["u1", "u2"]),
}


@pytest.mark.parametrize("name", sorted(READS))
def test_a_runs_planning_reads_probe_indexes(store: Store, name: str) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the plans are SQLite's (PostgreSQL has statistics to plan with)")
    hub, spoke, ids, _ = _filled(store)
    with statements(store) as seen:
        READS[name](store, hub, spoke, ids)
    assert seen
    assert wide_steps(store, seen) == []


def test_the_merge_batch_loads_its_rows_through_indexes(store: Store) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("the plans are SQLite's (PostgreSQL has statistics to plan with)")
    hub, spoke, ids, w = _filled(store)
    items = store.hub_items(hub.id, ids[:5])
    ops = [update(i, items[i].version, event(items[i].uid, "edited"), f"r{n}")
           for n, i in enumerate(ids[:5])]
    with statements(store) as seen:
        result = store.apply_hub_ops(hub.id, spoke.id, w["epoch"], ops)
    assert result.updated == 5 and not result.stale
    assert wide_steps(store, seen) == []


def test_reads_by_id_keep_to_the_hub_and_the_spoke(store: Store) -> None:
    """The hub and the spoke are checked on the rows now (not in the index's WHERE): an id
    of another hub's item is not returned, nor a link of another spoke."""
    hub, spoke, ids, _ = _filled(store)
    other_hub, (stranger,) = hub_and_spokes_named(store, "other")
    epoch = store.acquire_writer(other_hub.id)
    theirs = store.apply_hub_ops(other_hub.id, stranger.id, epoch,
                                 [create("r1", event("u1"))]).created["r1"]
    assert set(store.hub_items(hub.id, [ids[0], theirs])) == {ids[0]}
    assert set(store.hub_items(other_hub.id, [ids[0], theirs])) == {theirs}
    found = store.links_for(spoke.id, uids=["u1"])
    assert [ln.hub_item_id for ln in found.values()] == [ids[1]]
    assert [ln.hub_item_id for ln in store.links_for(stranger.id, uids=["u1"]).values()] == [
        theirs]
    # the first merge gave its items versions 1 to 40, in order
    versions = store.item_versions([(ids[0], 1), (ids[1], 2), (ids[0], 2), (theirs, 1)])
    assert set(versions) == {(ids[0], 1), (ids[1], 2), (theirs, 1)}
    assert versions[(ids[1], 2)] == event("u1", day=2)
    assert store.link_versions(spoke.id) == {f"r{i}": "v1" for i in range(40)}
    assert store.link_versions_of([spoke.id, stranger.id, "none"]) == {
        spoke.id: {f"r{i}": "v1" for i in range(40)}, stranger.id: {"r1": "v1"}, "none": {}}


def hub_and_spokes_named(store: Store, hub_name: str) -> tuple[Any, list[Any]]:
    from cirahub.core.options import SyncOptions

    hub = store.create_hub(hub_name)
    return hub, [store.add_spoke(hub.name, "x", "vdir", {"path": "/cal/x"}, SyncOptions())]
