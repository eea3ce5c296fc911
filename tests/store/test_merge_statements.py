"""The statements a merge sends: none that cannot change anything (store.batch_flush), and the
rows it stores are the ones it stored when it sent them (both backends)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from cirahub.core.model import ConflictRecord, FieldConflict, PendingWrite
from cirahub.core.ops import DropLink, LinkOnly, Quarantine, TombstoneHubItem
from cirahub.core.options import SyncOptions
from cirahub.store import Store, batch_flush
from cirahub.store import batch as batch_mod
from cirahub.store.pruning import KEEP_VERSIONS

from .helpers import create, hub_and_spokes, update
from .helpers import event as item


@contextmanager
def statements(store: Store) -> Iterator[list[str]]:
    """The SQL of every statement the store's engine sends inside the block (whitespace
    collapsed)."""
    sent: list[str] = []

    def seen(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        sent.append(" ".join(sql.split()))

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def kinds(sent: list[str]) -> Counter[str]:
    """``"DELETE links"``, ``"SELECT hub_item_versions"``… per statement."""
    out: Counter[str] = Counter()
    for sql in sent:
        verb = sql.split()[0].upper()
        table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", sql, re.I)
        out[f"{verb} {table.group(1) if table else ''}".strip()] += 1
    return out


def test_regression_a_first_pull_merge_sends_no_delete_or_pruning_query(store) -> None:
    hub, (spoke,) = hub_and_spokes(store)
    epoch = store.acquire_writer(hub.id)
    ops = [create(f"r{i}", item(f"u{i}", day=1 + i % 28)) for i in range(7)]
    with statements(store) as sent:
        res = store.apply_hub_ops(hub.id, spoke.id, epoch, ops, batch_size=3)
    assert len(res.created) == 7 and res.versions == 7
    seen = kinds(sent)
    # nothing to delete: new items have no links, pending writes or old versions; the new
    # links' remote ids were read and had none
    assert not [s for s in seen if s.startswith("DELETE")], seen
    assert not [s for s in seen if "hub_item_versions" in s and not s.startswith("INSERT")], seen
    # and a batch (3 of them) is still one statement per table it writes
    assert seen["INSERT hub_items"] == seen["INSERT hub_item_versions"] == seen["INSERT links"] == 3
    assert {link.hub_item_id for link in store.links_for(
        spoke.id, remote_ids=[f"r{i}" for i in range(7)]).values()} == set(res.created.values())


@contextmanager
def deleting_every_touched_row(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The flush as it was before: DELETEs for every touched remote id and hub item, pending
    writes of every touched item, pruning of every item given a version."""
    with monkeypatch.context() as mp:
        mp.setattr(batch_flush, "stored_links", lambda b, remotes, items: (remotes, items))
        mp.setattr(batch_flush, "old_items", lambda b, ids: set(ids))
        mp.setattr(batch_flush, "pruned_items",
                   lambda b: {item_id for item_id, _, _ in b.version_rows})
        yield


