"""A first pull in pages: the listing is still being read while its first pages merge.

An initial sync of a full folder spent its time in two halves one after the other: the
listing parsed every file (on every core, :mod:`cirahub.connectors.parse_pool`), then plan
and merge ran on one core. A connector that can hand over its listing in pages
(``paged_delta(cursor, known, on_page)``: the changed items of each page, in listing order,
every one of them also in the delta it returns) lets :func:`merge_pages` plan and merge each
page on the run's thread while the listing reads on: the parse and the merge overlap.

Only for a spoke that holds no link (its first pull, or one after every link went): then no
deletion and no mass-delete halt can come of the listing (nothing is linked), so merging a
page before the listing is complete decides nothing the complete listing would decide
otherwise. The run keeps its guarantees:

- the pull cursor moves only after the last merge (the run's own code, after this);
- a listing that fails after some pages merged is the run's error, as a failed listing is:
  what merged stays (creates and links, each idempotent; the next run lists them as known),
  nothing is deleted, the cursor does not move;
- duplicate UIDs across pages are quarantined as in one plan: an item whose UID an earlier
  page's item holds waits for the plan of the rest, with that earlier item when it got no
  link (else its link is read by UID), so the first remote id keeps the UID as in one plan;
  first-attach matching by content never matches an item to a hub item made by an earlier
  page of the same listing (one plan would create both);
- ops a page's merge found stale, and items of the listing no page carried, are planned by
  the run afterwards with the complete delta's cursor and deletions (see :class:`Paged`).

Into an empty hub (version 0 when the listing begins: no hub item, no tombstone, so no link,
pending write or deleted copy either) pages are planned without reads (:class:`Alone`): the
links, hub items by UID and by match key a page's plan would read can only be what earlier
pages made, and those never decide a later page (its UIDs are no earlier page's, it never
matches their content, its remote ids are new). That holds while every merge's versions
follow the previous one's (no other writer came between); once not, pages read as above.
A writer that came before a page's merge (another spoke's create of a UID the page holds)
makes that create stale, planned again by the run; one of the same content but another UID
is not matched, as if it had merged just after the page's plan.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cirahub.actors.merger import Merger
from cirahub.actors.pulling import first_plan
from cirahub.core.model import Delta, RemoteItem
from cirahub.core.ops import CreateHubItem, LinkOnly, UpdateHubItem
from cirahub.core.plan import HubView, PullPlan, SpokeContext, plan_pull
from cirahub.store.protocols import SyncStore
from cirahub.store.records import HubRecord, MergeResult

__all__ = ["Paged", "merge_pages", "pages_of"]

PagedDelta = Callable[[str | None, Mapping[str, str], Callable[[Sequence[RemoteItem]], None]],
                      Delta]


def pages_of(connector: Any, known: Mapping[str, str]) -> PagedDelta | None:
    """The connector's paged listing when this pull may merge in pages (see the module
    docstring: the spoke holds no link), else None."""
    paged = getattr(connector, "paged_delta", None)
    return paged if paged is not None and len(known) == 0 else None


@dataclass
class Paged:
    """What the pages merged: their plans' counts, touched items and merged hub versions,
    and what the run still plans (``rest``: the complete delta without the items the pages
    merged, with the stale ones back in it)."""

    rest: Delta
    stats: dict[str, int] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)
    #: hub versions up to this one are this run's own (see SyncCycle._pass); None: mixed
    own: int | None = None
    listed: int = 0  # changed items of the complete listing


@dataclass
class Alone:
    """The hub as this listing's pages left it, while only they wrote to it since it was
    empty (see the module docstring): ``version`` is the last one their merges assigned."""

    hub: HubRecord
    version: int = 0
    holds: bool = True  # False once another writer came between (pages read again)

    def plan(self, ctx: SpokeContext, delta: Delta, now: datetime) -> PullPlan:
        """The plan :func:`first_plan` would make, without reading: no link, an empty view."""
        return plan_pull(ctx, delta, {}, HubView(), self.hub.policy, now, linked_count=0)

    def merged(self, result: MergeResult) -> None:
        """Note a page's merge: the hub stays the pages' own if its versions follow the
        last ones and none of its ops was stale (only another writer makes them stale)."""
        self.holds = self.holds and not result.stale and (
            result.version - result.versions == self.version)
        self.version = result.version


def alone_in(store: SyncStore, hub_id: str) -> Alone | None:
    """An :class:`Alone` when the hub holds nothing (version 0), else None."""
    hub = store.get_hub(hub_id)
    return Alone(hub) if hub.version == 0 else None


class _Stop(Exception):
    """The run stopped taking pages (its merge failed): the listing ends."""


_END = object()
#: ops that leave their remote item linked
LINKING = (CreateHubItem, LinkOnly, UpdateHubItem)


def merge_pages(store: SyncStore, merger: Merger, ctx: SpokeContext, hub_id: str,
                pull: PagedDelta, cursor: str | None, known: Mapping[str, str], now: datetime,
                own: int | None) -> Paged:
    """List with ``pull`` on a thread of its own while this thread plans and merges each
    page it hands over, in order. Raises what the listing raised (after merging the pages
    it gave) or what a merge raised (the listing is stopped first)."""
    pages: queue.SimpleQueue[Any] = queue.SimpleQueue()
    stop = threading.Event()

    def on_page(items: Sequence[RemoteItem]) -> None:
        if stop.is_set():
            raise _Stop
        if items:
            pages.put(tuple(items))

    def listing() -> None:
        try:
            pages.put((_END, pull(cursor, known, on_page)))
        except BaseException as exc:  # handed to the run's thread
            pages.put((_END, exc))

    alone = alone_in(store, hub_id)  # read before the listing: its pages merge meanwhile
    thread = threading.Thread(target=listing, name="paged-pull", daemon=True)
    thread.start()
    out = Paged(Delta(), own=own)
    planned: set[str] = set()  # remote ids a page planned
    linked: set[str] = set()  # ... whose merge linked them
    stale: set[str] = set()
    created: set[str] = set()  # hub items the pages made: never matched by content
    first: dict[str, str] = {}  # UID -> the first remote id of the listing holding it
    keepers: set[str] = set()  # first remote ids of a UID a later page holds again
    try:
        while True:
            page = pages.get()
            if page and page[0] is _END:
                break
            mine = []
            for r in page:
                if r.item is not None and first.setdefault(r.item.uid, r.remote_id) != r.remote_id:
                    keepers.add(first[r.item.uid])  # planned with the rest, as a duplicate
                else:
                    mine.append(r)
            linked |= plan_page(store, merger, ctx, hub_id, mine, now, out, stale, created, alone)
            planned.update(r.remote_id for r in mine)
    except BaseException:
        stop.set()
        thread.join()
        raise
    thread.join()
    result = page[1]
    if isinstance(result, BaseException):
        raise result
    assert isinstance(result, Delta)
    out.listed = len(result.changed)
    # a first holder of a UID that got no link is planned again with its duplicates (so it
    # keeps its UID; its own counts then count twice: rare, and only counts)
    again = stale | (keepers - linked)
    out.rest = replace(result, changed=tuple(
        r for r in result.changed if r.remote_id not in planned or r.remote_id in again))
    return out


def plan_page(store: SyncStore, merger: Merger, ctx: SpokeContext, hub_id: str,
              page: Sequence[RemoteItem], now: datetime, out: Paged, stale: set[str],
              created: set[str], alone: Alone | None = None) -> set[str]:
    """Plan and merge one page (a partial listing: it proves no deletion); the remote ids
    its merge linked. ``alone``: the pages' own hub (planned without reads while it holds)."""
    if not page:
        return set()
    delta = Delta(changed=tuple(page), complete=False)
    if alone is not None and alone.holds:
        hub, plan = alone.hub, alone.plan(ctx, delta, now)
    else:
        hub, _, plan = first_plan(store, ctx, hub_id, delta, None, now, unmatched=created)
    assert plan.halt is None  # a partial listing without deletions never halts
    for key, value in plan.stats.items():
        out.stats[key] = out.stats.get(key, 0) + int(value)
    out.touched |= plan.touched
    if not plan.ops:
        return set()
    result = merger.merge(hub.id, ctx.spoke_id, plan.ops)
    if alone is not None:
        alone.merged(result)
    stale.update(result.stale)
    created.update(result.created.values())
    if result.versions and out.own is not None:
        # contiguous with what came before: exactly this merge's versions follow
        out.own = result.version if result.version - result.versions == out.own else None
    return {op.remote_id for op in plan.ops
            if isinstance(op, LINKING) and op.remote_id not in result.stale}
