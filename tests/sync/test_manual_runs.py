"""A run that finds nothing to do (a ``sync`` of a hub that did not change) writes its run
record and nothing else: no spoke row, no cursor that did not move; through the real
SyncCycle, vdir connector and store. A run after a failure still records the spoke as ok."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event as sa_event

from cirahub.actors.summary import RunStatus, Trigger
from cirahub.connectors.vdir import open_vdir, validate
from cirahub.core.states import SpokeState
from tests.control.test_cli_e2e import event
from tests.sync.harness import Loop


def _vdir_loop(store, tmp_path: Path):  # type: ignore[no-untyped-def]
    loop = Loop(store)
    spokes = []
    for name in ("a", "b"):
        config = validate({"path": str(tmp_path / name), "create": name == "b"})
        (tmp_path / name).mkdir(exist_ok=True)
        spokes.append(loop.add(name, open_vdir(config), kind="vdir", config=config))
    (tmp_path / "a" / "one.ics").write_text(event("one@manual", "One"))
    loop.sync_all()
    return loop, spokes


def _writes_during(store, run):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def note(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            seen.append(" ".join(statement.split()))

    sa_event.listen(store.engine, "before_cursor_execute", note)
    try:
        result = run()
    finally:
        sa_event.remove(store.engine, "before_cursor_execute", note)
    return result, seen


def test_regression_a_no_change_run_writes_its_run_record_only(store, tmp_path):
    """Every manual run of an unchanged spoke wrote its spoke row twice more (the pull cursor
    it already had, the ok state it already was in): two more write transactions per spoke,
    waiting on SQLite's one writer beside the other spokes' runs of the same `sync`."""
    _, (a, b) = _vdir_loop(store, tmp_path)
    for spoke in (a, b):
        summary, writes = _writes_during(store, lambda s=spoke: s.cycle.run(Trigger.MANUAL))
        assert summary.status == RunStatus.OK and summary.counts.get("pulled") == 0, summary
        assert writes and all("sync_runs" in w for w in writes), writes
        run = store.get_run(summary.run_id)
        assert (run.status, run.trigger) == ("ok", "manual") and run.finished_at is not None


def test_a_run_after_a_failure_still_records_the_spoke_ok(store, tmp_path):
    _, (a, _) = _vdir_loop(store, tmp_path)
    (tmp_path / "a").rename(tmp_path / "away")
    assert a.cycle.run(Trigger.MANUAL).status == RunStatus.ERROR
    failed = store.get_spoke(a.id)
    assert failed.state == SpokeState.ERROR and failed.last_error is not None
    (tmp_path / "away").rename(tmp_path / "a")
    assert a.cycle.run(Trigger.MANUAL).status == RunStatus.OK
    back = store.get_spoke(a.id)
    assert back.state == SpokeState.OK and back.last_error is None
