"""The states a spoke shows and the statuses a sync run ends with (one spelling each).

Stored with the spoke / the run, reported by the control plane, counted by ``/metrics``.
Values are the strings stored and shown (``StrEnum``: a member equals its string).
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    """How a sync run ended."""

    OK = "ok"
    #: some writes failed (each recorded with its item) or were stale; retried next run
    PARTIAL = "partial"
    ERROR = "error"
    #: the safety check halted the spoke; nothing was applied
    HALTED = "halted"
    #: not run (the spoke is disabled)
    SKIPPED = "skipped"
    #: its process went away before it ended (server killed, spoke actor died)
    INTERRUPTED = "interrupted"


#: run statuses that count as success ("skipped": a disabled spoke, not asked to sync)
SUCCESS_STATUSES: frozenset[RunStatus] = frozenset({RunStatus.OK, RunStatus.SKIPPED})


class SpokeState(StrEnum):
    """The state of a spoke as the control plane shows it."""

    IDLE = "idle"  # attached, not synced yet
    RUNNING = "running"
    OK = "ok"  # the last run succeeded
    ERROR = "error"  # the last run failed or left writes behind; retried by itself
    #: the last run was refused for a reason only an administrator can fix (a wrong secret,
    #: EWS turned off); the spoke keeps polling and recovers by itself
    ACTION_REQUIRED = "action_required"
    HALTED = "halted"  # the safety check halted it until an operator answers
    DISABLED = "disabled"
    # only reported live, never stored:
    BACKOFF = "backoff"  # waiting longer after repeated failures
    UNASSIGNED = "unassigned"  # no spoke actor hosts it (yet)


#: the states the store records (the others are only reported by the running cluster)
STORED_STATES: frozenset[SpokeState] = frozenset({
    SpokeState.IDLE, SpokeState.RUNNING, SpokeState.OK, SpokeState.ERROR,
    SpokeState.ACTION_REQUIRED, SpokeState.HALTED, SpokeState.DISABLED,
})


class HostedState(StrEnum):
    """What the spoke actor hosting a spoke reports about it (``SpokeActor.status``)."""

    STOPPING = "stopping"  # unassigned; finishing its current run
    RUNNING = "running"
    ACTION_REQUIRED = "action_required"
    BACKOFF = "backoff"
    WAITING = "waiting"  # for its next run
