"""Frozen values the store returns. None of them ever carries a secret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from cirahub.core.item import Item
from cirahub.core.options import ConflictPolicy, SyncOptions
from cirahub.core.states import SpokeState


class _Leave:
    """Sentinel type: "leave this value as it is" (``None`` is a real value for cursors)."""

    _instance: _Leave | None = None

    def __new__(cls) -> _Leave:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "LEAVE"


LEAVE: Final = _Leave()


@dataclass(frozen=True)
class HubRecord:
    id: str
    name: str
    object_type: str
    policy: ConflictPolicy
    #: last hub version assigned to an item of this hub
    version: int
    writer_epoch: int
    created_at: datetime


@dataclass(frozen=True)
class PendingDelete:
    """One item a halted spoke no longer holds: what its deletion would remove everywhere."""

    hub_item_id: str
    uid: str
    summary: str
    #: start as the item states it (ISO date or date-time), "" when unknown
    start: str


@dataclass(frozen=True)
class HaltInfo:
    """A safety halt an operator answers (confirm or restore).

    ``digest`` identifies exactly what was held back (the linked items the spoke lost and the
    listing's size): a confirmation applies only to a run that sees the same. ``items`` are
    the first few lost items (for display), ``hub_item_ids`` all of them (for restore);
    ``deleting`` is how many hub items the held-back run would have deleted."""

    id: str
    digest: str
    reason: str
    at: datetime
    deleting: int
    lost: int
    items: tuple[PendingDelete, ...]
    hub_item_ids: tuple[str, ...]
    confirmed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "digest": self.digest, "reason": self.reason,
            "at": self.at.isoformat(), "deleting": self.deleting, "lost": self.lost,
            "items": [vars(i) for i in self.items], "hub_item_ids": list(self.hub_item_ids),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], confirmed: bool) -> HaltInfo:
        return cls(
            id=str(data["id"]), digest=str(data["digest"]), reason=str(data["reason"]),
            at=datetime.fromisoformat(data["at"]), deleting=int(data["deleting"]),
            lost=int(data["lost"]),
            items=tuple(PendingDelete(**i) for i in data.get("items") or ()),
            hub_item_ids=tuple(data.get("hub_item_ids") or ()), confirmed=confirmed,
        )


@dataclass(frozen=True)
class SpokeRecord:
    """A spoke as stored. ``has_secret`` says whether a secret is stored; the secret itself
    is only available through ``Store.get_spoke_secret``."""

    id: str
    hub_id: str
    name: str
    kind: str
    config: Mapping[str, Any]
    options: SyncOptions
    has_secret: bool
    pull_cursor: str | None
    push_cursor: int
    state: SpokeState
    last_error: Mapping[str, Any] | None
    halted_reason: str | None
    #: the current halt (or the confirmed one not yet applied); None when not halted
    halt: HaltInfo | None
    #: its first complete run has not finished yet: the planner also matches by content
    #: (summary + start + end) then, so copies that already exist are linked, not doubled
    first_attach: bool
    created_at: datetime
    updated_at: datetime

    @property
    def enabled(self) -> bool:
        return self.options.enabled


@dataclass(frozen=True)
class RunRecord:
    """One sync run. ``status`` is "running" until ``Store.finish_run``."""

    id: str
    hub_id: str
    spoke_id: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: Mapping[str, Any]
    error: Mapping[str, Any] | None


@dataclass(frozen=True)
class ConflictEntry:
    """A conflict log row. ``fields`` are FieldConflict values as dicts; ``spoke_id`` and
    ``hub_item_id`` are None once that spoke / item was removed."""

    id: str
    hub_id: str
    hub_item_id: str | None
    spoke_id: str | None
    uid: str
    kind: str
    fields: tuple[Mapping[str, Any], ...]
    losing_item: Mapping[str, Any] | None
    created_at: datetime


@dataclass(frozen=True)
class QuarantineEntry:
    spoke_id: str
    remote_id: str
    remote_version: str | None
    uid: str | None
    reason: str
    detail: str
    raw: str | None
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class ProjectionEntry:
    """What a spoke holds of a hub item when it is not the item itself: the spoke's declared
    projection (one note per change, e.g. "RDATE: ..."), as of the last write there."""

    spoke_id: str
    hub_item_id: str
    uid: str
    notes: tuple[str, ...]
    recorded_at: datetime


@dataclass(frozen=True)
class ItemVersion:
    """One version of a hub item; ``item`` is None for a tombstone. ``spoke_id`` is the spoke
    whose change produced it (None when unknown or removed)."""

    hub_item_id: str
    version: int
    item: Item | None
    spoke_id: str | None
    created_at: datetime


@dataclass(frozen=True)
class MergeResult:
    """What ``Store.apply_hub_ops`` did.

    ``created`` maps remote id → hub item id (also for a re-applied create that found its
    link, which counts in ``unchanged``); ``stale`` lists the remote ids of ops skipped because
    their hub item moved on (re-plan those); ``version`` is the hub's version afterwards;
    ``versions`` how many hub versions it assigned.
    """

    created: Mapping[str, str] = field(default_factory=dict)
    updated: int = 0
    tombstoned: int = 0
    linked: int = 0
    unlinked: int = 0
    quarantined: int = 0
    conflicts: int = 0
    unchanged: int = 0
    stale: tuple[str, ...] = ()
    version: int = 0
    #: hub versions this merge assigned (0: the hub did not change)
    versions: int = 0

    @property
    def changed(self) -> bool:
        """Whether the merge changed the hub (the other spokes then get a push run)."""
        return self.versions > 0


@dataclass
class Tally:
    """The running counts of a whole apply_hub_ops call (all its batches; mutable, the one
    value here that is not returned: :meth:`result` is)."""

    created: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    stale: list[str] = field(default_factory=list)

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def result(self, version: int) -> MergeResult:
        c = self.counts
        return MergeResult(
            created=dict(self.created), updated=c.get("updated", 0),
            tombstoned=c.get("tombstoned", 0), linked=c.get("linked", 0),
            unlinked=c.get("unlinked", 0), quarantined=c.get("quarantined", 0),
            conflicts=c.get("conflicts", 0), unchanged=c.get("unchanged", 0),
            stale=tuple(self.stale), version=version, versions=c.get("versions", 0),
        )
