"""Probing many scheduled polls at once: the spoke actor's batch of polls that came due
together (:class:`~cirahub.actors.idle.Batch`), read in one read snapshot.

A scheduled poll first *probes* (:meth:`~cirahub.actors.cycle.SyncCycle.probe`): the spoke's
poll view, then, when nothing can be due from the hub, the connector's delta; a probe that
finds nothing is an idle poll (folded, nothing written) and the poll ends there. Here the
views of the whole batch are one query, and for spokes whose connector reads locally
(``local_delta``: memory, vdir) the probes themselves run one after the other in this
thread, the links' versions of those that list read in one query per :data:`LINKS_BATCH`.
A connector over a network is probed by its own run, in a thread of its own (one slow server
never holds the batch). Every spoke's result is its own: what one probe raises ends that
spoke's run only, as it would have unbatched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cirahub.actors.cycle import RunSummary, SyncCycle
from cirahub.actors.spoke_state import HostedSpoke
from cirahub.store.lease import check_epoch
from cirahub.store.protocols import SyncStore
from cirahub.store.records import SpokeRecord

#: spokes whose links' versions are read in one query (bounds what a batch holds at once)
LINKS_BATCH = 50


@dataclass
class Probed:
    """A scheduled poll's probe: ``summary`` when it was idle, else the cycle (holding the
    pull it made, if any) that runs the rest, with the spoke as read."""

    cycle: SyncCycle
    spoke: SpokeRecord
    hub_version: int
    interval: float
    summary: RunSummary | None = None


class Prober:
    """``cycle_for(hosted, spoke)``: the spoke's cycle (its connector opened);
    ``after(hosted, connector)``: called after each probe (stores a rotated secret)."""

    def __init__(self, store: Any, lease_epoch: int,
                 cycle_for: Callable[[HostedSpoke, SpokeRecord], SyncCycle],
                 after: Callable[[HostedSpoke, Any], None]) -> None:
        self._store, self._epoch = store, lease_epoch
        self._cycle_for, self._after = cycle_for, after

    def __call__(self, spokes: list[HostedSpoke]) -> list[Probed | BaseException | None]:
        """Per spoke: its probe, None when its run must take the usual way (the spoke is
        gone or disabled), or what preparing or probing it raised."""
        store: SyncStore = self._store
        with self._store.snapshot():
            views = self._store.poll_views([s.spoke_id for s in spokes])
            out = [self._prepared(s, views.get(s.spoke_id)) for s in spokes]
            local = [i for i, p in enumerate(out) if isinstance(p, Probed)
                     and getattr(p.cycle.connector, "local_delta", False)]
            for first in range(0, len(local), LINKS_BATCH):
                self._probe(store, spokes, out, local[first:first + LINKS_BATCH])
        return out

    def _prepared(self, s: HostedSpoke,
                  view: tuple[SpokeRecord, int, int] | None) -> Probed | BaseException | None:
        if view is None:
            return None
        spoke, hub_version, epoch = view
        try:
            check_epoch(self._epoch, epoch)
            if not spoke.options.enabled:
                return None
            cycle = self._cycle_for(s, spoke)
        except Exception as exc:
            return exc
        return Probed(cycle, spoke, hub_version, float(spoke.options.interval_seconds))

    def _probe(self, store: Any, spokes: list[HostedSpoke], out: list[Any],
               which: list[int]) -> None:
        """Probe ``out[i]`` for each ``i`` in ``which`` (prepared probes), in place."""
        probes: list[Probed] = [out[i] for i in which]
        listing = [p.spoke.id for p in probes if not p.cycle.connector.capabilities.incremental]
        known = store.link_versions_of(listing) if listing else {}
        for i, p in zip(which, probes, strict=True):
            try:
                p.summary = p.cycle.probe(p.spoke, p.hub_version, known=known.get(p.spoke.id))
                self._after(spokes[i], p.cycle.connector)
            except Exception as exc:  # that spoke's run ends with it, as unbatched
                out[i] = exc
