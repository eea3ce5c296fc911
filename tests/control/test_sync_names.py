"""What the server reads to name the spokes of a ``sync now`` (part of every ``cirahubctl sync``'s
fixed cost): the synced hub's spokes, not every spoke of the fleet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from cirahub.actors.progress import ProgressEvent
from cirahub.control.servicer import ControlServicer
from cirahub.core.options import SyncOptions
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from cirahub.store import Store


class CountingStore:
    """The store, with every ``list_spokes`` call's hub noted."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.listed: list[str | None] = []

    def list_spokes(self, hub: str | None = None) -> Any:
        self.listed.append(hub)
        return self._store.list_spokes(hub)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class OneRunRuntime:
    """Runs nothing: every sync of a hub ends each of its spokes' run at once, ok."""

    def __init__(self, store: CountingStore) -> None:
        self.store = store

    def sync_now(self, hub: str, spoke: str | None = None, only: Any = None
                 ) -> Iterator[ProgressEvent]:
        for s in self.store._store.list_spokes(hub):
            yield ProgressEvent("run", s.hub_id, s.id, "done", datetime.now(UTC),
                                summary={"spoke_id": s.id, "status": "ok", "counts": {}})

    def reconcile_soon(self) -> None:
        pass


def test_regression_a_sync_of_one_hub_reads_the_names_of_its_spokes_only(tmp_path: Path) -> None:
    """Before: every SyncNow read every spoke of the store for their names (2,000 spokes:
    150 ms of each `cirahubctl sync`, whichever hub it synced)."""
    store = Store.open(f"sqlite:///{tmp_path / 'c.db'}", secret_key=Fernet.generate_key(),
                       data_dir=tmp_path)
    store.create_hub("fleet")
    store.create_hub("small")
    for i in range(5):
        store.add_spoke("fleet", f"f{i}", "memory", {}, SyncOptions())
    store.add_spoke("small", "mine", "memory", {}, SyncOptions())
    counting = CountingStore(store)
    servicer = ControlServicer(OneRunRuntime(counting))  # type: ignore[arg-type]
    try:
        messages = list(servicer._sync_now(pb.SyncNowRequest(hub="small")))
    finally:
        servicer.close()
        store.close()
    summary = messages[-1].summary
    assert [(r.hub, r.spoke, r.status) for r in summary.results] == [("small", "mine", "ok")]
    assert [p.progress.spoke for p in messages[:-1]] == ["mine"]
    assert None not in counting.listed  # no read of the whole fleet's spokes
