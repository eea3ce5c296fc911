"""The planner's recognition of our own writes in what a spoke holds (rows 3a', 4b', 4b''
of :mod:`cirahub.core.plan`): pure lookups in the :class:`~cirahub.core.plan_types.HubView`.
``has_copy(hub_item_id)`` says whether the hub item already has another copy in the spoke."""

from __future__ import annotations

from collections.abc import Callable

from cirahub.core.item import Item
from cirahub.core.plan_types import HubView

#: ``same(stored fingerprint, its fingerprint version)``: whether the spoke's copy has it
#: (:func:`cirahub.core.fingerprint_versions.stored_agrees`)
Same = Callable[[str, int], bool]


def pending_echo(hub: HubView, hub_item_id: str, same: Same) -> int | None:
    """The hub version of the newest write this spoke was sent for ``hub_item_id`` and never
    confirmed whose content the spoke's copy has (None: the copy is none of them)."""
    sent = [p.hub_version for p in hub.pending.get(hub_item_id, ())
            if same(p.fingerprint, p.fp_version)]
    return max(sent) if sent else None


def own_copy_of_deleted(hub: HubView, item: Item, same: Same,
                        has_copy: Callable[[str], bool]) -> tuple[str, int] | None:
    """(hub item id, hub version) of a hub item with ``item``'s UID, deleted, with no other
    copy in this spoke, whose content ``item`` is exactly as we wrote it: a create this
    spoke was sent and never confirmed (4b'), else the copy the pusher deleted (4b'')."""
    for hub_item_id in sorted(hub.pending):
        sent = pending_echo(hub, hub_item_id, same)
        if sent is not None and _deleted_free(hub, hub_item_id, item, has_copy):
            return hub_item_id, sent
    for hub_item_id, copy in sorted(hub.deleted_copies.items()):
        if same(copy.fingerprint, copy.fp_version) and _deleted_free(hub, hub_item_id, item, has_copy):
            return hub_item_id, copy.hub_version
    return None


def _deleted_free(hub: HubView, hub_item_id: str, item: Item,
                  has_copy: Callable[[str], bool]) -> bool:
    hub_item = hub.by_id.get(hub_item_id)
    return (hub_item is not None and hub_item.uid == item.uid and hub_item.deleted
            and not has_copy(hub_item_id))
