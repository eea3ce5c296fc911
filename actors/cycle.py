"""One sync run for one spoke, recorded as a sync run: its mode, the run record around its
pass, and the scheduled poll that finds nothing to do (folded, not recorded).

The cycle is plain Python (no Ray): the spoke actor wraps it, tests drive it directly. It only
orchestrates — the pull → plan → merge → push pass is :mod:`cirahub.actors.sync_pass`'s (with
the ordering guarantees that make a crash at any point safe), the modes
:mod:`cirahub.actors.run_modes`'; merges go through a :class:`~cirahub.actors.merger.Merger`
(the store directly, or the hub actor on Ray).

Guarantees of a recorded run: a disabled spoke is skipped and a halted one not run, both
unrecorded; every other run has a run record that ends (ok, partial, halted, error), or,
when the store itself went away, is closed as interrupted before the spoke's next run; a
spoke-side failure never raises (it ends the run as an error with a safe message and sets
the spoke's state), WriterFenced and StoreError do.

A *push run* (:meth:`SyncCycle.push_run`, the fan-out after another spoke changed the hub)
is the push half alone; a spoke that never completed a full run gets a full run instead, so
first-attach matching always happens before the hub writes into it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from cirahub.actors.failures import failure_record, partial_error
from cirahub.actors.idle import IdlePolls
from cirahub.actors.known import KnownVersions
from cirahub.actors.merger import LocalMerger, Merger
from cirahub.actors.run_modes import FULL, PULL, PUSH, run_mode
from cirahub.actors.summary import RunStatus, RunSummary, Trigger
from cirahub.actors.sync_pass import MAX_REPLANS, Passes, Progress
from cirahub.connectors.base import SpokeConnector
from cirahub.core.errors import (
    AuthError,
    NotFound,
    StoreError,
    WriterFenced,
)
from cirahub.core.model import Delta, WriteFailure
from cirahub.core.states import SpokeState
from cirahub.store.protocols import SyncStore
from cirahub.store.records import SpokeRecord

# the modes, the pass's bound and the mergers stay importable from here (callers, tests)
__all__ = ["FULL", "MAX_REPLANS", "PULL", "PUSH", "LocalMerger", "Merger", "Progress",
           "RunStatus", "RunSummary", "SyncCycle", "Trigger", "run_mode"]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SyncCycle(Passes):
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
