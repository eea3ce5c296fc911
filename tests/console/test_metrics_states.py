"""Issue 14 leftover: ``cirahub_spoke_state`` has a label value for every state a spoke can
be in; an ``action_required`` spoke (a wrong secret, EWS turned off) was exported as "error"."""

from __future__ import annotations

import shutil
import subprocess
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cirahub.control.http.metrics import SPOKE_STATES, Metrics
from cirahub.core.states import SpokeState


class _Handlers:
    """The handler calls the topology collector makes, answering one spoke per state."""

    def __init__(self, states: list[str]) -> None:
        self.states = states

    def status(self, hub: str) -> list[Any]:
        return [SimpleNamespace(hub="team", name=f"s-{state}", spoke_id=f"id-{state}",
                                state=state, linked_items=0, last_run=None, node_id=None,
                                actor=None) for state in self.states]

    def quarantine(self, hub: str, spoke: str) -> list[Any]:
        return []

    def list_hubs(self) -> list[Any]:
        return []

    def hub_actors(self) -> list[dict[str, Any]]:
        return [{"shard": 0}]


def _states(text: str) -> dict[str, dict[str, float]]:
    """spoke → state label → value, from the exposition text."""
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "cirahub_spoke_state":
            for s in family.samples:
                out.setdefault(s.labels["spoke"], {})[s.labels["state"]] = s.value
    return out


def test_regression_action_required_is_its_own_spoke_state() -> None:
    text = generate_latest(Metrics(_Handlers(["action_required", "error"])).registry).decode()
    states = _states(text)
    assert states["s-action_required"]["action_required"] == 1.0
    assert states["s-action_required"]["error"] == 0.0  # was 1: counted as an error
    assert states["s-error"]["error"] == 1.0 and states["s-error"]["action_required"] == 0.0
    promtool = shutil.which("promtool")
    if promtool:
        lint = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                              capture_output=True, timeout=60)
        assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.mark.parametrize("state", [str(s) for s in SpokeState])
def test_every_spoke_state_has_a_label_value(state: str) -> None:
    assert state in SPOKE_STATES
    states = _states(generate_latest(Metrics(_Handlers([state])).registry).decode())
    assert states[f"s-{state}"] == {name: float(name == state) for name in SPOKE_STATES}
