"""What the spoke actor keeps per hosted spoke, and the rules that move it between runs.

Plain state and pure functions (no Ray, no asyncio loop needed to call them): the state a
spoke reports, how long it waits after a run, and how failures back it off.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from cirahub.actors.summary import RunStatus, Trigger
from cirahub.core.errors import action_required_codes
from cirahub.core.states import HostedState

_ACTION_REQUIRED = action_required_codes()
log = logging.getLogger("cirahub.actors.spoke")


def backoff_delay(interval: float, failures: int, cap: float, hint: float | None = None) -> float:
    """Seconds to wait after ``failures`` consecutive failed runs (0 → the plain interval)."""
    delay = float(interval) if failures <= 1 else interval * 2.0 ** min(failures - 1, 20)
    if hint:
        delay = max(delay, hint)
    return min(max(delay, float(interval)), max(cap, float(interval)))


def jittered(delay: float, rng: random.Random) -> float:
    return max(0.0, delay * rng.uniform(0.9, 1.1))


def poll_phase(spoke_id: str, interval: float) -> float:
    """The spoke's phase in its interval, in [0, interval): a hash of its id, so the phases
    of a fleet are spread evenly over the interval (and the same after every restart)."""
    digest = hashlib.blake2b(spoke_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * interval


def poll_slot(spoke_id: str, interval: float, after: float) -> float:
    """The spoke's first poll slot at or after ``after`` (epoch seconds): its slots are one
    ``interval`` apart at :func:`poll_phase`. A late or slow poll does not move the later
    ones (they stay on their slots), so consecutive polls are at most one interval plus
    the later one's delay apart, and a fleet polled at once never stays bunched."""
    phase = poll_phase(spoke_id, interval)
    return phase + math.ceil((after - phase) / interval) * interval


@dataclass
class HostedSpoke:
    """Runtime state of one hosted spoke (a cache; the store holds the truth)."""

    spoke_id: str
    hub_id: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    waiters: list[asyncio.Future[dict[str, Any]]] = field(default_factory=list)
    #: what the waiters asked for, and what the run under way does (see actors/cycle.py)
    modes: set[str] = field(default_factory=set)
    mode: str = "full"
    task: asyncio.Task[None] | None = None
    stopping: bool = False
    running: bool = False
    #: stopped, waiting only for its idle polls to be written (not shown as hosted)
    leaving: bool = False
    #: a push run was asked for (fan-out) and has not started yet
    push_pending: bool = False
    failures: int = 0
    next_run_at: float | None = None  # wall clock (time.time())
    last_summary: dict[str, Any] | None = None
    #: the run id of the fold of idle polls whose first poll sent its ``run`` event (its
    #: later polls send none of their own); None after any other run
    fold: str | None = None
    last_error: dict[str, Any] | None = None
    runs: int = 0
    connector_key: str | None = None
    connector: Any = None
    #: runs whose end could not be recorded (the store was away): the next run closes them
    unrecorded: list[str] = field(default_factory=list)


def live_state(s: HostedSpoke) -> HostedState:
    """The state the actor reports for ``s`` (stopping, running, action_required, backoff,
    waiting; first match wins)."""
    if s.stopping:
        return HostedState.STOPPING
    if s.running:
        return HostedState.RUNNING
    if s.failures and (s.last_error or {}).get("code") in _ACTION_REQUIRED:
        return HostedState.ACTION_REQUIRED
    if s.failures >= 2:
        return HostedState.BACKOFF
    return HostedState.WAITING


def schedule_next(s: HostedSpoke, trigger: Trigger, result: dict[str, Any], interval: float,
                  hint: float | None, *, cap: float, rng: random.Random,
                  now: float | None = None) -> None:
    """Failure count, last error and the next poll after a run (``result`` its summary dict;
    ``cap`` the longest back-off; ``hint`` the server's back-off hint, if any; ``now`` the
    wall clock, default ``time.time()``)."""
    status = result["status"]
    if trigger == Trigger.FANOUT and status == RunStatus.OK:
        return  # a push run leaves the poll schedule alone
    if status == RunStatus.ERROR:
        s.failures += 1
        s.last_error = result.get("error")
    else:
        s.failures = s.failures if status == RunStatus.PARTIAL else 0
        s.last_error = result.get("error") if status != RunStatus.OK else None
    delay = backoff_delay(interval, s.failures, cap, hint)
    now = time.time() if now is None else now
    if delay <= interval:  # not backing off: the next slot (a second from now at least)
        s.next_run_at = poll_slot(s.spoke_id, interval, now + min(1.0, interval / 2))
    else:
        s.next_run_at = now + jittered(delay, rng)
    if trigger == Trigger.FANOUT and status == RunStatus.PARTIAL:
        s.next_run_at = now  # a stale write: re-pull and re-plan at once


def connector_of(s: HostedSpoke, spoke: Any, secret: str | None) -> Any:
    """The spoke's connector (``spoke`` its record), re-opened when its kind, config or
    secret changed."""
    from cirahub.connectors.registry import open_connector

    key = connector_key(spoke, secret)
    if s.connector is None or s.connector_key != key:
        if s.connector is not None:
            close_quietly(s.connector)
        s.connector = open_connector(spoke.kind, spoke.config, secret)
        s.connector_key = key
    return s.connector


def connector_key(spoke: Any, secret: str | None) -> str:
    return hashlib.sha256(json.dumps(
        [spoke.kind, dict(spoke.config), secret], sort_keys=True, default=str
    ).encode()).hexdigest()


def close_quietly(connector: Any) -> None:
    try:
        connector.close()
    except Exception:
        log.debug("closing a connector failed", exc_info=True)


def store_rotated_secret(store: Any, s: HostedSpoke, connector: Any) -> None:
    """A connector whose sign-in rotated its secret (a delegated OAuth refresh token)
    offers the new one as ``rotated_secret``: store it (encrypted) so the sign-in
    outlives the old token. The connector is kept: it already holds the new one."""
    rotated = getattr(connector, "rotated_secret", None)
    if not rotated:
        return
    store.update_spoke(s.spoke_id, secret=rotated)
    connector.rotated_secret = None
    spoke = store.get_spoke(s.spoke_id)
    s.connector_key = connector_key(spoke, rotated)


def node_id() -> str | None:
    try:
        import ray

        if not ray.is_initialized():  # a plain object (tests): never start Ray
            return None
        return ray.get_runtime_context().get_node_id()
    except Exception:
        return None
