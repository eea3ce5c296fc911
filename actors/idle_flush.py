"""The spoke actor's writer and reporter of folded idle polls (:mod:`cirahub.actors.idle`).

One task per spoke actor, off the run pool:

- every :data:`IDLE_FLUSH_SECONDS` it writes the fold rows changed since the last write, in
  one transaction for all spokes of the actor (``Store.record_polls``); rows whose write
  failed (the store is away) are kept for the next write (bounded by the hosted spokes);
- every :data:`IDLE_REPORT_SECONDS` it hands ``report`` each hub's :class:`Tally` of the
  idle polls since the last report (the spoke actor sends it as one ``polls`` event per
  hub: the server logs one ``idle polls`` line for it instead of one line per poll).

The run history therefore lags the idle polls by at most a flush, and the events and the
server's log by at most a report; nothing a run changed is ever in either.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from typing import Any

from cirahub.actors.idle import IdlePolls, Tally

log = logging.getLogger("cirahub.actors.spoke")

#: seconds between two writes of the folded idle polls (the run history lags that much)
IDLE_FLUSH_SECONDS = 5.0
#: idle polls are reported (events, the server's log) every this many seconds, per hub
IDLE_REPORT_SECONDS = 60.0


async def flush_idle_polls(idle: IdlePolls, store: Any,
                           report: Callable[[str, Tally], None]) -> None:
    """Write the folded idle polls and report their tallies, until cancelled."""
    flushes = max(1, round(IDLE_REPORT_SECONDS / IDLE_FLUSH_SECONDS))
    for count in itertools.count():
        await asyncio.sleep(IDLE_FLUSH_SECONDS)
        if count % flushes == flushes - 1:
            for hub_id, tally in idle.tally().items():
                report(hub_id, tally)
        rows = idle.take()
        if not rows:
            continue
        try:
            await asyncio.to_thread(store.record_polls, rows)
        except Exception:  # the store is away: keep them (bounded by the hosted spokes)
            log.warning("could not record %d rows of idle polls; retrying", len(rows),
                        exc_info=log.isEnabledFor(logging.DEBUG))
            idle.give_back(rows)
