"""Scheduled polls that find nothing to do are folded into one run row per spoke (no store
write per poll), through the real SyncCycle and store; any other run closes the fold, and
the run history still shows when the spoke was polled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from cirahub.actors.idle import IdlePolls
from cirahub.actors.summary import RunStatus, Trigger
from cirahub.store import models as m
from tests.sync.harness import Loop, event


class Clock:
    """The wall clock of the run rows (``utcnow``), moved by hand for the idle polls."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self):  # type: ignore[no-untyped-def]
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _loop(store):  # type: ignore[no-untyped-def]
    clock = Clock()
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    idle = IdlePolls(clock)
    a.cycle.idle = b.cycle.idle = idle
    loop.sync_all()  # first runs (first attach): recorded as usual
    return clock, idle, a, b


def _run_rows(store, spoke_id: str) -> int:  # type: ignore[no-untyped-def]
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(m.sync_runs)
                                .where(m.sync_runs.c.spoke_id == spoke_id)).scalar_one())


def test_idle_polls_write_nothing_until_flushed_then_fold_into_one_row(store):
    clock, idle, a, _ = _loop(store)
    rows_before = _run_rows(store, a.id)
    summaries = []
    for _ in range(3):
        clock.advance(60)
        summaries.append(a.cycle.run(Trigger.SCHEDULE))
    assert {s.status for s in summaries} == {RunStatus.OK}
    assert len({s.run_id for s in summaries}) == 1  # one folded row
    assert _run_rows(store, a.id) == rows_before  # nothing written per poll
    assert store.record_polls(idle.take()) == 1
    run = store.get_run(summaries[0].run_id)
    assert (run.status, run.trigger) == ("ok", "schedule")
    assert run.counts == {"polls": 3, "longest_gap_ms": 60_000}
    assert run.finished_at - run.started_at == timedelta(seconds=120)
    # the status' "last run" (newest first) is this row: the operator sees the last poll
    assert store.list_runs(spoke_id=a.id, limit=1)[0].id == run.id
    # a later poll updates the same row
    clock.advance(90)
    a.cycle.run(Trigger.SCHEDULE)
    store.record_polls(idle.take())
    run = store.get_run(summaries[0].run_id)
    assert run.counts == {"polls": 4, "longest_gap_ms": 90_000}
    assert _run_rows(store, a.id) == rows_before + 1


def test_a_change_is_a_recorded_run_that_closes_the_fold(store):
    clock, idle, a, b = _loop(store)
    clock.advance(60)
    first = a.cycle.run(Trigger.SCHEDULE)
    a.calendar.user_create(event("u1", "Planning"))
    clock.advance(60)
    changed = a.cycle.run(Trigger.SCHEDULE)
    assert changed.run_id != first.run_id and changed.counts.get("pulled") == 1
    assert store.get_run(changed.run_id).trigger == "schedule"
    # b's hub moved past its push cursor: its next poll is a real run that pushes
    clock.advance(1)
    pushed = b.cycle.run(Trigger.SCHEDULE)
    assert pushed.counts.get("pushed") == 1 and pushed.run_id != first.run_id
    # a's next polls are idle again: a new folded row (the changed run closed the first)
    after = a.cycle.run(Trigger.SCHEDULE)
    clock.advance(60)
    again = a.cycle.run(Trigger.SCHEDULE)
    assert again.run_id == after.run_id
    assert again.run_id not in (first.run_id, changed.run_id)
    store.record_polls(idle.take())
    assert store.get_run(first.run_id).counts["polls"] == 1
    assert store.get_run(again.run_id).counts["polls"] == 2
    assert {r.id for r in store.list_runs(spoke_id=a.id, limit=10)} >= {
        first.run_id, changed.run_id, again.run_id}


def test_manual_runs_and_runs_without_the_buffer_are_always_recorded(store):
    clock, idle, a, _ = _loop(store)
    before = _run_rows(store, a.id)
    clock.advance(60)
    manual = a.cycle.run(Trigger.MANUAL)
    assert store.get_run(manual.run_id).status == "ok"  # written at once, not folded
    a.cycle.idle = None
    plain = a.cycle.run(Trigger.SCHEDULE)
    assert store.get_run(plain.run_id).trigger == "schedule"
    assert _run_rows(store, a.id) == before + 2 and not idle.take()


def test_a_failing_pull_is_recorded_as_a_failed_run(store):
    clock, idle, a, _ = _loop(store)
    a.calendar.fail_next_deltas(1)  # type: ignore[union-attr]
    clock.advance(60)
    summary = a.cycle.run(Trigger.SCHEDULE)
    assert summary.status == RunStatus.ERROR
    assert store.get_run(summary.run_id).status == "error"
    assert a.calendar.stats["delta"] == 3  # the probe's pull failed; it was not pulled again
    assert not idle.take()


def test_record_polls_drops_rows_of_removed_spokes(store):
    clock, idle, a, b = _loop(store)
    clock.advance(60)
    a.cycle.run(Trigger.SCHEDULE)
    b.cycle.run(Trigger.SCHEDULE)
    store.remove_spoke(b.id)
    assert store.record_polls(idle.take()) == 1
    assert store.list_runs(spoke_id=a.id, limit=1)[0].counts["polls"] == 1
