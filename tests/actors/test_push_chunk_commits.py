"""One transaction between two chunks of a push (issue 15): chunk k's links and chunk k+1's
pending writes are committed together (one commit, one fsync), not one after the other —
with the order that makes a crash safe kept: a chunk's pending writes are durable before its
files are written, its links only after. Same rows in the end as committing them apart."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from cirahub.actors.pushing import LinkChanges, StoreWrites
from cirahub.connectors.base import Write, WriteOutcome
from cirahub.connectors.vdir import VdirConnector
from cirahub.core.errors import StoreError
from cirahub.core.model import PendingWrite
from tests.actors.test_write_chunk import _loop_with_hub_items
from tests.sync.harness import Loop

N = 1200  # three chunks of the vdir kind's 500


class Watched(VdirConnector):
    """A vdir connector that records, at each batch of writes, the store's commits so far,
    the links it holds and which of the batch's items have a durable pending write."""

    def __init__(self, path: Path, store: Any) -> None:
        super().__init__(path)
        self.store, self.spoke_id = store, ""
        self.commits = 0
        self.seen: list[tuple[int, int, bool]] = []  # commits, links, all of the batch pending
        event.listen(store.engine, "commit", self._commit)

    def _commit(self, conn: Any) -> None:
        self.commits += 1

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        ids = [w.hub_item_id for w in writes]
        pending = self.store.pending_writes(self.spoke_id, hub_item_ids=ids)
        self.seen.append((self.commits, self.store.count_links(self.spoke_id),
                          set(pending) == set(ids)))
        return super().write_many(writes)


class Apart(StoreWrites):
    """Today's order before this change: the links, then the next pending writes, each its
    own transaction."""

    def commit_links(self, spoke_id: str, links: LinkChanges,
                     then: Sequence[PendingWrite] = ()) -> None:
        super().commit_links(spoke_id, links)
        if then:
            self.note_pending(spoke_id, then)


def _watched(loop: Loop, store: Any, folder: Path, name: str = "dst") -> Watched:
    folder.mkdir()
    connector = Watched(folder, store)
    connector.spoke_id = loop.add(name, connector, kind="vdir", config={"path": str(folder)}).id
    return connector


def test_chunk_links_and_next_pending_writes_are_one_commit(store: Any, tmp_path: Path) -> None:
    loop = _loop_with_hub_items(store, N)
    connector = _watched(loop, store, tmp_path / "dst")
    assert loop.sync("dst").ok
    assert [links for _, links, _ in connector.seen] == [0, 500, 1000]
    # every batch's pending writes were durable before it was written
    assert all(pending for _, _, pending in connector.seen)
    commits = [c for c, _, _ in connector.seen]
    # between two batches: ONE commit (the links of one, the pending writes of the next)
    assert [b - a for a, b in itertools.pairwise(commits)] == [1, 1]


def _rows(store: Any, spoke_id: str) -> tuple[list[Any], list[Any]]:
    with store.engine.connect() as conn:
        links = conn.execute(text(
            "SELECT hub_item_id, remote_id, remote_version, fingerprint, hub_version, fp_version"
            " FROM links WHERE spoke_id = :s ORDER BY hub_item_id"), {"s": spoke_id}).all()
        pending = conn.execute(text(
            "SELECT hub_item_id, hub_version, fingerprint, fp_version FROM pending_writes"
            " WHERE spoke_id = :s ORDER BY hub_item_id, hub_version"), {"s": spoke_id}).all()
    return [tuple(r) for r in links], [tuple(r) for r in pending]


def test_the_same_links_and_pending_rows_as_committing_them_apart(
        store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = _loop_with_hub_items(store, N)
    together = _watched(loop, store, tmp_path / "together", "together")
    apart = _watched(loop, store, tmp_path / "apart", "apart")
    assert loop.sync("together").ok
    monkeypatch.setattr("cirahub.actors.pushing.StoreWrites", Apart)
    assert loop.sync("apart").ok
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(apart.seen)]
    assert gaps == [2, 2]  # the comparison really committed apart

    def normalized(rows: tuple[list[Any], list[Any]]) -> tuple[list[Any], list[Any]]:
        links, pending = rows  # remote versions name the file's inode: compare the rest
        return [(i, r, fp, hv, fv) for i, r, _, fp, hv, fv in links], pending

    assert normalized(_rows(store, together.spoke_id)) == normalized(_rows(store, apart.spoke_id))
    assert len(_rows(store, together.spoke_id)[0]) == N
    for name in (p.name for p in (tmp_path / "apart").iterdir()):
        assert _stampless(tmp_path / "together" / name) == _stampless(tmp_path / "apart" / name)


def _stampless(path: Path) -> list[bytes]:
    """The file's lines but DTSTAMP (the time of the write)."""
    return [ln for ln in path.read_bytes().splitlines() if not ln.startswith(b"DTSTAMP")]


def test_a_failed_combined_commit_stores_neither_and_sends_no_more(
        store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loop = _loop_with_hub_items(store, N)
    connector = _watched(loop, store, tmp_path / "dst")
    real, calls = store.note_pending_writes, []

    def failing(spoke_id: str, pending: Sequence[PendingWrite]) -> None:
        calls.append(len(pending))
        real(spoke_id, pending)
        if len(calls) == 2:  # the second chunk's, with the first chunk's links
            raise StoreError("disk full", action="note_pending_writes")

    monkeypatch.setattr(store, "note_pending_writes", failing)
    with pytest.raises(StoreError):
        loop.sync("dst")
    assert len(connector.seen) == 1  # the second chunk was never sent
    assert store.count_links(connector.spoke_id) == 0  # rolled back with the pending writes
    # the first chunk's pending writes stay (its own commit), the second's were rolled back
    every = [h.id for h in store.hub_items_changed_since(loop.hub.id, 0)]
    assert len(store.pending_writes(connector.spoke_id, hub_item_ids=every)) == 500
    # the next run links the written chunk by UID and writes the rest: no duplicate
    monkeypatch.setattr(store, "note_pending_writes", real)
    assert loop.sync("dst").ok
    assert store.count_links(connector.spoke_id) == N
    assert len(list((tmp_path / "dst").glob("*.ics"))) == N
    assert len(loop.hub_items()) == N
