"""One pull → plan → merge → push pass of a sync run (the body of a recorded run of
:class:`~cirahub.actors.cycle.SyncCycle`, which records it; this module decides nothing:
decisions are :mod:`cirahub.core.plan`'s, I/O the connector's and the store's).

Ordering guarantees of a pass (what makes a crash at any point safe):

- the pull cursor advances only after the merge committed, so a crash re-pulls (merge ops
  are idempotent);
- a link is committed only after its spoke write succeeded, and holds the returned remote
  version and the fingerprint of what was written, so the next pull recognizes the echo;
- the push cursor advances only past hub versions whose writes all succeeded;
- ops that went stale (another spoke merged first) are re-planned, at most
  :data:`MAX_REPLANS` times; a stale remote version on push re-pulls and re-plans the
  whole pass, bounded alike, and never overwrites.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from cirahub.actors.halting import confirmed, record_halt
from cirahub.actors.known import KnownVersions
from cirahub.actors.merger import Merger
from cirahub.actors.paged_pull import merge_pages, pages_of
from cirahub.actors.pulling import first_plan, links_for, plan_pull_of
from cirahub.actors.pushing import Pusher, PushOutcome
from cirahub.actors.summary import RunStatus
from cirahub.connectors.base import SpokeConnector
from cirahub.core.counts import Count
from cirahub.core.model import Delta, WriteFailure
from cirahub.core.plan import SpokeContext
from cirahub.core.states import SpokeState
from cirahub.store.protocols import SyncStore
from cirahub.store.records import SpokeRecord

__all__ = ["MAX_REPLANS", "Passes", "Progress"]

#: how often stale merge ops are re-planned within one run before the run gives up on them
MAX_REPLANS = 2

Progress = Callable[[str, Mapping[str, int]], None]


@dataclass
class _Pass:
    """The outcome of one pull → merge → push pass."""

    status: RunStatus
    push: PushOutcome | None = None


class Passes:
    """The passes of :class:`~cirahub.actors.cycle.SyncCycle` (its base: the attributes
    below are the cycle's, set by its constructor)."""

    store: SyncStore
    connector: SpokeConnector
    spoke_id: str
    merger: Merger
    clock: Callable[[], datetime]
    progress: Progress
    pushed_to: int | None
    _failures: dict[str, WriteFailure]
    _prefetched: Delta | Exception | None

    def _sync(self, spoke: SpokeRecord, counts: dict[str, int], push: bool = True) -> RunStatus:
        result = self._pass(spoke, counts, push)
        # A stale remote version on push means "re-pull and re-plan", never overwrite: the
        # spoke changed under us, so run again at once (bounded).
        for _ in range(MAX_REPLANS):
            if result.status != RunStatus.PARTIAL or result.push is None or not result.push.stale:
                break
            counts[Count.REPULLS] = counts.get(Count.REPULLS, 0) + 1
            result = self._pass(self.store.get_spoke(self.spoke_id), counts, push)
        return result.status

    def _sync_pull(self, spoke: SpokeRecord, counts: dict[str, int]) -> RunStatus:
        return self._sync(spoke, counts, push=False)

    def _push_only(self, spoke: SpokeRecord, counts: dict[str, int]) -> RunStatus:
        if spoke.first_attach:
            return self._sync(spoke, counts)  # first-attach matching comes first
        self.progress("pushing", counts)
        outcome = self._push(self._context(spoke), spoke.hub_id, spoke.push_cursor, (),
                             self.clock(), counts)
        return RunStatus.PARTIAL if outcome.failed else RunStatus.OK

    def _pull(self, spoke: SpokeRecord, known: KnownVersions) -> Delta:
        """The spoke's delta: the one the idle probe already pulled, else a new pull."""
        prefetched, self._prefetched = self._prefetched, None
        if isinstance(prefetched, Exception):
            raise prefetched
        if prefetched is not None:
            return prefetched
        return self.connector.delta(spoke.pull_cursor, known)

    # --- one pass -----------------------------------------------------------------------------

    def _context(self, spoke: SpokeRecord) -> SpokeContext:
        return SpokeContext(spoke_id=spoke.id, options=spoke.options,
                            capabilities=self.connector.capabilities,
                            first_attach=spoke.first_attach)

    def _pass(self, spoke: SpokeRecord, counts: dict[str, int], push: bool = True) -> _Pass:
        now = self.clock()
        ctx = self._context(spoke)
        self.progress("pulling", counts)
        known = KnownVersions(self.store, spoke.id)
        # Hub versions up to ``own`` were all made by this run's merges (none of another
        # spoke's in between): their items are in sync with this spoke (what the merge could
        # not make so is in ``touched``), so the push need not read them back. None: another
        # writer's versions are mixed in (or the cursor lags after failed writes).
        delta, touched, own = self._pull_paged(spoke, ctx, known, now, counts)
        hub, links, plan = first_plan(self.store, ctx, spoke.hub_id, delta, known, now)
        counts[Count.REMOTE_DELETED] = len(delta.deleted)
        # Plan + merge (re-planning ops that went stale because another spoke merged first).
        self.progress("merging", counts)
        allow = False
        stale: set[str] = set()
        for attempt in range(MAX_REPLANS + 1):
            if attempt:
                plan = plan_pull_of(self.store, ctx, hub, delta, links, now, allow)
            if plan.halt and attempt == 0:
                allow = confirmed(spoke, delta, links)
                if not allow:
                    record_halt(self.store, spoke, plan.halt, delta, links)
                    counts[Count.HALTED] = 1
                    return _Pass(RunStatus.HALTED)
                plan = plan_pull_of(self.store, ctx, hub, delta, links, now, allow)
            _add(counts, plan.stats)
            touched |= plan.touched
            # Conflict records travel with their ops: logged by the merge that applies them.
            result = self.merger.merge(hub.id, spoke.id, plan.ops) if plan.ops else None
            stale = set(result.stale) if result is not None else set()
            if result is not None and result.versions and own is not None:
                # contiguous with what came before: exactly this merge's versions follow
                own = result.version if result.version - result.versions == own else None
            if not stale or attempt == MAX_REPLANS:
                break
            delta = replace(
                delta,
                changed=tuple(r for r in delta.changed if r.remote_id in stale),
                deleted=tuple(d for d in delta.deleted if d in stale),
            )
            links = links_for(self.store, spoke.id, delta, None)
        self._end_pull(spoke, delta, stale, counts)
        # Push.
        self.progress("pushing", counts)
        pusher = Pusher(self.store, self.connector, ctx)
        outcome = self._took(pusher.push(hub.id, spoke.push_cursor, touched, now, since=own) if push
                             else pusher.push_touched(hub.id, spoke.push_cursor, touched, now, own),
                             counts)
        if spoke.first_attach:
            self.store.end_first_attach(spoke.id)
        if outcome.failed or stale:
            return _Pass(RunStatus.PARTIAL, outcome)
        if _needs_ok(spoke):
            self.store.set_spoke_state(spoke.id, SpokeState.OK)
        return _Pass(RunStatus.OK, outcome)

    def _pull_paged(self, spoke: SpokeRecord, ctx: SpokeContext, known: KnownVersions,
                    now: datetime, counts: dict[str, int]) -> tuple[Delta, set[str], int | None]:
        """The delta still to plan, the items touched and the run's own hub versions so far
        (see ``own`` in :meth:`_pass`): a first pull merges its pages while it lists."""
        paged = pages_of(self.connector, known) if self._prefetched is None else None
        if paged is None:
            delta = self._pull(spoke, known)
            counts[Count.PULLED] = len(delta.changed)
            return delta, set(), spoke.push_cursor
        done = merge_pages(self.store, self.merger, ctx, spoke.hub_id, paged,
                           spoke.pull_cursor, known, now, spoke.push_cursor)
        _add(counts, done.stats)
        counts[Count.PULLED] = done.listed
        return done.rest, done.touched, done.own

    def _end_pull(self, spoke: SpokeRecord, delta: Delta, stale: set[str],
                  counts: dict[str, int]) -> None:
        if stale:
            counts[Count.STALE] = len(stale)
        if spoke.halt is not None:
            # Applied as confirmed, or nothing halts any more: either way the halt is over
            # and its confirmation must not carry over to a later one.
            self.store.clear_halt(spoke.id)
        # Only now is the pull durable: advance the pull cursor (unless ops stayed stale,
        # which the next run must pull again); a cursor that did not move is not written.
        if not stale and delta.cursor != spoke.pull_cursor:
            self.store.set_cursors(spoke.id, pull_cursor=delta.cursor)

    def _push(self, ctx: SpokeContext, hub_id: str, push_cursor: int, touched: Iterable[str],
              now: datetime, counts: dict[str, int], since: int | None = None) -> PushOutcome:
        outcome = Pusher(self.store, self.connector, ctx).push(hub_id, push_cursor, touched, now,
                                                               since=since)
        return self._took(outcome, counts)

    def _took(self, outcome: PushOutcome, counts: dict[str, int]) -> PushOutcome:
        """Note what a push did: its snapshot, its counts, its failures by item."""
        self.pushed_to = outcome.version
        _add(counts, outcome.counts)
        for hub_item_id in outcome.succeeded:
            self._failures.pop(hub_item_id, None)
        self._failures.update((f.hub_item_id, f) for f in outcome.failures)
        return outcome


def _needs_ok(spoke: SpokeRecord) -> bool:
    """Whether a run that succeeded must record the spoke as ok: not when the spoke was
    already ok with no error (the write would change nothing; a no-change run then writes
    its run record only)."""
    return (spoke.state != SpokeState.OK or spoke.last_error is not None
            or spoke.halted_reason is not None)


def _add(counts: dict[str, int], stats: Mapping[str, int]) -> None:
    for key, value in stats.items():
        counts[key] = counts.get(key, 0) + int(value)
