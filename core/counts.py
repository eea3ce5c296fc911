"""The names of a sync run's counts (stored with the run, shown by the control plane).

One list shared by the planner, the cycle and the control plane, so a count is never
spelled two ways. Counts only report: no decision reads them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from cirahub.core.ops import (
    BumpLink,
    CreateHubItem,
    CreateInSpoke,
    DeleteInSpoke,
    DropLink,
    LinkOnly,
    Quarantine,
    TombstoneHubItem,
    UpdateHubItem,
    UpdateInSpoke,
)


class Count(StrEnum):
    # pull
    PULLED = "pulled"  # changed or new remote items in the delta
    REMOTE_DELETED = "remote_deleted"  # deletions in the delta
    # planned pull ops (one per op type) and pull outcomes
    LINK_ONLY = "link_only"
    CREATE_HUB_ITEM = "create_hub_item"
    UPDATE_HUB_ITEM = "update_hub_item"
    TOMBSTONE_HUB_ITEM = "tombstone_hub_item"
    DROP_LINK = "drop_link"
    QUARANTINE = "quarantine"
    IGNORED = "ignored"  # outside the window / a filter, or not allowed to contribute
    CONFLICTS = "conflicts"
    HALTED = "halted"  # 1 when the safety check halted the run
    STALE = "stale"  # merge ops still stale after the re-plans (retried next run)
    REPULLS = "repulls"  # whole passes re-run because a push write was stale
    # planned push ops and push outcomes
    CREATE_IN_SPOKE = "create_in_spoke"
    UPDATE_IN_SPOKE = "update_in_spoke"
    DELETE_IN_SPOKE = "delete_in_spoke"
    BUMP_LINK = "bump_link"
    PUSHED = "pushed"  # successful spoke writes
    PUSH_STALE = "push_stale"  # writes refused for a stale remote version
    PUSH_FAILED = "push_failed"  # writes failed for a reason of their own
    PROJECTED = "projected"  # writes the spoke holds as its declared projection (lossy kind)


PULL_COUNTS: tuple[Count, ...] = (
    Count.LINK_ONLY, Count.CREATE_HUB_ITEM, Count.UPDATE_HUB_ITEM, Count.TOMBSTONE_HUB_ITEM,
    Count.DROP_LINK, Count.QUARANTINE, Count.IGNORED, Count.CONFLICTS,
)
PUSH_COUNTS: tuple[Count, ...] = (
    Count.CREATE_IN_SPOKE, Count.UPDATE_IN_SPOKE, Count.DELETE_IN_SPOKE, Count.BUMP_LINK,
)
#: counts of ops that changed the hub ("merged" in the control plane)
MERGE_COUNTS: tuple[Count, ...] = (
    Count.CREATE_HUB_ITEM, Count.UPDATE_HUB_ITEM, Count.TOMBSTONE_HUB_ITEM,
)

_OP_STAT: dict[type, Count] = {
    LinkOnly: Count.LINK_ONLY, CreateHubItem: Count.CREATE_HUB_ITEM,
    UpdateHubItem: Count.UPDATE_HUB_ITEM, TombstoneHubItem: Count.TOMBSTONE_HUB_ITEM,
    DropLink: Count.DROP_LINK, Quarantine: Count.QUARANTINE,
    CreateInSpoke: Count.CREATE_IN_SPOKE, UpdateInSpoke: Count.UPDATE_IN_SPOKE,
    DeleteInSpoke: Count.DELETE_IN_SPOKE, BumpLink: Count.BUMP_LINK,
}


def count_ops(ops: Iterable[object], keys: Iterable[Count]) -> dict[str, int]:
    """How many ops of each kind, keyed by the count names (every key present)."""
    stats: dict[str, int] = dict.fromkeys(keys, 0)
    for op in ops:
        stats[_OP_STAT[type(op)]] += 1
    return stats
