"""A run that finds nothing to do (a ``sync`` of a hub that did not change) writes its run
record and nothing else: no spoke row, no cursor that did not move; through the real
SyncCycle, vdir connector and store. A run after a failure still records the spoke as ok."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event as sa_event

from cirahub.actors.summary import RunStatus, Trigger
from cirahub.connectors.vdir import file_name_for, open_vdir, validate
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


def _hub_reads_during(store, run):  # type: ignore[no-untyped-def]
    """``run()`` with every ``hub_items_changed_since`` call's cursor and answer noted."""
    calls: list[tuple[int, int]] = []
    original = store.hub_items_changed_since

    def noted(hub_id, since, *args, **kwargs):  # type: ignore[no-untyped-def]
        items = original(hub_id, since, *args, **kwargs)
        calls.append((since, len(items)))
        return items

    store.hub_items_changed_since = noted
    try:
        return run(), calls
    finally:
        del store.hub_items_changed_since


def test_regression_a_run_does_not_push_back_what_its_own_merge_made(store, tmp_path):
    """A run that merged its spoke's new and edited items read every one of them back from
    the hub for its push (the initial sync of a 5,000-event folder: 5,000 hub items decoded
    and planned for nothing, 12 % of the server's busy time), although its own merge had made
    them in sync with the spoke; another spoke's change in between is still pushed."""
    loop, (a, b) = _vdir_loop(store, tmp_path)
    hub_id = loop.hub.id
    for i in range(5):
        (tmp_path / "a" / f"new{i}.ics").write_text(event(f"new{i}@manual", f"New {i}"))
    before = store.hub_version(hub_id)
    summary, calls = _hub_reads_during(store, lambda: a.cycle.run(Trigger.MANUAL))
    assert summary.status == RunStatus.OK and summary.counts.get("pulled") == 5, summary
    assert calls and all(n == 0 for _, n in calls), calls  # nothing read back
    assert store.get_spoke(a.id).push_cursor == store.hub_version(hub_id) > before
    assert b.cycle.run(Trigger.MANUAL).counts.get("pushed") == 5
    # b's edit merged first, then a's: a's run still writes b's change into a
    in_b = {uid: tmp_path / "b" / file_name_for(uid, ".ics") for uid in ("new0@manual",
                                                                        "new1@manual")}
    in_b["new0@manual"].write_text(event("new0@manual", "Edited in b"))
    (tmp_path / "a" / "new1.ics").write_text(event("new1@manual", "Edited in a"))
    edited = b.cycle.run(Trigger.MANUAL)
    assert edited.ok and edited.counts.get("pulled") == 1, edited
    summary, calls = _hub_reads_during(store, lambda: a.cycle.run(Trigger.MANUAL))
    assert summary.ok and summary.counts.get("pushed") == 1, summary
    # b's version lies between: read as before (b's change and a's own, planned as an echo)
    assert [n for _, n in calls] == [2], calls
    assert "Edited in b" in (tmp_path / "a" / "new0.ics").read_text()
    assert store.get_spoke(a.id).push_cursor == store.hub_version(hub_id)
    assert b.cycle.run(Trigger.MANUAL).counts.get("pushed") == 1
    assert "Edited in a" in in_b["new1@manual"].read_text()
