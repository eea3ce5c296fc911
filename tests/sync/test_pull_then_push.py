"""``sync now`` of several spokes: pull runs of every spoke, then one push run of each
(actors/sync_phases.py), through the real SyncCycle, memory connectors and store; and the
phases' order, hold and summaries with a recorded ``run``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cirahub.actors.cycle import FULL, PULL, PUSH, run_mode
from cirahub.actors.summary import RunStatus, Trigger
from cirahub.actors.sync_phases import Held, combined, pull_then_push
from cirahub.core.options import Permissions, SyncOptions
from tests.sync.harness import Loop, Spoke, event


def _loop(store: Any, mirror: bool = False) -> Loop:
    loop = Loop(store)
    loop.add_memory("a")
    loop.add_memory("b", SyncOptions(contributes=Permissions.parse("none", name="c"))
                    if mirror else None)
    loop.add_memory("c")
    cal = loop.spokes["a"].calendar
    assert cal is not None
    cal.user_create(event("one@phases", "One"))
    loop.sync_all()
    return loop


def _write_batches(spoke: Spoke) -> list[int]:
    """The sizes of the spoke's write batches from now on."""
    sizes: list[int] = []
    write_many = spoke.connector.write_many

    def counted(writes: Any) -> Any:
        sizes.append(len(writes))
        return write_many(writes)

    spoke.connector.write_many = counted  # type: ignore[method-assign]
    return sizes


def _uids(spoke: Spoke) -> set[str]:
    assert spoke.calendar is not None
    return {i.uid for i in spoke.calendar.items().values()}


def test_regression_pull_runs_then_push_runs_write_each_spoke_once(store: Any) -> None:
    """Before: every spoke of a `sync` ran complete runs at once, so a spoke that pushed
    before another's merge was written again (a fan-out push run, then a second round)."""
    loop = _loop(store)
    for name, spoke in loop.spokes.items():
        assert spoke.calendar is not None
        spoke.calendar.user_create(event(f"new-{name}@phases", f"New in {name}"))
    batches = {name: _write_batches(s) for name, s in loop.spokes.items()}
    for spoke in loop.spokes.values():
        summary = spoke.cycle.run(Trigger.MANUAL, modes=[PULL])
        assert summary.status == RunStatus.OK and summary.counts.get("pulled") == 1, summary
    assert all(sizes == [] for sizes in batches.values())  # the pulls wrote no spoke
    assert set(loop.hub_items()) == {"one@phases", "new-a@phases", "new-b@phases",
                                     "new-c@phases"}
    for spoke in loop.spokes.values():
        assert spoke.cycle.run(Trigger.MANUAL, modes=[PUSH]).status == RunStatus.OK
    version = store.hub_version(loop.hub.id)
    for name, spoke in loop.spokes.items():
        assert _uids(spoke) == set(loop.hub_items()), name
        assert batches[name] == [2], (name, batches[name])  # the two others' items, at once
        assert store.get_spoke(spoke.id).push_cursor == version


def test_a_pull_run_passes_its_own_merges_never_another_spokes(store: Any) -> None:
    loop = _loop(store)
    a, b = loop.spokes["a"], loop.spokes["b"]
    assert a.calendar is not None and b.calendar is not None
    a.calendar.user_create(event("two@phases", "Two"))
    before_b = store.get_spoke(b.id).push_cursor
    a.cycle.run(Trigger.MANUAL, modes=[PULL])
    # a's own merge is in sync with a: its cursor passes it (no read-back in its push run)
    assert store.get_spoke(a.id).push_cursor == store.hub_version(loop.hub.id)
    b.calendar.user_create(event("three@phases", "Three"))
    b.cycle.run(Trigger.MANUAL, modes=[PULL])
    assert store.get_spoke(b.id).push_cursor == before_b  # a's version came in between
    assert "two@phases" not in _uids(b)
    b.cycle.run(Trigger.MANUAL, modes=[PUSH])
    assert {"two@phases", "three@phases"} <= _uids(b)


def test_a_pull_run_writes_back_what_its_merge_could_not_make_the_same(store: Any) -> None:
    """A mirror's local edit is reverted by the pull run itself (a touched item), while the
    other spokes' changes wait for its push run."""
    loop = _loop(store, mirror=True)
    a, b = loop.spokes["a"], loop.spokes["b"]
    assert a.calendar is not None and b.calendar is not None
    a.calendar.user_create(event("two@phases", "Two"))
    a.cycle.run(Trigger.MANUAL, modes=[PULL])
    (rid,) = b.calendar.find_uid("one@phases")
    b.calendar.user_update(rid, event("one@phases", "Edited in the mirror"))
    batches = _write_batches(b)
    summary = b.cycle.run(Trigger.MANUAL, modes=[PULL])
    assert summary.status == RunStatus.OK, summary
    assert batches == [1] and b.calendar.items()[rid].get("summary") == "One"
    assert "two@phases" not in _uids(b)
    assert store.get_spoke(b.id).push_cursor < store.hub_version(loop.hub.id)
    b.cycle.run(Trigger.MANUAL, modes=[PUSH])
    assert "two@phases" in _uids(b) and batches == [1, 1]


