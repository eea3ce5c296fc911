"""The push half of the planner: which writes the hub makes in a spoke (DESIGN.md "The sync
cycle", step 2, last rows). Pure and deterministic, like :mod:`cirahub.core.plan`.

Guarantees: a write only when the spoke's ``hub_writes`` allows it and the spoke is not
read-only (a BumpLink is not a write); leaving a privacy/category filter removes the copy but
is never a hub deletion; only *creation* is windowed — a linked copy is kept current.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cirahub.core.counts import PUSH_COUNTS, count_ops
from cirahub.core.filters import content_filter, filters_content, in_window
from cirahub.core.fingerprint_versions import pushed_agrees
from cirahub.core.item import Item
from cirahub.core.model import HubItem, Link
from cirahub.core.ops import BumpLink, CreateInSpoke, DeleteInSpoke, SpokeOp, UpdateInSpoke
from cirahub.core.options import NONE, PrivateMode
from cirahub.core.plan_types import SpokeContext
from cirahub.core.projection import ignored_fields, is_private, project_for_spoke, spoke_fingerprint


@dataclass(frozen=True)
class PushPlan:
    """Spoke operations of one push, sorted by hub item id."""

    ops: tuple[SpokeOp, ...]
    stats: Mapping[str, int]


def identity_projection(ctx: SpokeContext) -> bool:
    """Whether this spoke's projection leaves every item as it is (nothing ignored, no tag;
    busy mode makes a *private* item a busy block, see :func:`_projected`). Then the
    projection of a hub item is that item, and its spoke fingerprint is its hub fingerprint:
    ``spoke_fingerprint(project_for_spoke(x)) == fingerprint(x)`` (``ignore`` is empty)."""
    opts, caps = ctx.options, ctx.capabilities
    return not ignored_fields(opts, caps) and opts.tag_category is None


def _projected(ctx: SpokeContext, hub_item: HubItem, identity: bool) -> tuple[Item, str]:
    """The content to write for ``hub_item`` and its spoke fingerprint. Under an identity
    projection that is the hub item itself and the fingerprint the store keeps of it
    (:attr:`~cirahub.core.model.HubItem.fingerprint`, ``fingerprint(item)`` at the current
    version: written by the merge, recomputed by a fingerprint-version migration), not
    recomputed per push."""
    item = hub_item.item
    assert item is not None
    if (identity and hub_item.fingerprint is not None
            and not (ctx.options.private == PrivateMode.BUSY and is_private(item))):
        return item, hub_item.fingerprint
    projected = project_for_spoke(item, ctx.options, ctx.capabilities)
    return projected, spoke_fingerprint(projected, ctx.options, ctx.capabilities)


def _push_one(ctx: SpokeContext, hub_item: HubItem, link: Link | None, now: datetime,
              identity: bool = False, filtering: bool = True) -> SpokeOp | None:
    opts, caps = ctx.options, ctx.capabilities
    allowed = NONE if caps.read_only else opts.hub_writes
    if hub_item.item is None:
        # deleted in the hub: delete the spoke's copy
        if link is not None and allowed.delete:
            return DeleteInSpoke(hub_item.id, hub_item.version, link.remote_id, link.remote_version)
        return None
    if hub_item.item.get("component") and not caps.carries_components:
        return None  # a task or journal entry: only iCalendar spokes can hold it
    if filtering and content_filter(hub_item.item, opts) is not None:
        # left a filter (became private, lost a category): remove the copy, not a hub delete
        if link is not None and allowed.delete:
            return DeleteInSpoke(
                hub_item.id, hub_item.version, link.remote_id, link.remote_version, "filtered"
            )
        return None
    projected, fp_p = _projected(ctx, hub_item, identity)
    if link is None:
        # new to this spoke; only creation is windowed (a linked copy is kept current)
        if allowed.create and in_window(hub_item.item, opts, now):
            return CreateInSpoke(hub_item.id, hub_item.version, projected, fp_p)
        return None
    if pushed_agrees(link, projected, fp_p, hub_item.version, opts, caps):
        # the spoke already shows this content (an echo, or a change it cannot carry)
        return BumpLink(hub_item.id, hub_item.version) if link.hub_version < hub_item.version else None
    if allowed.update:
        return UpdateInSpoke(
            hub_item.id, hub_item.version, link.remote_id, link.remote_version, projected, fp_p
        )
    return None


def plan_push(
    ctx: SpokeContext,
    candidates: Iterable[HubItem],
    links_by_item: Mapping[str, Link],
    now: datetime,
) -> PushPlan:
    """Plan the spoke writes for the changed hub items ``candidates`` (the newest version of
    each id counts). Writes only what ``hub_writes`` allows (nothing to a read-only spoke);
    a BumpLink is not a write. Deterministic: ops sorted by hub item id."""
    latest: dict[str, HubItem] = {}
    for hub_item in candidates:
        known = latest.get(hub_item.id)
        if known is None or hub_item.version > known.version:
            latest[hub_item.id] = hub_item
    ops = []
    identity = identity_projection(ctx)
    filtering = filters_content(ctx.options)  # else every item passes: not asked per item
    for hub_item_id in sorted(latest):
        op = _push_one(ctx, latest[hub_item_id], links_by_item.get(hub_item_id), now, identity,
                       filtering)
        if op is not None:
            ops.append(op)
    return PushPlan(tuple(ops), count_ops(ops, PUSH_COUNTS))
