"""The planner: the sync cycle's decision table (DESIGN.md "The sync cycle", step 2).

:func:`plan_pull` turns a spoke's delta into hub operations; :func:`cirahub.core.push.plan_push` turns changed
hub items into spoke writes. Both are pure and deterministic: the same inputs give the same
operations in the same order, whatever the order of the delta or the candidates (entries
are visited sorted by remote id / hub item id). Nothing here reads a clock (``now`` is
passed in) or does I/O.

Guarantees:

- a hub change is emitted only when the spoke's ``contributes`` allows it (create → create,
  update/resurrect → update, tombstone → delete); a spoke write only when ``hub_writes``
  allows it and the spoke is not read-only;
- leaving the window or a filter is never a deletion in the hub; an unlinked item the
  spoke may not contribute is left alone (we never delete what we did not create);
- an edit beats a delete, in both directions, and the lost delete is recorded as a conflict;
- a malformed item or a duplicate UID is quarantined, never treated as deleted;
- a suspicious mass deletion halts the whole pull (no operation at all) unless allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from cirahub.core.counts import PULL_COUNTS, Count, count_ops
from cirahub.core.field_merge import (
    conflict_records,
    consistent_source,
    merge_fields,
    same_content,
)
from cirahub.core.filters import content_filter, in_window
from cirahub.core.fingerprint import fingerprint
from cirahub.core.fingerprint_versions import pulled_agrees
from cirahub.core.item import FINGERPRINT_VERSION, Item
from cirahub.core.model import ConflictRecord, Delta, HubItem, Link, RemoteItem
from cirahub.core.ops import (
    CreateHubItem,
    DropLink,
    LinkOnly,
    TombstoneHubItem,
    UpdateHubItem,
)
from cirahub.core.options import ConflictPolicy
from cirahub.core.plan_echo import own_copy_of_deleted, pending_echo
from cirahub.core.plan_state import PullState
from cirahub.core.plan_types import HubView, Match, PullPlan, SpokeContext
from cirahub.core.projection import (
    carried_fields,
    from_spoke,
    overlay_uncarried,
)
from cirahub.core.safety import check_deletions, find_duplicate_uids

__all__ = ["HubView", "PullPlan", "SpokeContext", "plan_pull"]


class _PullPlanner(PullState):
    """Accumulates one pull's decisions. Used once by :func:`plan_pull`."""

    # --- the table --------------------------------------------------------------------------

    def run(self, allow_mass_delete: bool) -> PullPlan:
        duplicates = self.duplicates()
        for remote_id in sorted(self.changed):
            r = self.changed[remote_id]
            if r.item is None:
                # 1. the spoke holds something we cannot parse: report it, touch nothing
                self.quarantine(r, r.refused or "malformed", r.error or "could not be parsed")
            elif remote_id in duplicates:
                # 2. two items of one spoke claim one UID: keep the linked/first, report the other
                self.quarantine(
                    r, "duplicate-uid",
                    f"UID {r.item.uid} is also used by remote item {duplicates[remote_id]}",
                )
            elif remote_id in self.links:
                self.pull_linked(r, self.links[remote_id])
            else:
                self.pull_unlinked(r)
        for remote_id in self.deleted:
            self.pull_deleted(remote_id)
        # Deletions first: a DropLink must free a hub item before a moved copy links to it.
        ops = (*self.delete_ops, *self.change_ops)
        stats = count_ops(ops, PULL_COUNTS)
        stats[Count.IGNORED] = self.ignored
        records = tuple(c for op in ops if isinstance(op, UpdateHubItem | LinkOnly | DropLink)
                        for c in op.conflicts)
        stats[Count.CONFLICTS] = len(records)
        halt = None if allow_mass_delete else check_deletions(
            stats[Count.TOMBSTONE_HUB_ITEM], self.linked_count,
            listing_complete=self.delta_complete, listing_size=self.delta_size,
        )
        if halt is not None:
            return PullPlan((), halt, frozenset(), stats)
        return PullPlan(ops, None, frozenset(self.touched), stats, records)

    def duplicates(self) -> dict[str, str]:
        """Changed remote ids whose UID another remote item of this spoke already uses."""
        gone = set(self.deleted)
        uid_of = {rid: ln.uid for rid, ln in self.links.items() if rid not in gone}
        for rid, r in self.changed.items():
            if r.item is not None:
                uid_of[rid] = r.item.uid
        preferred = {rid for rid, ln in self.links.items() if uid_of.get(rid) == ln.uid}
        losers = find_duplicate_uids(uid_of, preferred)
        return {rid: keeper for rid, keeper in losers.items() if rid in self.changed}

    def pull_linked(self, r: RemoteItem, link: Link) -> None:
        assert r.item is not None
        hub_item = self.hub_item(link.hub_item_id)
        fp_r = self.fp(r.item)
        base = self.hub.bases.get((hub_item.id, link.hub_version))
        if pulled_agrees(link, r.item, fp_r, base, self.opts, self.caps):
            # 3a. echo of our own write, or a server-side version bump with the same meaning
            # (a fingerprint of an older version is stamped again, as what was read now)
            if (r.remote_version != link.remote_version
                    or link.fp_version != FINGERPRINT_VERSION):
                self.change_ops.append(LinkOnly(
                    r.remote_id, r.remote_version, link.hub_item_id, fp_r, link.hub_version))
            return
        sent = pending_echo(self.hub, link.hub_item_id, self.same(r.item, fp_r))
        if sent is not None:
            # 3a'. the echo of our own write whose answer was lost (or whose pusher died): the
            # spoke agrees with the hub version we sent; the push looks at what came since
            self.change_ops.append(LinkOnly(
                r.remote_id, r.remote_version, link.hub_item_id, fp_r, sent))
            self.touched.add(link.hub_item_id)
            return
        if not self.opts.contributes.update:
            # 3b. a mirror's local edit: keep the hub as it is; the push reverts the edit
            self.change_ops.append(
                LinkOnly(r.remote_id, r.remote_version, hub_item.id, fp_r, link.hub_version)
            )
            self.touched.add(hub_item.id)
            return
        if hub_item.item is None:
            alive = self.hub.last_alive.get(hub_item.id)
            if alive is not None and self.projected_fp(
                    Item(hub_item.uid, alive.fields, alive.overrides, alive.source)) == fp_r:
                # 3c'. the spoke holds what the hub held before the delete: the echo of our own
                # write whose answer was lost (no edit), so the delete goes on to this spoke
                self.change_ops.append(LinkOnly(
                    r.remote_id, r.remote_version, hub_item.id, fp_r, link.hub_version))
                return
            # 3c. edited in the spoke while deleted in the hub: the edit beats the delete
            self.resurrect(r, link, hub_item, base, fp_r)
            return
        # 3d. changed in the spoke (maybe in the hub too): field-level three-way merge
        self.merge_edit(r, hub_item, base, link.hub_version, fp_r)

    def resurrect(
        self, r: RemoteItem, link: Link, hub_item: HubItem, base: Item | None, fp_r: str
    ) -> None:
        assert r.item is not None
        alive = self.hub.last_alive.get(hub_item.id)
        if alive is not None:
            # merge the edit into what the hub held before the delete, so edits other spokes
            # made between this spoke's last sync and the delete survive too
            revived = replace(hub_item, item=Item(hub_item.uid, alive.fields, alive.overrides, alive.source))
            self.merge_edit(r, revived, base, link.hub_version, fp_r, resurrect=True)
            return
        carried = carried_fields(self.opts, self.caps, r.item, base)
        content = overlay_uncarried(from_spoke(r.item, base, self.opts, self.caps), base, carried)
        item = Item(hub_item.uid, content.fields, content.overrides, content.source)
        in_sync = self.projected_fp(item) == fp_r
        record = ConflictRecord(
            hub_item.id, hub_item.uid, self.ctx.spoke_id, (), kind="edit-vs-delete"
        )
        self.change_ops.append(UpdateHubItem(
            hub_item.id, hub_item.version, item, r.remote_id, r.remote_version, fp_r,
            in_sync, link.hub_version, conflicts=(record,), resurrect=True,
            hub_fingerprint=self.hub_fp(item, r.item, fp_r),
        ))
        if not in_sync:
            self.touched.add(hub_item.id)

    def merge_edit(
        self, r: RemoteItem, hub_item: HubItem, base: Item | None, base_version: int, fp_r: str,
        *, resurrect: bool = False, key: str | None = None,
    ) -> None:
        """Three-way merge of ``r`` into ``hub_item``; ``base`` None = no common ancestor.
        ``resurrect``: ``hub_item`` is a tombstone shown with its last alive content; the
        result revives it and the lost delete is logged. ``key``: ``r``'s match key if known."""
        assert r.item is not None and hub_item.item is not None
        hub = hub_item.item
        carried = carried_fields(self.opts, self.caps, r.item, hub)
        incoming = from_spoke(r.item, base if base is not None else hub, self.opts, self.caps)
        # What the spoke cannot carry (or sees masked) is taken from the hub on every side, so
        # it neither counts as a spoke edit nor conflicts inside an override.
        spoke = overlay_uncarried(incoming, hub, carried)
        base_seen = overlay_uncarried(base, hub, carried) if base is not None else None
        result = merge_fields(base_seen, hub, spoke, carried=carried, policy=self.policy)
        result = replace(result, item=consistent_source(result.item, r.item, hub))
        in_sync = self.projected_fp(result.item) == fp_r
        records = conflict_records(
            result, hub_item.id, hub_item.uid, self.ctx.spoke_id, hub, incoming
        )
        if resurrect:
            records = (*records, ConflictRecord(
                hub_item.id, hub_item.uid, self.ctx.spoke_id, (), kind="edit-vs-delete"))
        if same_content(result.item, hub) and not resurrect:
            # the hub already holds the merged content: only the link moves
            version = hub_item.version if in_sync else base_version
            self.change_ops.append(LinkOnly(r.remote_id, r.remote_version, hub_item.id, fp_r,
                                            version, conflicts=tuple(records)))
        else:
            self.change_ops.append(UpdateHubItem(
                hub_item.id, hub_item.version, result.item, r.remote_id, r.remote_version,
                fp_r, in_sync, base_version, conflicts=tuple(records), resurrect=resurrect,
                hub_fingerprint=self.hub_fp(result.item, r.item, fp_r),
                hub_match_key=self.hub_key(result.item, r.item, key),
            ))
        if not in_sync:
            self.touched.add(hub_item.id)

    def match(self, item: Item, key: str | None) -> Match | None:
        """The alive hub item ``item`` is the same as: by UID, on first attach by content
        (``key``: its match key)."""
        found = self.hub.by_uid.get(item.uid)
        if found is not None and not found.deleted:
            return Match(found, by_content=False)
        if self.ctx.first_attach:
            found = self.hub.by_match_key.get(key) if key is not None else None
            if found is not None and not found.deleted:
                return Match(found, by_content=True)
        return None

    def pull_unlinked(self, r: RemoteItem) -> None:
        item = r.item
        assert item is not None
        if content_filter(item, self.opts) is not None or not in_window(item, self.opts, self.now):
            # 4a. outside the window or a filter: not ours to import (and not a deletion)
            self.ignored += 1
            return
        fp_r = self.fp(item)
        key = self.key(r) if self.ctx.first_attach else None  # else the merge computes it
        match = self.match(item, key)
        if match is not None:
            self.pull_matched(r, match, fp_r, key)
            return
        echo = own_copy_of_deleted(self.hub, item, self.same(item, fp_r), self.has_copy)
        if echo is not None:
            # 4b'. our own create whose answer was lost, of an item deleted in the hub since;
            # 4b''. or exactly the copy the push deleted, back (a write of ours that reached
            # the spoke late, after the delete): linked to it, so the push deletes the copy
            # (it is no new item of this spoke). A restore from this spoke's trash looks the
            # same and is deleted again: an item comes back from where it was deleted.
            hub_item_id, sent = echo
            self.claimed[hub_item_id] = r.remote_id
            self.change_ops.append(
                LinkOnly(r.remote_id, r.remote_version, hub_item_id, fp_r, sent))
            self.touched.add(hub_item_id)
        elif self.opts.contributes.create:
            # 4c. a new item made in the spoke joins the hub (without what the spoke cannot carry)
            carried = carried_fields(self.opts, self.caps, None)
            content = overlay_uncarried(from_spoke(item, None, self.opts, self.caps), None, carried)
            self.change_ops.append(CreateHubItem(r.remote_id, r.remote_version, content, fp_r,
                                                 self.hub_fp(content, item, fp_r),
                                                 self.hub_key(content, item, key)))
        else:
            # 4c. a mirror's own local item: leave it alone, never delete what we did not create
            self.ignored += 1

    def pull_matched(self, r: RemoteItem, match: Match, fp_r: str, key: str | None) -> None:
        """4b: an unlinked remote item that is the same as an alive hub item."""
        hub_item = match.hub_item
        assert hub_item.item is not None and r.item is not None
        owner = self.linked_to.get(hub_item.id) or self.claimed.get(hub_item.id)
        if owner is not None and owner != r.remote_id:
            # 4b. the hub item already has a copy in this spoke: a second one is a duplicate
            self.quarantine(
                r, match.duplicate_reason,
                f"hub item {hub_item.id} is already linked to remote item {owner}",
            )
            return
        self.claimed[hub_item.id] = r.remote_id
        sent = pending_echo(self.hub, hub_item.id, self.same(r.item, fp_r))
        if self.projected_fp(hub_item.item) == fp_r:
            # 4b. the spoke already holds the hub's content (re-attach, restored backup)
            self.change_ops.append(
                LinkOnly(r.remote_id, r.remote_version, hub_item.id, fp_r, hub_item.version)
            )
        elif sent is not None:
            # 4b'. our own create whose answer was lost (or whose pusher died), the hub
            # changed since: linked at the version sent; the push writes what came since
            self.change_ops.append(LinkOnly(r.remote_id, r.remote_version, hub_item.id, fp_r, sent))
            self.touched.add(hub_item.id)
        elif not self.opts.contributes.update:
            # 4b. a mirror's stale copy of a hub item: link it; the push overwrites it
            self.change_ops.append(
                LinkOnly(r.remote_id, r.remote_version, hub_item.id, fp_r, hub_item.version)
            )
            self.touched.add(hub_item.id)
        else:
            # 4b. same item, different content, no common ancestor: every difference conflicts
            self.merge_edit(r, hub_item, None, hub_item.version, fp_r, key=key)

    def pull_deleted(self, remote_id: str) -> None:
        link = self.links.get(remote_id)
        if link is None:
            return  # 5. an item we never linked disappeared: nothing to do
        hub_item = self.hub.by_id.get(link.hub_item_id)
        drop = DropLink(remote_id, link.hub_item_id)
        if hub_item is None or hub_item.item is None:
            # 5. deleted on both sides: just forget the link
            self.delete_ops.append(drop)
        elif self.claimed.get(hub_item.id, remote_id) != remote_id:
            # 5. moved or renamed in the spoke (delete + create with the same UID): re-linked
            self.delete_ops.append(drop)
        elif not self.opts.contributes.delete:
            # 5. a spoke that may not delete lost a copy: the push re-creates it if allowed
            self.delete_ops.append(drop)
            self.touched.add(hub_item.id)
        elif self.hub_changed_since(hub_item, link):
            # 5. deleted in the spoke after an edit in the hub: the edit beats the delete
            self.delete_ops.append(replace(drop, conflicts=(ConflictRecord(
                hub_item.id, hub_item.uid, self.ctx.spoke_id, (), kind="edit-vs-delete"),)))
            self.touched.add(hub_item.id)
        else:
            # 5. deleted in the spoke, unchanged in the hub since: delete it everywhere
            self.delete_ops.append(TombstoneHubItem(hub_item.id, hub_item.version, remote_id))

    def hub_changed_since(self, hub_item: HubItem, link: Link) -> bool:
        """Whether the hub content changed in meaning after the spoke last agreed with it
        (any field, even one this spoke cannot see; an unknown base counts as changed)."""
        if hub_item.version <= link.hub_version:
            return False
        base = self.hub.bases.get((hub_item.id, link.hub_version))
        assert hub_item.item is not None
        return base is None or fingerprint(base) != fingerprint(hub_item.item)


def plan_pull(
    ctx: SpokeContext,
    delta: Delta,
    links: Mapping[str, Link],
    hub: HubView,
    policy: ConflictPolicy,
    now: datetime,
    *,
    allow_mass_delete: bool = False,
    linked_count: int | None = None,
) -> PullPlan:
    """Plan the hub operations for one spoke's ``delta``.

    ``links`` are this spoke's links keyed by remote id: all of them, or at least those of the
    delta's remote ids and those whose UID a changed item carries (no other link can change a
    decision); ``linked_count`` is then the spoke's total number of links (for the mass-delete
    check; default ``len(links)``). ``hub`` holds the hub items the delta refers to, and
    ``hub.linked_in_spoke`` the links of its UID/match candidates. Raises CirahubError when a
    link's hub item is missing from ``hub.by_id`` (the caller loaded an inconsistent view).
    See the module docstring for the guarantees.
    """
    return _PullPlanner(ctx, delta, links, hub, policy, now, linked_count).run(allow_mass_delete)