def scenario(store: Store, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind of op, re-runs, moved links, pending writes and pruning, in a hub of its
    own (``name``) with spokes a and b."""
    hub = store.create_hub(name)
    a, b = (store.add_spoke(name, f"{name}-{s}", "vdir", {"path": f"/{name}/{s}"},
                            SyncOptions()).id for s in "ab")
    epoch = store.acquire_writer(hub.id)

    def apply(spoke: str, ops: list[Any], size: int = 2) -> Any:
        res = store.apply_hub_ops(hub.id, spoke, epoch, ops, batch_size=size)
        assert not res.stale, res
        return res

    events = {i: item(f"u{i}", f"Meeting {i}", day=i) for i in range(1, 8)}
    ids = apply(a, [create(f"r{i}", events[i]) for i in range(1, 7)]).created
    apply(a, [create("r1", events[1])])  # a re-run
    store.note_pending_writes(b, [PendingWrite(ids[f"r{i}"], "fp", 1) for i in (1, 2, 4)])
    store.note_pending_writes(a, [PendingWrite(ids[f"r{i}"], "fp", i) for i in (3, 4)])
    version = store.hub_version(hub.id)
    linked = [LinkOnly(f"b{i}", "v1", ids[f"r{i}"], "fp", version) for i in (1, 2, 3)]
    apply(b, linked)
    apply(b, linked)  # a re-run: unchanged
    # more versions of one item than pruning keeps, a conflict on the way
    current, hub_version = events[3], 3
    conflict = ConflictRecord(ids["r3"], "u3", a, (
        FieldConflict("summary", "x", "y", "z", "spoke", "latest"),))
    for n in range(KEEP_VERSIONS + 3):
        current = current.replace(summary=f"edit {n}")
        apply(a, [update(ids["r3"], hub_version, current, "r3", remote_version=f"v{n}",
                         conflicts=(conflict,) if n == 5 else ())], size=100)
        hub_version = store.hub_version(hub.id)
    # r4 moves to u5 (dropping u4's link by remote id and r5's by hub item)
    apply(a, [LinkOnly("r4", "v9", ids["r5"], "fp", hub_version)])
    apply(a, [TombstoneHubItem(ids["r6"], 6, "r6"), DropLink("r2", ids["r2"])])
    apply(b, [Quarantine("q1", "v1", "malformed", "bad", raw="BEGIN:VCALENDAR")])
    apply(b, [create("q1", events[7])])  # clears its quarantine row
    # a created item given more versions than pruning keeps, in the batch that creates it
    made = f"00000000-0000-4000-8000-{name.encode().hex():0>12}"
    with monkeypatch.context() as mp:
        mp.setattr(batch_mod, "new_ids", lambda n: [made] * n)
        start = store.hub_version(hub.id) + 1
        edits = [update(made, start + n, item("u8", f"take {n}"), "r8", remote_version=f"v{n}")
                 for n in range(KEEP_VERSIONS + 2)]
        apply(a, [create("r8", item("u8")), *edits], size=500)
    assert store.recent_versions(made, 1000)[1] == KEEP_VERSIONS


def dump(store: Store, hub_name: str) -> dict[str, list[tuple[Any, ...]]]:
    """A hub's rows, timestamps and generated ids left out, hub items and spokes named by
    what they are (UID and created version; name)."""
    hub = store.get_hub(hub_name)
    with store.engine.connect() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.exec_driver_sql(sql.replace("?", mark), (hub.id,))]

        name = {i: (u, c) for i, u, c in rows(
            "SELECT id, uid, created_version FROM hub_items WHERE hub_id = ?")}
        name.update((i, n.split("-")[1]) for i, n in rows("SELECT id, name FROM spokes WHERE hub_id = ?"))

        def named(sql: str) -> list[tuple[Any, ...]]:
            """The rows, their first two columns (hub item, spoke ids, or a second value) named."""
            return sorted(((name.get(r[0], r[0]), name.get(r[1], r[1]), *r[2:])
                           for r in rows(sql)), key=repr)

        items = "SELECT id FROM hub_items WHERE hub_id = ?"
        spokes = "SELECT id FROM spokes WHERE hub_id = ?"
        return {
            "hub": rows("SELECT version, id FROM hubs WHERE id = ?")[:1],
            "items": named("SELECT id, uid, uid, version, CAST(content AS TEXT), "
                           "fingerprint, match_key, deleted FROM hub_items WHERE hub_id = ?"),
            "versions": named("SELECT hub_item_id, spoke_id, version, CAST(content AS TEXT) "
                              f"FROM hub_item_versions WHERE hub_item_id IN ({items})"),
            "links": named("SELECT hub_item_id, spoke_id, remote_id, remote_version, "
                           f"fingerprint, hub_version, fp_version FROM links WHERE spoke_id IN ({spokes})"),
            "pending": named("SELECT hub_item_id, spoke_id, hub_version, fingerprint FROM "
                             f"pending_writes WHERE spoke_id IN ({spokes})"),
            "quarantine": named("SELECT remote_id, spoke_id, remote_version, uid, reason, "
                                f"detail, raw FROM quarantine WHERE spoke_id IN ({spokes})"),
            "conflicts": named("SELECT hub_item_id, spoke_id, uid, kind, CAST(fields AS TEXT) "
                               "FROM conflicts WHERE hub_id = ?"),
        }


def test_the_merge_stores_what_it_stored_deleting_every_touched_row(
        store, monkeypatch: pytest.MonkeyPatch) -> None:
    with deleting_every_touched_row(monkeypatch):
        scenario(store, "old", monkeypatch)
    scenario(store, "new", monkeypatch)
    old, new = dump(store, "old"), dump(store, "new")
    old["hub"] = new["hub"] = [(old["hub"][0][0],)]
    assert old == new
    # the pending writes of the items a pull read back are gone, the other one is kept
    assert [p[:2] for p in new["pending"]] == [(("u4", 4), "b")]
    assert new["links"] and new["conflicts"] and new["quarantine"] == []
