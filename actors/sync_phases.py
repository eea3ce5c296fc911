"""``sync now`` of several spokes of one hub: pull every spoke, then push each once.

A complete run of every spoke at once let a spoke push before another spoke's merge; that
change then came by a fan-out push run, and the next round of the sync
(:mod:`cirahub.control.syncing`) ran the spoke once more in full, listing it again, while
that push run could still be under way. With N spokes changed, a spoke was written up to N
times (a durable barrier each) and listed twice. Now (:func:`pull_then_push`):

1. a *pull run* of every spoke at once (pull and merge; its push writes only what its merge
   could not make the same as the spoke, see :class:`~cirahub.actors.cycle.SyncCycle`),
   while the fan-out to these spokes is *held* (:class:`Held`): their push comes next;
2. one *push run* of every spoke whose pull run succeeded and that lacks hub versions (read
   after the last pull run ended, so it holds every merge of step 1). The push runs a spoke
   actor gets together go as one wave (:mod:`cirahub.actors.push_wave`): one read of the
   hub items they lack, one writer for their pending writes, links and run ends.

Guarantees: what a held notice would have written, the push run writes (it reads the hub
version when it starts, after every notice held for it); a spoke whose pull run failed or
halted gets no push run (its own next run retries; the fan-out skips a failing spoke
anyway); a notice from a merge outside the sync while the push runs go is queued as usual
(the hold ends before they start). A sync of one spoke (or of one enabled spoke) is one
complete run, as before. Each spoke answers with one summary: its two runs' counts added,
the worse status of the two (with its error), their durations added, the pull run's id.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import Any

from cirahub.actors.run_modes import FULL, PULL, PUSH
from cirahub.actors.summary import RunStatus
from cirahub.store.records import SpokeRecord

__all__ = ["Held", "combined", "pull_then_push"]

#: how bad a run's status is (the worse of a spoke's two runs is its answer)
_RANK = {RunStatus.SKIPPED: 0, RunStatus.OK: 0, RunStatus.PARTIAL: 1, RunStatus.HALTED: 2,
         RunStatus.INTERRUPTED: 3, RunStatus.ERROR: 4}
#: pull runs after which the spoke's push run comes (a partial one still merged)
_PUSHED_AFTER = (RunStatus.OK, RunStatus.PARTIAL)

Run = Callable[[SpokeRecord, str], Awaitable[dict[str, Any]]]


class Held:
    """Spokes whose fan-out notices are held (their push run follows their sync's pulls);
    counted, so overlapping syncs of one spoke each hold it until they let go."""

    def __init__(self) -> None:
        self._count: Counter[str] = Counter()

    def __contains__(self, spoke_id: object) -> bool:
        return self._count[spoke_id] > 0 if isinstance(spoke_id, str) else False

    def hold(self, spoke_ids: Iterable[str]) -> None:
        self._count.update(spoke_ids)

    def release(self, spoke_ids: Iterable[str]) -> None:
        for spoke_id in spoke_ids:
            self._count[spoke_id] -= 1
            if self._count[spoke_id] <= 0:
                del self._count[spoke_id]


async def pull_then_push(targets: Sequence[SpokeRecord], run: Run, held: Held,
                         behind: Callable[[Collection[str]], Awaitable[set[str]]],
                         announce: Callable[[Collection[str]], None] | None = None,
                         ) -> list[dict[str, Any]]:
    """One summary per target, in order. ``run(spoke, mode)``: one run of that mode
    (:data:`~cirahub.actors.run_modes.FULL`, ``PULL``, ``PUSH``) and its summary dict;
    ``behind(ids)``: those of the spoke ids whose push cursor is below the hub's version;
    ``announce(ids)``: told the spokes whose push runs start next, before they are asked
    (their spoke actors then read their wave once all asked, see actors/waves.py)."""
    live = [s.id for s in targets if s.enabled]
    if len(live) < 2:
        return list(await asyncio.gather(*(run(s, FULL) for s in targets)))
    held.hold(live)
    try:
        pulled = await asyncio.gather(*(run(s, PULL) for s in targets))
    finally:
        held.release(live)
    ready = [p["spoke_id"] for p in pulled if p.get("status") in _PUSHED_AFTER]
    due = await behind(ready) if ready else set()
    if due and announce is not None:
        announce(due)
    pushed = await asyncio.gather(*(run(s, PUSH) for s in targets if s.id in due))
    by_id = {p["spoke_id"]: p for p in pushed}
    return [combined(p, by_id.get(p["spoke_id"])) for p in pulled]


def combined(pull: dict[str, Any], push: dict[str, Any] | None) -> dict[str, Any]:
    """One spoke's summary of its pull run and its push run (see the module docstring)."""
    if push is None:
        return pull
    counts = dict(pull.get("counts") or {})
    for key, value in (push.get("counts") or {}).items():
        counts[key] = counts.get(key, 0) + int(value)
    worse = push if _rank(push) > _rank(pull) else pull
    return {**pull, "status": worse.get("status"), "error": worse.get("error"),
            "counts": counts,
            "duration": float(pull.get("duration") or 0) + float(push.get("duration") or 0)}


def _rank(summary: dict[str, Any]) -> int:
    try:
        return _RANK[RunStatus(str(summary.get("status")))]
    except ValueError:
        return max(_RANK.values())
