"""One sync run for one spoke: pull → plan → merge → push, recorded as a sync run.

The cycle is plain Python (no Ray): the spoke actor wraps it, tests drive it directly. It only
orchestrates — decisions are :mod:`cirahub.core.plan`'s, I/O is the connector's and the store's,
merges go through a :class:`~cirahub.actors.merger.Merger` (the store directly, or the hub
actor on Ray).

Ordering guarantees (these are what make a crash at any point safe):

- the pull cursor advances only after the merge committed, so a crash re-pulls (merge ops are
  idempotent);
- a link is committed only after its spoke write succeeded, and holds the returned remote
  version and the fingerprint of what was written, so the next pull recognizes the echo;
- the push cursor advances only past hub versions whose writes all succeeded.

A *push run* (:meth:`SyncCycle.push_run`, the fan-out after another spoke changed the hub)
is the push half alone; a spoke that never completed a full run gets a full run instead, so
first-attach matching always happens before the hub writes into it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cirahub.actors.failures import failure_record, partial_error
from cirahub.actors.halting import confirmed, record_halt
from cirahub.actors.idle import IdlePolls
from cirahub.actors.known import KnownVersions
from cirahub.actors.merger import LocalMerger, Merger
from cirahub.actors.paged_pull import merge_pages, pages_of
from cirahub.actors.pulling import first_plan, links_for, plan_pull_of
from cirahub.actors.pushing import Pusher, PushOutcome
from cirahub.actors.summary import RunStatus, RunSummary, Trigger
from cirahub.connectors.base import SpokeConnector
from cirahub.core.counts import Count
from cirahub.core.errors import (
    AuthError,
    NotFound,
    StoreError,
    WriterFenced,
)
from cirahub.core.model import Delta, WriteFailure
from cirahub.core.plan import SpokeContext
from cirahub.core.states import SpokeState
from cirahub.store.protocols import SyncStore
from cirahub.store.records import SpokeRecord

__all__ = ["FULL", "PULL", "PUSH", "LocalMerger", "Merger", "RunStatus", "RunSummary", "SyncCycle",
           "Trigger", "run_mode"]

log = logging.getLogger(__name__)

#: how often stale merge ops are re-planned within one run before the run gives up on them
MAX_REPLANS = 2

Progress = Callable[[str, Mapping[str, int]], None]

#: what a run does (:meth:`SyncCycle.run`): pull, merge and push (a complete run); pull and
#: merge, pushing only what the merge could not make the same as the spoke (a *pull run*,
#: whose push run comes after every other spoke's pull: ``sync now`` of several spokes);
#: push only (a *push run*)
FULL, PULL, PUSH = "full", "pull", "push"


def run_mode(modes: Collection[str], push_due: bool = False) -> str:
    """The run that answers every caller that asked for one of ``modes``: a pull run or a
    push run when all asked for that one (a pull run not when a push is due too), else
    (none, both, a complete run) a complete run, which does what either would."""
    kinds = set(modes)
    if len(kinds) == 1 and kinds <= {PULL, PUSH} and not (push_due and PULL in kinds):
        return kinds.pop()
    return FULL


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Pass:
    """The outcome of one pull → merge → push pass."""

    status: RunStatus
    push: PushOutcome | None = None


class SyncCycle:
    """Runs sync runs for one spoke of one hub.

    :param store: the canonical store (see :class:`~cirahub.store.protocols.SyncStore`)
    :param connector: the spoke's connector
    :param merger: where pull ops are applied (a :class:`LocalMerger` or the hub actor)
    :param clock: returns "now" (UTC-aware); passed into the planner
    :param progress: called with (phase, counts) as the run advances
    """

    def __init__(
        self,
        store: SyncStore,
        connector: SpokeConnector,
        spoke_id: str,
        merger: Merger,
        *,
        clock: Callable[[], datetime] = _utcnow,
        progress: Progress | None = None,
        unrecorded: list[str] | None = None,
        idle: IdlePolls | None = None,
    ) -> None:
        self.store = store
        self.connector = connector
        self.spoke_id = spoke_id
        self.merger = merger
        self.clock = clock
        self.progress = progress or (lambda phase, counts: None)
        #: ids of this spoke's runs whose end could not be recorded; kept by the caller
        #: between runs (the spoke actor's per-spoke state) and closed before the next run
        self.unrecorded = unrecorded if unrecorded is not None else []
        #: the current run's failed writes by hub item (see :func:`partial_error`)
        self._failures: dict[str, WriteFailure] = {}
        #: the hub version the last run pushed up to (its snapshot; None: it did not push),
        #: which tells the fan-out whether a notice that came meanwhile needs another run
        self.pushed_to: int | None = None
        #: where scheduled polls that find nothing to do are folded (the spoke actor's
        #: buffer, see :mod:`cirahub.actors.idle`); None: every run is recorded on its own
        self.idle = idle
        #: the delta (or the error) of a poll that was not idle: the run goes on with it
        self._prefetched: Delta | Exception | None = None
        #: whether the last run was an idle poll (folded into ``self.idle``, not recorded)
        self.folded = False

    # --- runs ---------------------------------------------------------------------------------

    def run(self, trigger: str = Trigger.MANUAL, *, spoke: SpokeRecord | None = None,
            hub_version: int | None = None, modes: Collection[str] = ()) -> RunSummary:
        """One complete run. Never raises for spoke-side failures (they end up in the summary
        and the spoke's state); raises WriterFenced (this process must stop writing) and
        StoreError (the store itself is down). ``spoke`` and ``hub_version``: as the caller
        just read them (``Store.poll_view``), so an idle poll reads nothing more. ``modes``:
        what the callers asked for (see :func:`run_mode`): a pull run or a push run instead
        when they all asked for that one."""
        mode = run_mode(modes)
        if mode == PUSH:
            return self.push_run(trigger)
        probe = (self.idle is not None and trigger == Trigger.SCHEDULE
                 and self._prefetched is None)  # not probed already (see :meth:`probe`)
        body = self._sync if mode == FULL else self._sync_pull
        return self._recorded(trigger, body, probe=probe, spoke=spoke, hub_version=hub_version)

    def probe(self, spoke: SpokeRecord, hub_version: int, trigger: str = Trigger.SCHEDULE,
              known: Mapping[str, str] | None = None) -> RunSummary | None:
        """The first half of a scheduled :meth:`run` that writes nothing: the idle poll's
        summary (folded into ``self.idle``) when there is nothing to do, else None and
        :meth:`run` (with the same ``spoke`` and ``hub_version``) does the rest, with the
        pull this made, if any. Lets the caller probe many spokes in one read snapshot;
        ``known``: the versions of every link of the spoke, if the caller read them."""
        if (self.idle is None or self.unrecorded or not spoke.options.enabled
                or spoke.halted_reason):
            return None
        return self._idle_poll(spoke, str(trigger), hub_version, known)

    def push_run(self, trigger: str = Trigger.FANOUT) -> RunSummary:
        """Write the hub's changes to the spoke without pulling (errors as :meth:`run`)."""
        return self._recorded(trigger, self._push_only)

    def _recorded(self, trigger: str, body: Callable[[SpokeRecord, dict[str, int]], RunStatus],
                  *, probe: bool = False, spoke: SpokeRecord | None = None,
                  hub_version: int | None = None) -> RunSummary:
        """Run ``body`` as a recorded sync run: skipped when disabled, not run when halted,
        every unexpected failure ending the run as an error with a safe message. With
        ``probe``, a poll that finds nothing to do is folded into ``self.idle`` instead
        (:meth:`_idle_poll`)."""
        spoke = spoke or self.store.get_spoke(self.spoke_id)
        if not spoke.options.enabled:
            return RunSummary(None, self.spoke_id, RunStatus.SKIPPED, error={"code": "disabled"})
        if spoke.halted_reason:
            return RunSummary(None, self.spoke_id, RunStatus.HALTED,
                              error={"code": "spoke_halted", "message": spoke.halted_reason})
        self._close_unrecorded()
        if probe and (idle := self._idle_poll(spoke, str(trigger), hub_version)) is not None:
            return idle
        if self.idle is not None:
            self.idle.close(self.spoke_id)  # this run ends the spoke's fold of idle polls
        run_id = self.store.start_run(self.spoke_id, str(trigger))
        try:
            return self._run_recorded(run_id, spoke, body)
        except StoreError:
            # The store went away during the run or while recording its end: nothing can be
            # recorded now, and the actor lives on (so no sweep of orphaned runs closes it).
            self.unrecorded.append(run_id)
            raise

    def _idle_poll(self, spoke: SpokeRecord, trigger: str, hub_version: int | None,
                   known: Mapping[str, str] | None = None) -> RunSummary | None:
        """A poll that changes nothing, folded into the spoke's idle row (no store write);
        None when there may be something to do: the spoke is new, halted or not ``ok``, the
        hub moved past its push cursor, or the pull brought a change or a new cursor (the run
        then goes on with that pull, or raises its error, recorded as usual)."""
        assert self.idle is not None
        if spoke.first_attach or spoke.halt is not None or spoke.state != SpokeState.OK:
            return None
        if hub_version is None:
            hub_version = self.store.hub_version(spoke.hub_id)
        if hub_version > spoke.push_cursor:
            return None
        started, clock = self.idle.now(), time.monotonic()
        try:
            delta = self.connector.delta(spoke.pull_cursor,
                                         KnownVersions(self.store, spoke.id, known))
        except Exception as exc:  # the recorded run raises it as its own
            self._prefetched = exc
            return None
        if delta.changed or delta.deleted or delta.cursor != spoke.pull_cursor:
            self._prefetched = delta
            return None
        row = self.idle.poll(spoke.id, spoke.hub_id, trigger, started, self.idle.now())
        self.folded = True
        return RunSummary(row.run_id, spoke.id, RunStatus.OK, {}, None,
                          time.monotonic() - clock)

    def _pull(self, spoke: SpokeRecord, known: KnownVersions) -> Delta:
        """The spoke's delta: the one the idle probe already pulled, else a new pull."""
        prefetched, self._prefetched = self._prefetched, None
        if isinstance(prefetched, Exception):
            raise prefetched
        if prefetched is not None:
            return prefetched
        return self.connector.delta(spoke.pull_cursor, known)

    def _close_unrecorded(self) -> None:
        """Close as interrupted the runs whose end could not be recorded (none may stay
        "running"); StoreError while the store is still away."""
        while self.unrecorded:
            with contextlib.suppress(NotFound):  # the spoke (and its runs) removed meanwhile
                self.store.finish_run(self.unrecorded[0], RunStatus.INTERRUPTED, {}, {
                    "code": "interrupted", "message": "the store was unreachable when the run "
                    "ended; what it had merged is kept, the rest was retried by the next run"})
            self.unrecorded.pop(0)

    def _run_recorded(self, run_id: str, spoke: SpokeRecord,
                      body: Callable[[SpokeRecord, dict[str, int]], RunStatus]) -> RunSummary:
        started = time.monotonic()
        counts: dict[str, int] = {}
        self._failures = {}
        self.pushed_to = None
        try:
            status = body(spoke, counts)
        except WriterFenced:
            self.store.finish_run(run_id, RunStatus.ERROR, counts, {"code": WriterFenced.code})
            raise
        except StoreError:
            raise  # the store itself is down: the caller backs off, the next run closes this one
        except Exception as exc:
            failure = failure_record(self.spoke_id, exc)
            # sign-in refused, consent missing, EWS off: waits for an administrator, not a retry
            state = SpokeState.ACTION_REQUIRED if isinstance(exc, AuthError) else SpokeState.ERROR
            self.store.set_spoke_state(self.spoke_id, state, error=failure)
            self.store.finish_run(run_id, RunStatus.ERROR, counts, failure)
            self.progress("failed", counts)
            return RunSummary(run_id, self.spoke_id, RunStatus.ERROR, counts, failure,
                              time.monotonic() - started)
        error: dict[str, Any] | None = None
        if status == RunStatus.PARTIAL:
            error = partial_error(list(self._failures.values()))
            self.store.set_spoke_state(self.spoke_id, SpokeState.ERROR, error=error)
        elif status == RunStatus.HALTED:
            error = {"code": "safety_halt",
                     "message": self.store.get_spoke(self.spoke_id).halted_reason}
        self.store.finish_run(run_id, status, counts, error)
        self.progress("done", counts)
        return RunSummary(run_id, self.spoke_id, status, counts, error, time.monotonic() - started)

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
