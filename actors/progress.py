"""Values the runtime hands to the control plane: progress events and spoke status.

Both are frozen, picklable (they cross Ray process boundaries) and have ``to_dict()`` with
JSON-compatible values (datetimes as ISO-8601 strings) for the gRPC layer and ``--json``.

Event ``kind`` values:

- ``progress`` — a run moved to ``phase`` (pulling, merging, pushing); ``counts`` so far;
- ``run`` — a run finished; ``summary`` is the RunSummary as a dict (status, counts, error);
  phase ``idle``: a scheduled poll that found nothing to do, the first of its spoke's fold
  of idle polls (the later ones of the fold send no event of their own);
- ``polls`` — a hub's folded idle polls in one spoke actor over the last minute: ``counts``
  holds ``polls``, ``spokes`` and ``longest_gap_ms``; no ``spoke_id``, ``detail`` the actor;
- ``state`` — a spoke was assigned / unassigned / backed off / its actor died (``detail``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from cirahub.core.states import SpokeState


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class ProgressEvent:
    """One event of the event stream. ``seq`` increases strictly within one supervisor
    lifetime (0 = not yet sequenced); ``at`` is a UTC timestamp."""

    kind: str  # progress | run | polls | state
    hub_id: str
    spoke_id: str
    phase: str  # pulling | merging | pushing | done | failed | assigned | unassigned | ...
    at: datetime
    counts: Mapping[str, int] = field(default_factory=dict)
    summary: Mapping[str, Any] | None = None
    detail: str | None = None
    trigger: str | None = None
    seq: int = 0

    @property
    def final(self) -> bool:
        """True for the event that ends a run (carries the RunSummary)."""
        return self.kind == "run"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = _iso(self.at)
        out["counts"] = dict(self.counts)
        out["summary"] = dict(self.summary) if self.summary is not None else None
        return out


@dataclass(frozen=True)
class SpokeStatus:
    """What an operator sees for one spoke.

    ``state`` is the store's state (idle, ok, error, halted) refined by the runtime:
    ``disabled`` when sync is off, ``running`` while a run is in progress, ``backoff`` after
    repeated failures, ``unassigned`` when enabled but not (yet) hosted by a spoke actor.
    """

    spoke_id: str
    hub_id: str
    hub: str
    name: str
    kind: str
    enabled: bool
    state: SpokeState
    last_run: Mapping[str, Any] | None  # id, status, trigger, started_at, finished_at, counts
    next_run_at: datetime | None
    linked_items: int
    last_error: Mapping[str, Any] | None
    halted_reason: str | None
    node_id: str | None = None
    #: the node running it, as named in the cluster (cirahub-node label, else IP address)
    node: str | None = None
    actor: str | None = None
    failures: int = 0
    #: the spoke's HaltInfo (cirahub.store.records) while halted or confirmed, else None
    halt: Any = None
    #: hub items the spoke holds as its declared projection (Store.list_projections)
    projected_items: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["next_run_at"] = _iso(self.next_run_at)
        out["last_run"] = dict(self.last_run) if self.last_run is not None else None
        out["last_error"] = dict(self.last_error) if self.last_error is not None else None
        return out
