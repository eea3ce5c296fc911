"""What a sync run reports: its trigger, its status and its counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from cirahub.core.states import RunStatus

__all__ = ["RunStatus", "RunSummary", "Trigger", "error_summary"]


class Trigger(StrEnum):
    """Why a run started (stored with the run)."""

    #: ``sync now`` (an operator or the API)
    MANUAL = "manual"
    #: the spoke's own poll interval
    SCHEDULE = "schedule"
    #: another spoke's merge changed the hub: a push-only run (DESIGN, fan-out)
    FANOUT = "fanout"


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
