"""What the pull planner is given and what it returns (:func:`cirahub.core.plan.plan_pull`).

Plain frozen values: the spoke being planned for, the slice of the hub a pull needs, and the
plan. :mod:`cirahub.core.plan` re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cirahub.core.item import Item
from cirahub.core.model import Capabilities, ConflictRecord, DeletedCopy, HubItem, PendingWrite
from cirahub.core.ops import HubOp
from cirahub.core.options import SyncOptions


@dataclass(frozen=True)
class SpokeContext:
    """The spoke being planned for. ``first_attach``: its first run (match by content too)."""

    spoke_id: str
    options: SyncOptions
    capabilities: Capabilities
    first_attach: bool = False


@dataclass(frozen=True)
class HubView:
    """The hub state a pull needs (the caller loads exactly this; see actors/cycle.py)."""

    by_id: Mapping[str, HubItem] = field(default_factory=dict)  # referenced by links/matches
    by_uid: Mapping[str, HubItem] = field(default_factory=dict)  # alive, uid in the delta
    by_match_key: Mapping[str, HubItem] = field(default_factory=dict)  # alive (first attach)
    #: remote id -> match key of the delta's unlinked items whose keys ``by_match_key`` was
    #: read with (first attach), so the planner does not compute them again
    match_keys: Mapping[str, str | None] = field(default_factory=dict)
    #: (hub_item_id, version) -> content at that version (the merge base); missing = unknown
    bases: Mapping[tuple[str, int], Item | None] = field(default_factory=dict)
    linked_in_spoke: Mapping[str, str] = field(default_factory=dict)  # hub_item_id -> remote id
    #: tombstoned hub item id -> its content just before the delete (for an edit beating it)
    last_alive: Mapping[str, Item] = field(default_factory=dict)
    #: hub item id -> the writes this spoke was sent and never confirmed (their hub items are
    #: in ``by_id``): the linked items of the delta and the hub items with its UIDs
    pending: Mapping[str, tuple[PendingWrite, ...]] = field(default_factory=dict)
    #: deleted hub item id -> the copy the pusher deleted from this spoke (the hub items with
    #: the delta's unlinked UIDs; they are in ``by_id``)
    deleted_copies: Mapping[str, DeletedCopy] = field(default_factory=dict)


@dataclass(frozen=True)
class PullPlan:
    """Hub operations of one pull. ``halt`` set → ``ops`` is empty and nothing may be applied.
    ``touched``: hub item ids the push must look at even if their hub version did not move.
    ``conflicts``: every conflict record of the plan, each carried by its op (``UpdateHubItem``,
    ``LinkOnly``: a merge the hub won outright, ``DropLink``: a delete an edit beat), so the
    merge logs it in the transaction that applies the op, and only then."""

    ops: tuple[HubOp, ...]
    halt: str | None
    touched: frozenset[str]
    stats: Mapping[str, int]
    conflicts: tuple[ConflictRecord, ...] = ()


@dataclass(frozen=True)
class Match:
    """The alive hub item an unlinked remote item is the same as, and how it was found (the
    planner's own bookkeeping)."""

    hub_item: HubItem
    by_content: bool  # on first attach, by summary + start + end; else by UID

    @property
    def duplicate_reason(self) -> str:
        """The quarantine reason when the hub item already has another copy in this spoke."""
        return "duplicate-content" if self.by_content else "duplicate-uid"
