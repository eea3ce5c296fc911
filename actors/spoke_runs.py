"""What a spoke actor runs on its pool threads: one run of one spoke, with the connector and
the cycle it runs with, and the events the actor sends (from its loop and from the threads).

A base of :class:`~cirahub.actors.spoke.SpokeActor` (the attributes below are the actor's,
set by its constructor); the per-spoke loop, the scheduling and the API are the actor's own.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from cirahub.actors.cycle import SyncCycle
from cirahub.actors.idle import IdlePolls
from cirahub.actors.merger import Merger
from cirahub.actors.outbox import Outbox
from cirahub.actors.probes import Probed
from cirahub.actors.progress import ProgressEvent
from cirahub.actors.push_wave import GroupCommit, WaveInput, push_one
from cirahub.actors.spoke_state import HostedSpoke, connector_of, store_rotated_secret
from cirahub.actors.summary import RunStatus, RunSummary, Trigger
from cirahub.cluster.settings import Settings
from cirahub.store.lease import check_epoch

__all__ = ["SpokeRuns"]


class SpokeRuns:
    """One run of a hosted spoke in a pool thread (:meth:`_run_blocking`), and events."""

    _settings: Settings
    _store: Any
    _writer: GroupCommit
    _merger: Merger
    _idle: IdlePolls
    _outbox: Outbox
    _spokes: dict[str, HostedSpoke]
    _clock: Callable[[], float]

    def _run_blocking(self, s: HostedSpoke, trigger: Trigger, probed: Probed | None = None,
                      wave: WaveInput | None = None
                      ) -> tuple[RunSummary, float, int | None, Future[None] | None]:
        """One run in a pool thread, only while this actor's runtime holds the store's lease
        (WriterFenced with ``lease`` otherwise). Returns the summary, the spoke's current
        interval, the hub version the run pushed up to (None: it did not push) and the
        future of a wave's push run's end (committed by the wave's writer meanwhile).
        ``probed``: the scheduled poll's probe (it read the spoke and made the pull);
        ``wave``: a push run's share of its wave's read."""
        hub_version: int | None
        if probed is not None:
            cycle, spoke, hub_version = probed.cycle, probed.spoke, probed.hub_version
            interval = probed.interval
        else:
            spoke, hub_version, epoch = (self._store.poll_view(s.spoke_id) if wave is None
                                         else (wave.spoke, None, wave.epoch))  # one read
            check_epoch(self._settings.lease_epoch, epoch)
            interval = float(spoke.options.interval_seconds)
            if not spoke.options.enabled:
                return RunSummary(None, s.spoke_id, RunStatus.SKIPPED,
                                  error={"code": "disabled"}), interval, None, None
            connector = self._connector(s, spoke)
            if wave is not None and wave.basis is not None:
                summary, pushed_to, ended = push_one(self._store, self._writer, self._idle,
                                                     connector, wave, trigger)
                store_rotated_secret(self._store, s, connector)
                return summary, interval, pushed_to, ended
            cycle = self._cycle(s, connector, trigger)
        summary = (cycle.push_run(trigger) if trigger == Trigger.FANOUT
                   else cycle.run(trigger, spoke=spoke, hub_version=hub_version, modes=[s.mode]))
        store_rotated_secret(self._store, s, cycle.connector)
        return summary, interval, cycle.pushed_to, None

    def _cycle(self, s: HostedSpoke, connector: Any, trigger: Trigger) -> SyncCycle:
        def progress(phase: str, counts: Any) -> None:
            self._emit_threadsafe("progress", s, phase, counts=dict(counts), trigger=trigger)

        return SyncCycle(self._store, connector, s.spoke_id, self._merger, progress=progress,
                         unrecorded=s.unrecorded, idle=self._idle)

    def _capabilities(self, spoke_id: str) -> Any:
        """The spoke's open connector's capabilities (None: none open), for a wave's plan."""
        s = self._spokes.get(spoke_id)
        return None if s is None or s.connector is None else s.connector.capabilities

    def _connector(self, s: HostedSpoke, spoke: Any) -> Any:
        """The spoke's connector, re-opened when its kind, config or secret changed."""
        secret = self._store.get_spoke_secret(spoke.id) if spoke.has_secret else None
        return connector_of(s, spoke, secret)

    # --- events ---------------------------------------------------------------------------

    def _emit(self, kind: str, s: HostedSpoke, phase: str, urgent: bool = True,
              **extra: Any) -> None:
        """An event to the supervisor (:class:`~cirahub.actors.outbox.Outbox`); ``urgent=False``:
        an idle poll's end, which may wait to travel with others."""
        self._outbox.add(self._event(kind, s, phase, **extra), urgent=urgent)

    def _emit_threadsafe(self, kind: str, s: HostedSpoke, phase: str, **extra: Any) -> None:
        self._outbox.add_threadsafe(self._event(kind, s, phase, **extra))

    def _event(self, kind: str, s: HostedSpoke, phase: str, **extra: Any) -> ProgressEvent:
        return ProgressEvent(kind=kind, hub_id=s.hub_id, spoke_id=s.spoke_id, phase=phase,
                             at=datetime.fromtimestamp(self._clock(), UTC), **extra)
