"""The safety halt of a run: which linked items a delta would delete, whether an operator
confirmed exactly that loss, and the halt record an operator is shown."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from cirahub.core.model import Delta, HubItem, Link
from cirahub.core.safety import halt_digest
from cirahub.store.protocols import SyncStore
from cirahub.store.records import PendingDelete, SpokeRecord

log = logging.getLogger(__name__)


def lost_remote_ids(delta: Delta, links: Mapping[str, Link]) -> list[str]:
    """Remote ids of linked items the delta says the spoke no longer holds."""
    changed = {r.remote_id for r in delta.changed}
    return sorted(d for d in delta.deleted if d in links and d not in changed)


def confirmed(spoke: SpokeRecord, delta: Delta, links: Mapping[str, Link]) -> bool:
    """Whether an operator confirmed exactly this loss (see core.safety.halt_digest)."""
    halt = spoke.halt
    return bool(halt is not None and halt.confirmed and halt.digest == halt_digest(
        lost_remote_ids(delta, links), delta.listing_size))


def record_halt(store: SyncStore, spoke: SpokeRecord, reason: str, delta: Delta,
                links: Mapping[str, Link]) -> None:
    """Halt the spoke, recording what it would delete (the hub's copies, sorted by start)."""
    lost_ids = lost_remote_ids(delta, links)
    lost = [links[d] for d in lost_ids]
    items = store.hub_items(spoke.hub_id, {ln.hub_item_id for ln in lost}) if lost else {}
    pending = sorted((_pending(ln, items.get(ln.hub_item_id)) for ln in lost),
                     key=lambda p: (p.start, p.summary, p.uid))
    deleting = sum(1 for ln in lost if items.get(ln.hub_item_id) is not None
                   and items[ln.hub_item_id].item is not None)
    halt = store.record_halt(spoke.id, reason, halt_digest(lost_ids, delta.listing_size),
                             pending, deleting)
    log.warning("spoke %s halted (%s): %s", spoke.id, halt.id, reason)


def _pending(link: Link, hub_item: HubItem | None) -> PendingDelete:
    """What a halt shows of one lost item: the hub's copy (summary, start as stored)."""
    item = hub_item.item if hub_item is not None else None
    start = item.get("start") if item is not None else None
    when = ""
    if isinstance(start, Mapping):
        when = str(start.get("date") or start.get("utc") or start.get("floating") or "")
    return PendingDelete(hub_item_id=link.hub_item_id, uid=link.uid,
                         summary=str(item.get("summary") or "") if item is not None else "",
                         start=when)
