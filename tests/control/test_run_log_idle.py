"""The server's log of idle polls: folded as the run history folds them (control/runlog.py).

Through the real RunLogger and formatter, fed the events the spoke actor sends: a fold's
first idle poll (a ``run`` event, phase ``idle``) and a hub's ``polls`` tally."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from cirahub.actors.progress import ProgressEvent
from cirahub.control.runlog import KeyValueFormatter, RunLogger


@dataclass
class _Named:
    id: str
    name: str


class _Store:
    def __init__(self) -> None:
        self.reads = 0

    def list_hubs(self) -> list[_Named]:
        self.reads += 1
        return [_Named("h1", "team")]

    def list_spokes(self) -> list[_Named]:
        return [_Named("s1", "alpha")]


class _Runtime:
    def __init__(self) -> None:
        self.store = _Store()


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    fmt = KeyValueFormatter()
    return [fmt.format(r).split(": ", 1)[1] for r in caplog.records if r.name == "cirahub.runs"]


def _event(kind: str, phase: str, spoke: str = "s1", **extra: Any) -> ProgressEvent:
    return ProgressEvent(kind, "h1", spoke, phase, datetime.now(UTC), **extra)


def test_idle_polls_are_logged_folded(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cirahub.runs")
    runtime = _Runtime()
    logger = RunLogger(runtime)
    summary = {"run_id": "r1", "status": "ok", "counts": {}, "duration": 0.001}
    logger.log_event(_event("run", "idle", summary=summary, trigger="schedule"))
    logger.log_event(_event("run", "done", summary=summary, trigger="manual"))
    for _ in range(3):
        logger.log_event(_event("polls", "idle", spoke="", detail="cirahub-spokes-x",
                                counts={"polls": 9987, "spokes": 9000,
                                        "longest_gap_ms": 61_234}))
    first, manual, *tallies = _lines(caplog)
    assert first.startswith("run finished hub=team spoke=alpha status=ok trigger=schedule")
    assert first.endswith("idle=folded")
    assert "idle=" not in manual
    assert tallies == ["idle polls hub=team polls=9987 spokes=9000 longest_gap=61.2s "
                       "actor=cirahub-spokes-x"] * 3
    assert runtime.store.reads == 1  # a tally names no spoke: no re-read of the names
