"""``sync now`` until the hub converged: rounds of runs, and the check that ends them.

Spokes of one hub run in parallel, and a spoke's scheduled (or first, automatic) run may still
be merging when a round starts: a change may reach the hub after another spoke's push of that
round. So a round is followed by a check against the store — every enabled spoke whose run
succeeded must have been written up to the hub's current version (its push cursor) — and
another round, of the spokes still behind only, runs while some spoke is behind, at most
:data:`MAX_ROUNDS`. The outcome says plainly whether the hub converged; it never claims more
than the store shows.

Protobuf-free: the servicer (and any other edge) turns the outcome into its own form.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

#: rounds of runs at most per hub (a hub that keeps changing is reported, not chased forever)
MAX_ROUNDS = 5
#: run results after which a spoke is expected to be up to date (the others report themselves)
CONVERGING = ("ok",)


@dataclass(frozen=True)
class HubOutcome:
    """How one hub ended a ``sync now``.

    ``behind``: names of enabled spokes whose last run succeeded but that still lack hub
    versions (empty when converged); ``quarantined``: spoke id → items of that spoke in
    quarantine now (per item, however many runs saw them)."""

    hub_id: str
    hub: str
    rounds: int
    converged: bool
    behind: tuple[str, ...]
    hub_version: int
    quarantined: Mapping[str, int]

    @property
    def message(self) -> str:
        if self.converged:
            return f"hub {self.hub!r} converged after {self.rounds} round(s)"
        return (f"hub {self.hub!r} has not converged after {self.rounds} rounds: "
                f"{', '.join(self.behind)} still lack changes up to hub version "
                f"{self.hub_version} (the hub kept changing, or a run is still merging); "
                "sync again or look at `cirahubctl status`")


def sync_rounds(store: Any, runtime: Any, hub: Any, spoke: str | None) -> Iterator[Any]:
    """Progress events of every run of every round for ``hub`` (one spoke of it, by name, or
    all), then one :class:`HubOutcome`."""
    ended: dict[str, str] = {}
    rounds = 0
    behind: list[Any] = []
    while rounds < MAX_ROUNDS:
        rounds += 1
        # a later round runs only the spokes still behind: the others hold every hub version
        # already, and running them again would list them again for nothing
        only = {s.id for s in behind} if behind else None
        for event in runtime.sync_now(hub.name, spoke, only=only):
            if event.final:
                ended[event.spoke_id] = str((event.summary or {}).get("status") or "")
            yield event
        behind = _behind(store, hub.id, spoke, ended)
        if not behind:
            break
    quarantined = Counter(q.spoke_id for q in store.list_quarantine(hub=hub.id))
    yield HubOutcome(
        hub_id=hub.id, hub=hub.name, rounds=rounds, converged=not behind,
        behind=tuple(s.name for s in behind), hub_version=store.hub_version(hub.id),
        quarantined=dict(quarantined),
    )


def _behind(store: Any, hub_id: str, spoke: str | None, ended: Mapping[str, str]) -> list[Any]:
    """Enabled spokes (of ``spoke`` only, when named) whose last run here succeeded and whose
    push cursor is below the hub's version. A failed, partial or halted spoke is not waited
    for: its own status already says it did not sync (running it again changes nothing)."""
    version = store.hub_version(hub_id)
    return [
        s for s in store.list_spokes(hub_id)
        if s.enabled and (spoke is None or s.name == spoke)
        and ended.get(s.id) in CONVERGING and not s.halted_reason and s.push_cursor < version
    ]
