"""The parts of the Store each caller really uses, as Protocols.

The sync cycle, the merge step and the supervisor's placement depend on these, not on
:class:`~cirahub.store.repository.Store` itself, so each can be driven by a test double and the
type checker verifies that the real Store provides every method with the same signature (see
the ``TYPE_CHECKING`` block at the end). Errors are the Store's: NotFound, InvalidInput,
WriterFenced, StoreError (the database failed; retryable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from cirahub.core.model import ConflictRecord, HubItem, Link, WriteFailure
from cirahub.core.ops import HubOp
from cirahub.core.states import RunStatus, SpokeState
from cirahub.store.records import (
    HaltInfo,
    HubRecord,
    ItemVersion,
    MergeResult,
    PendingDelete,
    SpokeRecord,
    _Leave,
)

if TYPE_CHECKING:
    from cirahub.core.item import Item


class TopologyReader(Protocol):
    """Hubs and spokes as stored (read only)."""

    def get_hub(self, name_or_id: str) -> HubRecord: ...
    def list_hubs(self) -> list[HubRecord]: ...
    def get_spoke(self, spoke_id: str) -> SpokeRecord: ...
    def find_spoke(self, hub: str, name: str) -> SpokeRecord: ...
    def list_spokes(self, hub: str | None = None) -> list[SpokeRecord]: ...


class LinkReader(Protocol):
    """A spoke's links (the per-item baseline)."""

    def links(self, spoke_id: str) -> dict[str, Link]: ...
    def link_versions(self, spoke_id: str) -> dict[str, str]: ...
    def links_for(self, spoke_id: str, *, remote_ids: Iterable[str] = (),
                  uids: Iterable[str] = ()) -> dict[str, Link]: ...
    def links_by_item(self, spoke_id: str, ids: Iterable[str]) -> dict[str, Link]: ...
    def count_links(self, spoke_id: str) -> int: ...


class HubReader(Protocol):
    """Hub items and their versions."""

    def hub_version(self, hub_id: str) -> int: ...
    def hub_items(self, hub_id: str, ids: Iterable[str]) -> dict[str, HubItem]: ...
    def hub_items_by_uid(self, hub_id: str, uids: Iterable[str]) -> dict[str, HubItem]: ...
    def hub_items_by_match_key(self, hub_id: str, keys: Iterable[str]) -> dict[str, HubItem]: ...
    def hub_items_changed_since(self, hub_id: str, version: int, *,
                                limit: int | None = None) -> list[HubItem]: ...
    def item_versions(self, pairs: Iterable[tuple[str, int]]
                      ) -> dict[tuple[str, int], Item | None]: ...
    def hub_item_history(self, hub_item_id: str) -> list[ItemVersion]: ...


class WriterStore(Protocol):
    """The merge step: the writer fence and the batched apply (see store/apply.py)."""

    def acquire_writer(self, hub_id: str) -> int: ...
    def apply_hub_ops(self, hub_id: str, spoke_id: str, epoch: int, ops: Sequence[HubOp], *,
                      batch_size: int = 500) -> MergeResult: ...


class SyncStore(TopologyReader, LinkReader, HubReader, Protocol):
    """Everything one sync run reads and writes besides the merge itself."""

    def get_spoke_secret(self, spoke_id: str) -> str | None: ...
    def start_run(self, spoke_id: str, trigger: str) -> str: ...
    def finish_run(self, run_id: str, status: RunStatus, counts: Mapping[str, Any],
                   error: Mapping[str, Any] | None = None) -> None: ...
    def set_spoke_state(self, spoke_id: str, state: SpokeState, *,
                        error: Mapping[str, Any] | None = None,
                        halted_reason: str | None = None) -> None: ...
    def set_cursors(self, spoke_id: str, *, pull_cursor: str | _Leave | None = ...,
                    push_cursor: int | _Leave = ...) -> None: ...
    def end_first_attach(self, spoke_id: str) -> None: ...
    def record_halt(self, spoke_id: str, reason: str, digest: str,
                    lost: Sequence[PendingDelete], deleting: int) -> HaltInfo: ...
    def clear_halt(self, spoke_id: str) -> None: ...
    def commit_links(self, spoke_id: str, upserts: Sequence[Link],
                     deletes: Sequence[str]) -> None: ...
    def record_conflicts(self, hub_id: str, spoke_id: str,
                         records: Sequence[ConflictRecord]) -> None: ...
    def record_write_errors(self, spoke_id: str, failures: Sequence[WriteFailure],
                            succeeded: Sequence[str] = ()) -> None: ...


class CycleStore(SyncStore, WriterStore, Protocol):
    """A store a sync run can also merge into directly (``LocalMerger``)."""


if TYPE_CHECKING:  # the type checker proves the real Store provides every protocol above
    from cirahub.store.repository import Store

    def _conforms(store: Store) -> CycleStore:
        return store
