"""Issue 13 item 4: an impossible recurrence rule must not burn CPU on every run.

``RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;COUNT=5`` never yields an occurrence, so an
unbounded walk goes on to year 9999 (~17 s of CPU per event per run). The work is measured by
counting dateutil's own loop steps (one ``_iterinfo.*dayset`` call per step), not by time:
the probe aborts a walk as soon as it passes the bound, so today's code fails fast.
"""

from __future__ import annotations

from typing import Any

import pytest
from dateutil import rrule as dateutil_rrule

from cirahub.connectors.registry import open_connector
from cirahub.core import expansion
from cirahub.core.filters import in_window
from cirahub.core.item import Item
from cirahub.core.options import SyncOptions
from cirahub.core.recurrence import expand_this_and_future
from tests.sync.harness import NOW, Loop

from .servers import HostileServer

IMPOSSIBLE = "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;COUNT=5"
EVENTS = 20


class StepBudgetExceeded(BaseException):
    """Raised by the probe (a BaseException: no product code may swallow it)."""


class StepProbe:
    """Counts dateutil's loop steps; aborts once ``limit`` steps were taken."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.steps = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("ydayset", "mdayset", "wdayset", "ddayset"):
            original = getattr(dateutil_rrule._iterinfo, name)

            def counted(info: Any, *args: Any, _original: Any = original) -> Any:
                self.steps += 1
                if self.steps > self.limit:
                    raise StepBudgetExceeded(f"more than {self.limit} dateutil steps")
                return _original(info, *args)

            monkeypatch.setattr(dateutil_rrule._iterinfo, name, counted)


def _feed_body() -> bytes:
    events = "".join(
        "BEGIN:VEVENT\r\n"
        f"UID:impossible-{n}@feed\r\nDTSTAMP:20261101T000000Z\r\n"
        f"SUMMARY:Impossible {n}\r\nDTSTART:202612{n + 1:02d}T090000Z\r\n"
        f"DTEND:202612{n + 1:02d}T100000Z\r\nRRULE:{IMPOSSIBLE}\r\nEND:VEVENT\r\n"
        for n in range(EVENTS))
    text = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n" + events
            + "END:VCALENDAR\r\n")
    assert len(text) < 8192  # a small input
    return text.encode()


def test_regression_impossible_rrule_feed_costs_bounded_steps_and_is_walked_once(
        loop: Loop, feed: HostileServer, monkeypatch: pytest.MonkeyPatch) -> None:
    budget = EVENTS * expansion.MAX_STEPS
    probe = StepProbe(budget)
    probe.install(monkeypatch)
    feed.body = _feed_body()
    url = f"{feed.base}/impossible.ics"
    loop.add("feed", open_connector("ics-url", {"url": url}), kind="ics-url", config={"url": url})
    loop.add_memory("mirror")  # the hub pushes there: the window filter runs on both sides

    first = loop.sync_all(rounds=1)
    assert all(run.ok for run in first), [run.to_dict() for run in first]
    assert probe.steps <= budget
    # every event is carried (projected as open-ended, never silently dropped)
    assert {f"impossible-{n}@feed" for n in range(EVENTS)} <= set(loop.hub_items())
    assert len(loop.spokes["mirror"].calendar.entries()) == EVENTS  # type: ignore[union-attr]

    walked, steps = expansion.STATS.expansions, probe.steps
    again = loop.sync_all(rounds=2)
    assert all(run.ok for run in again)
    assert expansion.STATS.expansions == walked  # unchanged items are never expanded again
    assert probe.steps == steps


def test_regression_impossible_rrule_window_filter_is_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    probe = StepProbe(expansion.MAX_STEPS)
    probe.install(monkeypatch)
    item = Item("impossible@test", {
        "summary": "x", "start": {"utc": "2026-02-01T09:00:00Z", "tz": "UTC"},
        "end": {"utc": "2026-02-01T10:00:00Z", "tz": "UTC"},
        "rrule": IMPOSSIBLE + ";BYHOUR=9"})  # a rule nobody walked yet (the cache is per rule)
    assert in_window(item, SyncOptions(days_back=30, days_ahead=365), NOW)
    assert probe.steps <= expansion.MAX_STEPS


def test_regression_impossible_rrule_this_and_future_expansion_is_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    probe = StepProbe(expansion.MAX_STEPS)
    probe.install(monkeypatch)
    start = {"utc": "2026-02-01T09:00:00Z", "tz": "UTC"}
    item = Item("future@test", {"summary": "x", "start": start, "rrule": IMPOSSIBLE},
                {"20260201T100000Z": {"summary": "y", "range": "THISANDFUTURE",
                                      "start": {"utc": "2026-02-01T11:00:00Z", "tz": "UTC"}}})
    result = expand_this_and_future(item)
    assert not result.complete  # the bound cut the walk: the caller declares the projection
    assert probe.steps <= expansion.MAX_STEPS
