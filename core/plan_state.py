"""The pull planner's state and helpers (:mod:`cirahub.core.plan` holds its decision table).

One :class:`PullState` per :func:`~cirahub.core.plan.plan_pull` call: the inputs, the ops so
far, and the small pure helpers the table's rows share (fingerprints as this spoke tells
them, the hub fingerprint and match key an op may carry, quarantine). No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from cirahub.core.errors import CirahubError
from cirahub.core.fingerprint import match_key, same_match_fields
from cirahub.core.fingerprint_versions import stored_agrees
from cirahub.core.item import Item
from cirahub.core.model import Delta, HubItem, Link, RemoteItem
from cirahub.core.ops import HubOp, Quarantine
from cirahub.core.options import ConflictPolicy, PrivateMode
from cirahub.core.plan_echo import Same
from cirahub.core.plan_types import HubView, SpokeContext
from cirahub.core.projection import ignored_fields, project_for_spoke, spoke_fingerprint


class PullState:
    """One pull's inputs and the decisions so far (see :mod:`cirahub.core.plan`)."""

    def __init__(
        self, ctx: SpokeContext, delta: Delta, links: Mapping[str, Link], hub: HubView,
        policy: ConflictPolicy, now: datetime, linked_count: int | None = None,
    ) -> None:
        self.ctx, self.links, self.hub, self.policy, self.now = ctx, links, hub, policy, now
        self.opts, self.caps = ctx.options, ctx.capabilities
        self.changed = {r.remote_id: r for r in delta.changed}
        self.delta_complete, self.delta_size = delta.complete, delta.listing_size
        # A remote id reported both changed and deleted was re-created: the change wins.
        self.deleted = sorted(set(delta.deleted) - set(self.changed))
        gone = set(self.deleted)
        self.linked_to = {h: r for h, r in hub.linked_in_spoke.items() if r not in gone}
        self.linked_to.update(
            {ln.hub_item_id: rid for rid, ln in links.items() if rid not in gone}
        )
        self.claimed: dict[str, str] = {}  # hub item id -> unlinked remote id matched to it
        self.change_ops: list[HubOp] = []
        self.delete_ops: list[HubOp] = []
        self.touched: set[str] = set()
        self.ignored = 0
        self.linked_count = len(links) if linked_count is None else linked_count
        # the projection drops, tags and masks nothing: a spoke fingerprint is a hub one
        self.identity = not ignored_fields(self.opts, self.caps) and (
            self.opts.tag_category is None and self.opts.private != PrivateMode.BUSY)

    # --- helpers ----------------------------------------------------------------------------

    def fp(self, item: Item) -> str:
        return spoke_fingerprint(item, self.opts, self.caps)

    def projected_fp(self, item: Item) -> str:
        return self.fp(project_for_spoke(item, self.opts, self.caps))

    def hub_fp(self, content: Item, spoke_item: Item, fp_r: str) -> str | None:
        """``fp_r`` (of ``spoke_item``) when it is the hub fingerprint of ``content`` too,
        else None (the merge computes it)."""
        same = content is spoke_item or (
            content.fields == spoke_item.fields and content.overrides == spoke_item.overrides)
        return fp_r if self.identity and same else None

    def same(self, item: Item, fp_r: str) -> Same:
        """Whether a stored fingerprint (of its version) is that of the spoke's ``item``."""
        return lambda fp, version: stored_agrees(fp, version, item, fp_r, self.opts, self.caps)

    def hub_item(self, hub_item_id: str) -> HubItem:
        hub_item = self.hub.by_id.get(hub_item_id)
        if hub_item is None:
            raise CirahubError(
                "the hub view lacks a linked hub item", hub_item_id=hub_item_id,
                spoke_id=self.ctx.spoke_id,
            )
        return hub_item

    def has_copy(self, hub_item_id: str) -> bool:
        return (self.linked_to.get(hub_item_id) or self.claimed.get(hub_item_id)) is not None

    def quarantine(self, r: RemoteItem, reason: str, detail: str) -> None:
        uid = r.item.uid if r.item is not None else None
        self.change_ops.append(
            Quarantine(r.remote_id, r.remote_version, reason, detail, uid=uid, raw=r.raw)
        )

    def key(self, r: RemoteItem) -> str | None:
        """The match key of the unlinked ``r`` (first attach): the one the hub view was read
        with (:attr:`HubView.match_keys`), else computed here."""
        assert r.item is not None
        keys = self.hub.match_keys
        return keys[r.remote_id] if r.remote_id in keys else match_key(r.item)

    @staticmethod
    def hub_key(content: Item, spoke_item: Item, key: str | None) -> str | None:
        """``key`` (the match key of ``spoke_item``) when it is that of ``content`` too, else
        None (the merge computes it)."""
        return key if key is not None and same_match_fields(content, spoke_item) else None
