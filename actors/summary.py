"""What a sync run reports: its trigger, its status and its counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Trigger(StrEnum):
    """Why a run started (stored with the run)."""

    #: ``sync now`` (an operator or the API)
    MANUAL = "manual"
    #: the spoke's own poll interval
    SCHEDULE = "schedule"
    #: another spoke's merge changed the hub: a push-only run (DESIGN, fan-out)
    FANOUT = "fanout"


class RunStatus(StrEnum):
    """How a run ended."""

    OK = "ok"
    #: some writes failed (each recorded with its item) or were stale; retried next run
    PARTIAL = "partial"
    ERROR = "error"
    #: the safety check halted the spoke; nothing was applied
    HALTED = "halted"
    #: not run (the spoke is disabled)
    SKIPPED = "skipped"


@dataclass
class RunSummary:
    """What a run did; ``counts`` are keyed by :class:`cirahub.core.counts.Count` values."""

    run_id: str | None
    spoke_id: str
    status: RunStatus
    counts: dict[str, int] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.OK

    def to_dict(self) -> dict[str, Any]:
        """Plain form (sent between actors and to the control plane; status as a string)."""
        out = asdict(self)
        out["status"] = str(self.status)
        return out


def error_summary(spoke_id: str, error: dict[str, Any]) -> dict[str, Any]:
    """The summary dict of a run that could not happen (no run id)."""
    return RunSummary(None, spoke_id, RunStatus.ERROR, {}, error, 0.0).to_dict()
