"""The write chunk of a push is its connector kind's (issue 15): a vdir push hands its
connector 500 writes at a time (each batch: two ``syncfs`` barriers and one link commit,
whatever its size), CalDAV, EWS, Graph and memory keep the push's default
(:data:`~cirahub.actors.pushing.WRITE_CHUNK`). A crash still loses at most one chunk's links
(tests/connectors/test_vdir_crash.py kills a real sync in the middle of the second chunk)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from cirahub.actors import pushing
from cirahub.actors.pushing import WRITE_CHUNK, write_chunk
from cirahub.connectors.base import Write, WriteOutcome
from cirahub.connectors.kinds import all_kinds, get_kind
from cirahub.connectors.memory import MemoryCalendar, MemoryConnector
from cirahub.connectors.vdir import VdirConnector
from tests.sync.harness import Loop, event

N = 1200


class CountingVdir(VdirConnector):
    """A vdir connector that records the size of each batch of writes it is handed."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[int] = []

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        self.batches.append(len(writes))
        return super().write_many(writes)


def test_vdir_declares_its_chunk_and_the_other_kinds_keep_the_default(tmp_path: Path) -> None:
    assert get_kind("vdir").write_chunk == 500
    assert {k.name for k in all_kinds().values() if k.write_chunk is not None} == {"vdir"}
    assert write_chunk(VdirConnector(tmp_path)) == 500
    assert write_chunk(MemoryConnector(MemoryCalendar())) == WRITE_CHUNK

    class Unregistered:
        kind = "not-a-kind"

    assert write_chunk(Unregistered()) == WRITE_CHUNK  # type: ignore[arg-type]


def test_the_default_is_read_at_each_push(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pushing, "WRITE_CHUNK", 7)
    assert write_chunk(MemoryConnector(MemoryCalendar())) == 7


def _loop_with_hub_items(store: Any, n: int) -> Loop:
    loop = Loop(store)
    src = loop.add_memory("src")
    assert src.calendar is not None
    for i in range(n):
        src.calendar.user_create(event(f"chunk-{i:04d}@example.com", f"Event {i}",
                                       day=1 + i % 28))
    assert loop.sync("src").ok
    return loop


def test_a_vdir_push_writes_and_links_in_chunks_of_500(store: Any, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    loop = _loop_with_hub_items(store, N)
    folder = tmp_path / "dst"
    folder.mkdir()
    connector = CountingVdir(folder)
    dst = loop.add("dst", connector, kind="vdir", config={"path": str(folder)})
    linked: list[int] = []
    commit = store.commit_links

    def counting(spoke_id: str, upserts: Sequence[Any], *args: Any, **kwargs: Any) -> None:
        if spoke_id == dst.id:
            linked.append(len(upserts))
        commit(spoke_id, upserts, *args, **kwargs)

    monkeypatch.setattr(store, "commit_links", counting)
    summary = loop.sync("dst")
    assert summary.ok and summary.counts.get("pushed") == N
    assert connector.batches == [500, 500, 200]
    assert linked == [500, 500, 200]  # one commit per chunk: the last with the push's end
    assert store.count_links(dst.id) == N
    assert len(list(folder.glob("*.ics"))) == N


def test_a_memory_push_keeps_the_default_chunk(store: Any, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    loop = _loop_with_hub_items(store, 250)
    calendar = MemoryCalendar()
    batches: list[int] = []

    class Counting(MemoryConnector):
        def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
            batches.append(len(writes))
            return super().write_many(writes)

    loop.add("dst", Counting(calendar))
    assert loop.sync("dst").ok
    assert batches == [100, 100, 50]