@pytest.mark.parametrize(("modes", "push_due", "mode"), [
    ([], False, FULL), ([FULL], False, FULL), ([PULL], False, PULL), ([PUSH], False, PUSH),
    ([PULL, PULL], False, PULL), ([PULL, PUSH], False, FULL), ([PULL, FULL], False, FULL),
    ([PULL], True, FULL), ([PUSH], True, PUSH),
])
def test_run_mode_answers_every_caller(modes: list[str], push_due: bool, mode: str) -> None:
    assert run_mode(modes, push_due=push_due) == mode


class _Spoke:
    def __init__(self, spoke_id: str, enabled: bool = True) -> None:
        self.id, self.enabled, self.hub_id = spoke_id, enabled, "h"


def _phases(spokes: list[_Spoke], status: dict[str, str] | None = None,
            behind: set[str] | None = None) -> tuple[list[Any], list[tuple[str, str, bool]]]:
    held = Held()
    calls: list[tuple[str, str, bool]] = []

    async def run(spoke: Any, mode: str) -> dict[str, Any]:
        calls.append((spoke.id, mode, spoke.id in held))
        await asyncio.sleep(0)
        done = (status or {}).get(spoke.id, "ok") if mode != PUSH else "ok"
        return {"run_id": f"{spoke.id}-{mode}", "spoke_id": spoke.id, "status": done,
                "counts": {"pushed": 1} if mode == PUSH else {"pulled": 2}, "error": None,
                "duration": 1.0}

    async def lagging(ids: Any) -> set[str]:
        return set(ids) & (behind if behind is not None else set(ids))

    out = asyncio.run(pull_then_push(spokes, run, held, lagging))  # type: ignore[arg-type]
    assert not any(s.id in held for s in spokes)  # the hold ends with the sync
    return out, calls


def test_every_pull_ends_before_any_push_and_the_fan_out_is_held_meanwhile() -> None:
    out, calls = _phases([_Spoke("a"), _Spoke("b"), _Spoke("c", enabled=False)],
                         status={"c": "skipped"}, behind={"a", "b"})
    assert [(i, m) for i, m, _ in calls] == [("a", PULL), ("b", PULL), ("c", PULL),
                                              ("a", PUSH), ("b", PUSH)]
    assert [h for i, m, h in calls if m == PULL] == [True, True, False]  # not the disabled
    assert not any(h for _, m, h in calls if m == PUSH)
    assert out[0] == {"run_id": "a-pull", "spoke_id": "a", "status": "ok",
                      "counts": {"pulled": 2, "pushed": 1}, "error": None, "duration": 2.0}
    assert out[2]["status"] == "skipped"


def test_one_enabled_spoke_is_one_complete_run_and_a_failed_pull_gets_no_push() -> None:
    _, calls = _phases([_Spoke("a"), _Spoke("b", enabled=False)])
    assert [(i, m) for i, m, _ in calls] == [("a", FULL), ("b", FULL)]
    out, calls = _phases([_Spoke("a"), _Spoke("b"), _Spoke("c")],
                         status={"a": "error", "b": "halted"}, behind={"a", "b", "c"})
    assert [(i, m) for i, m, _ in calls if m == PUSH] == [("c", PUSH)]
    assert [o["status"] for o in out] == ["error", "halted", "ok"]
    _, calls = _phases([_Spoke("a"), _Spoke("b")], behind={"b"})
    assert [(i, m) for i, m, _ in calls if m == PUSH] == [("b", PUSH)]  # a holds every version


def test_a_spokes_answer_is_the_worse_of_its_two_runs() -> None:
    pull = {"run_id": "p", "spoke_id": "a", "status": "ok", "counts": {"pulled": 1},
            "error": None, "duration": 0.5}
    push = {"run_id": "q", "spoke_id": "a", "status": "partial", "counts": {"pushed": 2},
            "error": {"code": "write_failed"}, "duration": 0.25}
    assert combined(pull, push) == {"run_id": "p", "spoke_id": "a", "status": "partial",
                                    "counts": {"pulled": 1, "pushed": 2},
                                    "error": {"code": "write_failed"}, "duration": 0.75}
    assert combined(pull, None) is pull
    assert combined({**pull, "status": "error", "error": {"code": "x"}}, push)["status"] == "error"


def test_the_push_runs_are_announced_before_they_are_asked() -> None:
    """``announce`` names exactly the spokes whose push runs come, before the first is asked
    (their spoke actors read one wave once all asked, actors/waves.py)."""
    held, calls = Held(), []

    async def run(spoke: Any, mode: str) -> dict[str, Any]:
        calls.append((spoke.id, mode))
        return {"run_id": f"{spoke.id}-{mode}", "spoke_id": spoke.id,
                "status": "error" if spoke.id == "c" else "ok", "counts": {}, "error": None,
                "duration": 0.0}

    async def lagging(ids: Any) -> set[str]:
        return set(ids) - {"b"}  # b holds every hub version already

    def announce(ids: Any) -> None:
        calls.append((",".join(sorted(ids)), "announce"))

    spokes = [_Spoke("a"), _Spoke("b"), _Spoke("c"), _Spoke("d")]
    asyncio.run(pull_then_push(spokes, run, held, lagging, announce))  # type: ignore[arg-type]
    assert calls[4:] == [("a,d", "announce"), ("a", PUSH), ("d", PUSH)]
