"""Where a run's pull ops are applied to the hub: the store directly, or the hub actor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cirahub.core.ops import HubOp
from cirahub.store.protocols import WriterStore
from cirahub.store.records import MergeResult


class Merger(Protocol):
    """Applies pull ops to the hub. Implementations serialize merges per hub.

    ``merge`` returns the store's MergeResult (``stale`` lists remote ids to re-plan,
    ``changed`` says whether the hub moved). Raises WriterFenced (this writer must stop) and
    StoreError (retryable)."""

    def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> MergeResult: ...


class LocalMerger:
    """Merges straight into the store under this process's writer epoch for each hub.

    One LocalMerger per process per hub: acquiring the writer epoch fences any older writer
    (a restarted or duplicated process) so two writers can never interleave commits.
    """

    def __init__(self, store: WriterStore) -> None:
        self._store = store
        self._epochs: dict[str, int] = {}

    def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> MergeResult:
        epoch = self._epochs.get(hub_id)
        if epoch is None:
            epoch = self._epochs[hub_id] = self._store.acquire_writer(hub_id)
        return self._store.apply_hub_ops(hub_id, spoke_id, epoch, ops)
