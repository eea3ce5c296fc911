"""The spoke actor's poll schedule as pure functions: every spoke keeps to its own slots (one
per interval at a phase fixed by its id), so a fleet is spread evenly over the interval,
consecutive polls stay within an interval of each other, and a late poll moves no later one."""

from __future__ import annotations

import random
import time
import uuid

import pytest

from cirahub.actors.spoke_state import HostedSpoke, poll_phase, poll_slot, schedule_next
from cirahub.actors.summary import RunStatus, Trigger


def test_slots_are_one_interval_apart_at_the_spokes_phase() -> None:
    spoke = "0b2c6f9e-5a41-4a53-9d0e-2f8b1c0f7d11"
    phase = poll_phase(spoke, 60.0)
    assert 0 <= phase < 60
    assert poll_phase(spoke, 60.0) == phase  # the same after a restart
    first = poll_slot(spoke, 60.0, 1_000_000.0)
    assert 1_000_000.0 <= first < 1_000_060.0
    assert (first - phase) % 60 == pytest.approx(0, abs=1e-6)
    assert poll_slot(spoke, 60.0, first) == first
    assert poll_slot(spoke, 60.0, first + 0.001) == pytest.approx(first + 60)


def test_a_fleet_is_spread_evenly_over_the_interval() -> None:
    rng = random.Random(7)
    ids = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(10_000)]
    buckets = [0] * 60
    for spoke in ids:
        buckets[int(poll_phase(spoke, 60.0))] += 1
    # 10,000 over 60 one-second buckets: ~167 each; no second gets a burst
    assert max(buckets) < 1.3 * 10_000 / 60 and min(buckets) > 0.7 * 10_000 / 60


def _after_run(s: HostedSpoke, status: RunStatus = RunStatus.OK,
               trigger: Trigger = Trigger.SCHEDULE) -> float:
    schedule_next(s, trigger, {"status": status, "error": None}, 60.0, None, cap=1800.0,
                  rng=random.Random(1))
    assert s.next_run_at is not None
    return s.next_run_at


def test_after_a_poll_the_next_is_the_next_slot_however_late_the_poll_was() -> None:
    s = HostedSpoke("spoke-1", "hub")
    now = time.time()
    nxt = _after_run(s)
    assert now + 1.0 <= nxt <= now + 61.0 + 1.0
    assert nxt == pytest.approx(poll_slot("spoke-1", 60.0, nxt))
    # polls that start late (the pool was busy) still leave the next one on its slot
    s.next_run_at = None
    again = _after_run(s)
    assert again == pytest.approx(nxt)


def test_a_failing_spoke_backs_off_and_returns_to_its_slots() -> None:
    s = HostedSpoke("spoke-2", "hub")
    error = RunStatus.ERROR
    _after_run(s, error)
    first = s.next_run_at
    assert first == pytest.approx(poll_slot("spoke-2", 60.0, first or 0))  # one failure: plain
    now = time.time()
    backoff = _after_run(s, error)
    assert s.failures == 2 and backoff - now >= 0.9 * 120
    ok = _after_run(s, RunStatus.OK)
    assert s.failures == 0 and ok == pytest.approx(poll_slot("spoke-2", 60.0, ok))


def test_a_push_run_leaves_the_schedule_alone() -> None:
    s = HostedSpoke("spoke-3", "hub")
    s.next_run_at = 123.0
    _after_run(s, RunStatus.OK, Trigger.FANOUT)
    assert s.next_run_at == 123.0
