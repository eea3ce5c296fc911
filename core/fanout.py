"""Coalescing of hub→spoke push runs (DESIGN.md "The sync cycle", step 6: fan-out).

Pure and deterministic: no I/O, no clock, no asyncio. The spoke actor keeps one
:class:`PushSlot` per hosted spoke and moves it with :func:`noticed`, :func:`started` and
:func:`finished`; :class:`PushQueue` adds the order in which waiting spokes get a push run and
the bound on how many push runs run at once.

The words: a *notice* says "the hub committed version ``v``" (sent after every merge that
changed it); a run's *snapshot* is the hub version it read before choosing what to write
(every change up to it is written by the run, or left below the spoke's push cursor in the
store when a write failed, which the spoke's next run retries).

Guarantees (table tests and a hypothesis property in ``tests/core/test_fanout.py``):

- no change is skipped: once every running run finished and the queue is drained, every
  noticed version is covered by the snapshot of a run that started after the notice, or
  whose snapshot included it;
- at most one running and one waiting push per spoke, however many notices arrive;
- a notice that a running (or finished) run's snapshot already covers queues nothing: many
  merges between two push runs cost one push run, not one per merge;
- a run always covers at least what was noticed before it started (it reads the hub version
  after it started), so a full run that starts first answers a waiting push too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class PushSlot:
    """Push state of one spoke.

    ``wanted``: the highest hub version noticed; ``covered``: the highest snapshot of a
    finished run; ``running``: a run (push or full) is under way; ``floor``: what the running
    run covers for sure (``wanted`` when it started)."""

    wanted: int = 0
    covered: int = 0
    running: bool = False
    floor: int = 0

    @property
    def due(self) -> bool:
        """Whether the spoke needs a push run that has not started yet."""
        reach = max(self.covered, self.floor) if self.running else self.covered
        return self.wanted > reach


def noticed(slot: PushSlot, version: int) -> PushSlot:
    """The hub committed ``version`` (a notice; notices may arrive out of order)."""
    return replace(slot, wanted=max(slot.wanted, version))


def started(slot: PushSlot) -> PushSlot:
    """A run of the spoke (push or full) started: it covers at least every noticed version."""
    return replace(slot, running=True, floor=slot.wanted)


def finished(slot: PushSlot, snapshot: int | None) -> PushSlot:
    """The running run ended; ``snapshot`` is the hub version it pushed up to (None: it
    failed before pushing, so its versions wait for the spoke's next scheduled run — the
    store's push cursor did not pass them — rather than a push retried in a loop)."""
    reach = max(slot.covered, slot.floor, snapshot or 0)
    return replace(slot, running=False, floor=0, covered=reach)


def actor_share(global_limit: int, actors: int) -> int:
    """Push runs one spoke actor may run at once so that all ``actors`` together stay
    within ``global_limit`` (at least one each, so no actor's spokes wait forever)."""
    return max(1, global_limit // max(1, actors))


class PushQueue:
    """The push slots of the spokes of one spoke actor, with the order they get push runs.

    Spokes become due in notice order and start in that order (first due, first served), at
    most ``limit`` push runs at once; a full run is not counted (it runs on the poll budget)
    but answers a due push the same way."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.slots: dict[str, PushSlot] = {}
        self._order: OrderedDict[str, None] = OrderedDict()  # due spokes, first due first
        self._pushing: set[str] = set()

    def notice(self, spoke_ids: Iterable[str], version: int) -> list[str]:
        """Record a notice for these spokes; returns the ones that became due."""
        out = []
        for spoke_id in spoke_ids:
            slot = self.slots.get(spoke_id, PushSlot())
            new = self.slots[spoke_id] = noticed(slot, version)
            if new.due and spoke_id not in self._order:
                self._order[spoke_id] = None
                out.append(spoke_id)
        return out

    def take(self) -> list[str]:
        """Due spokes that may start a push run now (marked running), oldest first."""
        out: list[str] = []
        for spoke_id in list(self._order):
            if len(self._pushing) >= self.limit:
                break
            slot = self.slots[spoke_id]
            if not slot.due:
                del self._order[spoke_id]  # a run's snapshot covered it meanwhile
                continue
            if slot.running:
                continue  # its follow-up waits for the run under way
            self.start(spoke_id, push=True)
            out.append(spoke_id)
        return out

    def start(self, spoke_id: str, *, push: bool = False) -> None:
        """A run of the spoke starts (a push run from :meth:`take`, or a full run)."""
        self.slots[spoke_id] = started(self.slots.get(spoke_id, PushSlot()))
        self._order.pop(spoke_id, None)
        if push:
            self._pushing.add(spoke_id)

    def finish(self, spoke_id: str, snapshot: int | None) -> bool:
        """The spoke's run ended; returns whether it is due again (a follow-up)."""
        self._pushing.discard(spoke_id)
        slot = self.slots[spoke_id] = finished(self.slots.get(spoke_id, PushSlot()), snapshot)
        if slot.due:
            self._order.setdefault(spoke_id, None)
        else:
            self._order.pop(spoke_id, None)  # what was noticed meanwhile, the run covered
        return slot.due

    def drop(self, spoke_id: str) -> None:
        """The spoke is no longer hosted here."""
        self.slots.pop(spoke_id, None)
        self._order.pop(spoke_id, None)
        self._pushing.discard(spoke_id)

    def slot(self, spoke_id: str) -> PushSlot:
        return self.slots.get(spoke_id, PushSlot())

    def due(self) -> list[str]:
        """Due spokes in the order they will start."""
        return [i for i in self._order if self.slots[i].due]

    @property
    def pushing(self) -> int:
        return len(self._pushing)

    def view(self) -> Mapping[str, PushSlot]:
        return dict(self.slots)
