"""The pull side of a run: load exactly the hub state a delta needs, then plan (pure)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from cirahub.actors.known import KnownVersions
from cirahub.core.fingerprint import match_key
from cirahub.core.item import Item
from cirahub.core.model import Delta, HubItem, Link
from cirahub.core.plan import HubView, PullPlan, SpokeContext, plan_pull
from cirahub.store.protocols import SyncStore
from cirahub.store.records import HubRecord


def links_for(store: SyncStore, spoke_id: str, delta: Delta,
              known: KnownVersions | None) -> dict[str, Link]:
    """The links planning this delta needs (see plan_pull): those of the delta's remote ids
    and changed UIDs (a no-change delta reads none; ``known`` only had their versions)."""
    if not delta.changed and not delta.deleted:
        return {}
    return store.links_for(
        spoke_id,
        remote_ids=[r.remote_id for r in delta.changed] + list(delta.deleted),
        uids={r.item.uid for r in delta.changed if r.item is not None},
    )


def first_plan(store: SyncStore, ctx: SpokeContext, hub_id: str, delta: Delta,
               known: KnownVersions | None, now: datetime, *,
               unmatched: Collection[str] = (),
               ) -> tuple[HubRecord, dict[str, Link], PullPlan]:
    """The hub, the delta's links and its first plan, all read in one read transaction
    (a transaction per read cost a pool checkout, BEGIN and ROLLBACK each); it ends before
    the merge, so a re-plan (:func:`plan_pull_of`) reads what the merge left.
    ``unmatched``: hub item ids first-attach matching by content must not match (made by
    earlier pages of this listing, see :mod:`cirahub.actors.paged_pull`)."""
    with store.snapshot():
        hub = store.get_hub(hub_id)
        links = links_for(store, ctx.spoke_id, delta, known)
        return hub, links, plan_pull_of(store, ctx, hub, delta, links, now, False, unmatched)


def plan_pull_of(
    store: SyncStore, ctx: SpokeContext, hub: HubRecord, delta: Delta,
    links: Mapping[str, Link], now: datetime, allow_mass_delete: bool,
    unmatched: Collection[str] = (),
) -> PullPlan:
    """Load the hub items, bases and links the delta refers to, then :func:`plan_pull`."""
    view = _hub_view(store, ctx, hub.id, delta, links, unmatched)
    # Only the safety checks (deletions, an empty complete listing) need the spoke's total
    # number of links; ``links`` may be just the ones this delta concerns.
    linked_count = (store.count_links(ctx.spoke_id) if delta.deleted or delta.complete
                    else len(links))
    return plan_pull(ctx, delta, links, view, hub.policy, now,
                     allow_mass_delete=allow_mass_delete, linked_count=linked_count)


def _hub_view(store: SyncStore, ctx: SpokeContext, hub_id: str, delta: Delta,
              links: Mapping[str, Link], unmatched: Collection[str] = ()) -> HubView:
    refs = [links[r.remote_id] for r in delta.changed if r.remote_id in links]
    refs += [links[d] for d in delta.deleted if d in links]
    uids = {r.item.uid for r in delta.changed if r.item is not None and r.remote_id not in links}
    by_uid = store.hub_items_by_uid(hub_id, uids) if uids else {}
    by_match: Mapping[str, HubItem] = {}
    match_keys: dict[str, str | None] = {}
    if ctx.first_attach:
        # computed once per item: the plan and the merge take them from here (HubView)
        match_keys = {r.remote_id: match_key(r.item) for r in delta.changed
                      if r.item is not None and r.remote_id not in links}
        keys = {k for k in match_keys.values() if k}
        by_match = store.hub_items_by_match_key(hub_id, keys) if keys else {}
        if unmatched:
            by_match = {k: h for k, h in by_match.items() if h.id not in unmatched}
    # Hub items an unlinked remote item may be matched to (same UID, or same content on
    # first attach), and whether this spoke already links them elsewhere.
    candidates = {h.id: h for h in (*by_uid.values(), *by_match.values())}
    ids = {ln.hub_item_id for ln in refs}
    # Writes sent and never confirmed, of the linked items and of the delta's unlinked UIDs
    # (a create whose answer was lost has no link; its hub item may be deleted since).
    pending = store.pending_writes(ctx.spoke_id, hub_item_ids=ids, uids=uids) if (
        ids or uids) else {}
    # Copies the pusher deleted, of hub items with those UIDs: one that comes back unchanged is
    # a late write of ours (row 4b'').
    deleted_copies = store.deleted_copies(ctx.spoke_id, uids) if uids else {}
    ids |= (set(pending) | set(deleted_copies)) - set(candidates)
    by_id = {**candidates, **(store.hub_items(hub_id, ids) if ids else {})}
    bases = store.item_versions({(ln.hub_item_id, ln.hub_version) for ln in refs})
    linked = {ln.hub_item_id: ln.remote_id for ln in links.values()}
    unknown = (set(candidates) | set(pending) | set(deleted_copies)) - set(linked)
    if unknown:
        linked.update((i, ln.remote_id) for i, ln in
                      store.links_by_item(ctx.spoke_id, unknown).items())
    # A spoke edit of an item deleted in the hub revives it with what it held before
    # the delete (rare: only read for tombstones this delta edits).
    changed_ids = {links[r.remote_id].hub_item_id for r in delta.changed
                   if r.remote_id in links}
    last_alive = {
        i: alive for i in changed_ids if i in by_id and by_id[i].deleted
        and (alive := _last_alive(store, i)) is not None
    }
    return HubView(by_id=by_id, by_uid=by_uid, by_match_key=by_match, match_keys=match_keys,
                   bases=bases,
                   linked_in_spoke=linked, last_alive=last_alive, pending=pending,
                   deleted_copies=deleted_copies)


def _last_alive(store: SyncStore, hub_item_id: str) -> Item | None:
    versions = [v.item for v in store.hub_item_history(hub_item_id) if v.item is not None]
    return versions[-1] if versions else None
