"""The fan-out's coalescing (cirahub.core.fanout): table tests of the slot rules, the queue's
order and bound, and a hypothesis property over any interleaving of notices and runs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cirahub.core.fanout import (
    PushQueue,
    PushSlot,
    actor_share,
    finished,
    noticed,
    started,
)


@pytest.mark.parametrize(("slot", "due"), [
    (PushSlot(), False),
    (PushSlot(wanted=3, covered=3), False),
    (PushSlot(wanted=4, covered=3), True),
    # a run under way covers what was noticed when it started …
    (PushSlot(wanted=4, covered=1, running=True, floor=4), False),
    # … but not what came after: one follow-up
    (PushSlot(wanted=6, covered=1, running=True, floor=4), True),
])
def test_due(slot: PushSlot, due: bool) -> None:
    assert slot.due is due


@pytest.mark.parametrize(("steps", "expected"), [
    # many notices before a run: one run covers them all
    ([("n", 1), ("n", 2), ("n", 3), ("s", None), ("f", 3)], PushSlot(3, 3)),
    # a notice during the run that its snapshot covers: no follow-up
    ([("n", 1), ("s", None), ("n", 2), ("f", 2)], PushSlot(2, 2)),
    # a notice during the run after its snapshot: a follow-up is due
    ([("n", 1), ("s", None), ("f", 1), ("n", 2)], PushSlot(2, 1)),
    ([("n", 1), ("s", None), ("n", 5), ("f", 3)], PushSlot(5, 3)),
    # a run that failed before pushing: its versions go to the next scheduled run, no loop
    ([("n", 4), ("s", None), ("f", None)], PushSlot(4, 4)),
    # notices out of order keep the highest
    ([("n", 5), ("n", 2)], PushSlot(5, 0)),
])
def test_slot_rules(steps: list[tuple[str, int | None]], expected: PushSlot) -> None:
    slot = PushSlot()
    for kind, value in steps:
        if kind == "n":
            assert value is not None
            slot = noticed(slot, value)
        elif kind == "s":
            slot = started(slot)
        else:
            slot = finished(slot, value)
    assert slot == expected


@pytest.mark.parametrize(("limit", "actors", "share"), [
    (64, 1, 64), (64, 3, 21), (2, 5, 1), (10, 0, 10),
])
def test_actor_share(limit: int, actors: int, share: int) -> None:
    assert actor_share(limit, actors) == share


def test_queue_serves_first_due_first_within_the_limit() -> None:
    q = PushQueue(limit=2)
    assert q.notice(["a", "b", "c"], 1) == ["a", "b", "c"]
    assert q.notice(["c", "a"], 2) == []  # already due: nothing new
    assert q.take() == ["a", "b"]
    assert q.take() == []  # the limit
    assert q.pushing == 2 and q.due() == ["c"]
    q.notice(["a"], 3)  # during a's run, after its start: a follow-up, behind c
    assert q.finish("a", 2) is True
    assert q.due() == ["c", "a"]
    assert q.take() == ["c"]
    assert q.finish("b", 2) is False
    assert q.take() == ["a"]
    assert q.finish("a", 3) is False and q.finish("c", 3) is False
    assert q.due() == [] and q.pushing == 0


def test_full_run_answers_a_due_push_and_does_not_count_against_the_limit() -> None:
    q = PushQueue(limit=1)
    q.notice(["a", "b"], 1)
    q.start("a")  # a's poll comes first
    assert q.take() == ["b"]  # a's full run took no push slot
    q.finish("a", 1)
    assert not q.slot("a").due and q.take() == []


def test_a_running_spoke_is_not_started_twice() -> None:
    q = PushQueue(limit=5)
    q.notice(["a"], 1)
    assert q.take() == ["a"]
    q.notice(["a"], 2)
    assert q.take() == []  # its follow-up waits for the run under way
    assert q.finish("a", 1) is True
    assert q.take() == ["a"]


# --- the property: any interleaving ---------------------------------------------------------

_SPOKES = ["s0", "s1", "s2", "s3"]
_step = st.one_of(
    st.tuples(st.just("commit"), st.lists(st.sampled_from(_SPOKES), unique=True)),
    st.tuples(st.just("take"), st.none()),
    st.tuples(st.just("poll"), st.sampled_from(_SPOKES)),
    st.tuples(st.just("read"), st.integers(0, 7)),
    st.tuples(st.just("end"), st.integers(0, 7)),
    st.tuples(st.just("fail"), st.integers(0, 7)),
)


class _World:
    """A hub committing versions, notices (any subset of spokes), and runs that read the
    hub version some time after they started and end some time after that."""

    def __init__(self, limit: int) -> None:
        self.q = PushQueue(limit)
        self.version = 0
        self.runs: list[tuple[str, int | None]] = []  # (spoke, snapshot once read)
        self.delivered: dict[str, int] = dict.fromkeys(_SPOKES, 0)
        self.noticed: dict[str, int] = dict.fromkeys(_SPOKES, 0)
        self.push_runs = 0
        self.failed: set[str] = set()

    def step(self, kind: str, arg: object) -> None:
        if kind == "commit":
            self.version += 1
            assert isinstance(arg, list)
            for s in arg:
                self.noticed[s] = self.version
            self.q.notice(arg, self.version)
        elif kind == "take":
            due = {s for s in _SPOKES if self.q.slot(s).due}
            for s in self.q.take():
                assert s in due, "a push run nothing asked for"
                self.push_runs += 1
                self.runs.append((s, None))
        elif kind == "poll":
            assert isinstance(arg, str)
            if not any(s == arg for s, _ in self.runs):  # one run per spoke at a time
                self.q.start(arg)
                self.runs.append((arg, None))
        elif self.runs:
            assert isinstance(arg, int)
            i = arg % len(self.runs)
            spoke, snap = self.runs[i]
            if kind == "read" and snap is None:
                self.runs[i] = (spoke, self.version)
            elif kind in ("end", "fail"):
                self._end(i, spoke, snap, failed=kind == "fail")
        self._check()

    def _end(self, i: int, spoke: str, snap: int | None, *, failed: bool) -> None:
        del self.runs[i]
        if failed:
            self.failed.add(spoke)
            self.q.finish(spoke, None)
            return
        snap = self.version if snap is None else snap  # it reads at the latest when it pushes
        self.delivered[spoke] = max(self.delivered[spoke], snap)
        self.q.finish(spoke, snap)

    def _check(self) -> None:
        running = [s for s, _ in self.runs]
        assert len(running) == len(set(running)), "two runs of one spoke at once"
        assert self.q.pushing <= self.q.limit
        due = self.q.due()
        assert len(due) == len(set(due)), "a spoke waits twice"

    def drain(self) -> None:
        """Every run ends, every due spoke gets its push run, until nothing is left."""
        while True:
            self.step("take", None)
            if not self.runs:
                return
            spoke, snap = self.runs[0]
            self._end(0, spoke, snap, failed=False)


@settings(max_examples=400, deadline=None)
@given(steps=st.lists(_step, max_size=60), limit=st.integers(1, 3))
def test_property_no_noticed_change_is_skipped(steps: list[tuple[str, object]],
                                               limit: int) -> None:
    world = _World(limit)
    for kind, arg in steps:
        world.step(kind, arg)
    commits = sum(1 for kind, _ in steps if kind == "commit")
    world.drain()
    assert world.q.due() == [] and world.q.pushing == 0
    for spoke in _SPOKES:
        # every version noticed to the spoke was covered by a run's snapshot (a failed run's
        # versions are the scheduled run's: the store's push cursor did not pass them)
        assert world.q.slot(spoke).covered >= world.noticed[spoke]
        if spoke not in world.failed:
            assert world.delivered[spoke] >= world.noticed[spoke]
    # coalescing: never more push runs than notices, whatever the interleaving
    assert world.push_runs <= commits * len(_SPOKES)
