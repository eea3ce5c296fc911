"""The fan-out of one edit to many spokes shares its store work (actors/push_wave.py): through
the real SpokeActor (a plain object here, hosting vdir and memory spokes in this process) and
the real store, on SQLite and PostgreSQL.

What a user sees: an edit reaches every other spoke with one push run each, the store does
at most two write transactions per spoke for it, usually far fewer (before: seven per spoke,
each waiting for SQLite's one writer), a failed write stays with its spoke, and a crash
between the spokes' writes and the store's commit re-converges without duplicates or echo
edits."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from cirahub.actors import pushing
from cirahub.actors.cycle import PUSH, LocalMerger, SyncCycle
from cirahub.actors.push_wave import GroupCommit, _Job
from cirahub.actors.pushing import WRITE_CHUNK
from cirahub.actors.spoke import SpokeActor
from cirahub.actors.summary import RunStatus, Trigger
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.settings import Settings
from cirahub.connectors.registry import open_connector
from cirahub.core.errors import NotFound, StoreError
from cirahub.core.ical import parse_item
from cirahub.store import Store
from cirahub.store.pushes import PushCommit
from tests.ray.helpers import folder_summaries, folder_uids, write_event
from tests.sync.harness import until

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Fleet:
    store: Store
    settings: Settings
    hub_id: str
    ids: list[str]
    folders: list[Path]

    def full_run(self, n: int) -> Any:
        connector = open_connector("vdir", {"path": str(self.folders[n])})
        return SyncCycle(self.store, connector, self.ids[n], LocalMerger(self.store)).run("test")

    def edit(self, uid: str, summary: str) -> int:
        """An edit in spoke 0, merged by its own run; returns the hub version it made."""
        write_event(self.folders[0], uid, summary)
        assert self.full_run(0).status == RunStatus.OK
        return self.store.hub_version(self.hub_id)

    def fanout_runs(self, n: int) -> list[Any]:
        return [r for r in self.store.list_runs(spoke_id=self.ids[n], limit=1000)
                if r.trigger == Trigger.FANOUT]


@pytest.fixture
def fleet_of(db_url: str, tmp_path: Path) -> Iterator[Callable[[int], Fleet]]:
    stores: list[Store] = []

    def make(n: int) -> Fleet:
        settings = Settings(data_dir=tmp_path / "data", db_url=db_url, push_threads=4,
                            spoke_threads=2, namespace=f"waves-{uuid.uuid4().hex}")
        store = open_store(settings)
        stores.append(store)
        hub = store.create_hub(f"waves-{uuid.uuid4().hex[:6]}")
        folders = [tmp_path / f"s{i:02d}" for i in range(n)]
        ids = []
        for folder in folders:
            folder.mkdir()
            ids.append(store.add_spoke(hub.name, folder.name, "vdir", {"path": str(folder)},
                                       {"interval_seconds": 3600}).id)
        fleet = Fleet(store, settings, hub.id, ids, folders)
        for i in range(n):
            fleet.full_run(i)  # first attach done: later runs of them are push runs
        return fleet

    yield make
    for store in stores:
        store.close()


def fan_out(fleet: Fleet, version: int) -> int:
    """Tell a spoke actor hosting every spoke that the hub committed ``version`` (as the hub
    actor does after spoke 0's merge); returns the write transactions its store committed
    until every push run was done."""

    async def run() -> int:
        actor = SpokeActor(fleet.settings.to_dict(), "test-waves")
        actor._merger = LocalMerger(fleet.store)
        commits = []
        event.listen(actor._store.engine, "commit", lambda conn: commits.append(1))
        await actor.assign([(i, fleet.hub_id) for i in fleet.ids])
        for hosted in actor._spokes.values():
            hosted.next_run_at = time.time() + 3600  # no poll during the test: pushes only
        await actor.push_soon(fleet.ids[1:], version)
        await until(lambda: not actor._pushes.due() and actor._pushes.pushing == 0
                     and not any(h.running or h.push_pending for h in actor._spokes.values()),
                     "every push run done")
        await actor.unassign(list(actor._spokes))
        return len(commits)

    return asyncio.run(run())


def test_regression_an_edit_reaches_every_other_spoke_with_one_push_run_each(fleet_of):
    """Before: each push run wrote its run start, pending write, links, write errors,
    projections, push cursor and run end in seven transactions of its own (with 1,000
    spokes, 7,000 waits for SQLite's one writer per edit)."""
    fleet = fleet_of(12)
    others = range(1, len(fleet.ids))
    # at most: one commit per spoke, and one more for its pending write (noted before sending)
    for uid, summary in (("wave@t", "created in s00"), ("wave@t", "edited in s00")):
        version = fleet.edit(uid, summary)
        before = {n: len(fleet.fanout_runs(n)) for n in others}
        transactions = fan_out(fleet, version)
        for n in others:
            assert folder_summaries(fleet.folders[n])["wave@t"] == summary
            assert folder_uids(fleet.folders[n])["wave@t"] == 1
            runs = fleet.fanout_runs(n)
            assert len(runs) == before[n] + 1, n  # one push run per spoke per edit
            assert runs[0].status == RunStatus.OK and runs[0].counts.get("pushed") == 1
            assert fleet.store.get_spoke(fleet.ids[n]).push_cursor == version
            (link,) = fleet.store.links(fleet.ids[n]).values()
            assert link.hub_version == version
            assert fleet.store.pending_writes(fleet.ids[n], uids=["wave@t"]) == {}  # confirmed
        assert fleet.fanout_runs(0) == []  # the source's own run pushed already
        assert transactions <= 2 * len(others), transactions
    # nothing left to do: the spokes' next runs write nothing
    for n in others:
        assert fleet.full_run(n).counts.get("pushed", 0) == 0


def test_a_failed_write_stays_with_its_spoke(fleet_of):
    """A spoke whose write fails gets a partial run, a quarantine row and its push cursor
    held back, inside a wave whose other spokes commit as usual; its next push retries."""
    fleet = fleet_of(4)
    fleet.store.update_spoke(fleet.ids[2], config={"path": str(fleet.folders[2] / "gone")})
    version = fleet.edit("fails@t", "created in s00")
    fan_out(fleet, version)
    (failed,) = fleet.fanout_runs(2)
    assert failed.status == RunStatus.PARTIAL and "fails@t" in failed.error["message"]
    (row,) = fleet.store.list_quarantine(spoke_id=fleet.ids[2])
    assert row.reason == "write_failed" and row.uid == "fails@t"
    assert fleet.store.get_spoke(fleet.ids[2]).push_cursor < version
    assert fleet.store.get_spoke(fleet.ids[2]).state == "error"
    for n in (1, 3):
        assert fleet.fanout_runs(n)[0].status == RunStatus.OK
        assert "fails@t" in folder_summaries(fleet.folders[n])
    fleet.store.update_spoke(fleet.ids[2], config={"path": str(fleet.folders[2])})
    fan_out(fleet, version)
    assert fleet.fanout_runs(2)[0].status == RunStatus.OK
    assert fleet.store.list_quarantine(spoke_id=fleet.ids[2]) == []
    assert "fails@t" in folder_summaries(fleet.folders[2])


def test_a_spoke_removed_before_the_commit_fails_alone(fleet_of):
    """One group commit holds several spokes' push runs; a spoke removed meanwhile gets
    NotFound, the others' runs are committed."""
    fleet = fleet_of(4)
    fleet.store.remove_spoke(fleet.ids[2])
    writer = GroupCommit(fleet.store)
    jobs = [_Job(commit=PushCommit(fleet.ids[n], fleet.hub_id, push_cursor=0,
                                   run_id=str(uuid.uuid4()), trigger="fanout"))
            for n in (1, 2)]
    for job in jobs:  # queued before the writer runs: one group with the last one
        writer._queue.put(job)
    writer.commit(PushCommit(fleet.ids[3], fleet.hub_id, push_cursor=0,
                             run_id=str(uuid.uuid4()), trigger="fanout"))
    assert jobs[0].done.result() is None
    with pytest.raises(NotFound):
        jobs[1].done.result()
    assert len(fleet.fanout_runs(1)) == 1 and len(fleet.fanout_runs(3)) == 1


#: the end of a crashing child: a spoke actor hosting the spokes is told of the edit, and the
#: process dies where the child's patch says
CHILD_WAVE = textwrap.dedent("""
    async def main():
        actor = SpokeActor(args["settings"], "crashing")
        await actor.assign([(i, args["hub"]) for i in args["ids"]])
        for hosted in actor._spokes.values():
            hosted.next_run_at = time.time() + 3600
        await actor.push_soon(args["ids"], args["version"])
        await asyncio.sleep(120)

    asyncio.run(main())
    sys.exit(3)  # never reached: the barrier ends the process
""")

def crash_child(fleet: Fleet, script: str, version: int) -> None:
    """Run ``script`` (a crashing child) on spokes 1.. of ``fleet`` told of ``version``; it
    must die by its own hand (exit status 17)."""
    settings = fleet.settings.to_dict()
    settings["data_dir"] = str(settings["data_dir"])
    args = {"settings": settings, "hub": fleet.hub_id, "ids": fleet.ids[1:],
            "version": version}
    child = subprocess.run([sys.executable, "-c", script, json.dumps(args)], cwd=REPO,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 17, child.stderr[-3000:]


CRASHING_CHILD = textwrap.dedent("""
    import asyncio, json, os, sys, threading, time
    from cirahub.actors import push_wave
    from cirahub.actors.spoke import SpokeActor
    from cirahub.cluster.settings import Settings

    args = json.loads(sys.argv[1])
    # every push run has written to its spoke; the process dies before any is committed
    barrier = threading.Barrier(len(args["ids"]), action=lambda: os._exit(17))
    push_wave.GroupCommit.commit = lambda self, commit: barrier.wait()
    push_wave.GroupCommit.submit = lambda self, commit: barrier.wait()
""") + CHILD_WAVE


def test_crash_between_spoke_writes_and_commit_reconverges(fleet_of):
    """The process dies after a wave's spoke writes and before its commit (a new event and
    an update of an old one written in three folders, no link stored): the spokes' next
    runs link the new copies by UID and recognize the update as the hub's own write (its
    pending write was stored before sending): no duplicate, no echo edit, no
    conflict, nothing written again."""
    fleet = fleet_of(4)
    fleet.edit("old@t", "first")
    fan_out(fleet, fleet.store.hub_version(fleet.hub_id))
    write_event(fleet.folders[0], "new@t", "created before the crash")
    version = fleet.edit("old@t", "edited before the crash")
    crash_child(fleet, CRASHING_CHILD, version)
    for n in (1, 2, 3):  # written there, but not linked
        assert folder_summaries(fleet.folders[n]) == {
            "old@t": "edited before the crash", "new@t": "created before the crash"}
        assert len(fleet.fanout_runs(n)) == 1  # the crashed push run left no row
        assert fleet.store.get_spoke(fleet.ids[n]).push_cursor < version
    for n in (1, 2, 3):
        summary = fleet.full_run(n)
        assert summary.status == RunStatus.OK, summary
        assert summary.counts.get("pushed", 0) == 0, summary.counts  # nothing written again
        assert folder_uids(fleet.folders[n]) == {"old@t": 1, "new@t": 1}
        assert {ln.uid for ln in fleet.store.links(fleet.ids[n]).values()} == {"old@t", "new@t"}
    assert fleet.store.hub_version(fleet.hub_id) == version  # no echo edit came back
    assert fleet.store.list_conflicts(fleet.hub_id) == []
    assert sorted(h.uid for h in fleet.store.hub_items_changed_since(fleet.hub_id, 0)) == [
        "new@t", "old@t"]


BARRIER_CRASH_CHILD = textwrap.dedent("""
    import asyncio, json, os, sys, threading, time
    from cirahub.actors.spoke import SpokeActor
    from cirahub.connectors import vdir_barrier

    args = json.loads(sys.argv[1])
    staged = threading.Barrier(len(args["ids"]))
    # every spoke's temp files made durable by the shared barrier, none renamed: die here
    durable = threading.Barrier(len(args["ids"]), action=lambda: os._exit(17))
    shared = vdir_barrier.before_place

    def before_place(folder):
        staged.wait()  # every spoke of the wave has staged its temp files
        shared(folder)
        durable.wait()

    vdir_barrier.before_place = before_place
""") + CHILD_WAVE


def next_runs_write_the_edit_once(fleet: Fleet, version: int) -> None:
    """After a crash in the fan-out of the edit + create at ``version``: each spoke's next
    run writes both once (one file each), the one after writes nothing, no echo edit comes
    back to the hub and no conflict is logged."""
    for n in (1, 2, 3):
        summary = fleet.full_run(n)
        assert summary.status == RunStatus.OK, summary
        assert summary.counts.get("pushed") == 2, summary.counts  # the update and the create
        assert folder_summaries(fleet.folders[n]) == {
            "old@t": "edited before the crash", "new@t": "created before the crash"}
        assert folder_uids(fleet.folders[n]) == {"old@t": 1, "new@t": 1}
        again = fleet.full_run(n)
        assert again.counts.get("pulled", 0) == 0 and again.counts.get("pushed", 0) == 0
    assert fleet.store.hub_version(fleet.hub_id) == version  # no echo edit came back
    assert fleet.store.list_conflicts(fleet.hub_id) == []


def test_crash_inside_a_waves_shared_barrier_loses_nothing(fleet_of):
    """The spokes of a wave share their durable barriers (one ``syncfs`` for many spokes'
    temp files, connectors/vdir_barrier.py). The process dies after that barrier and
    before any rename: every folder still holds its old file, whole and unchanged, and no
    new one (the temp files are hidden, each a complete calendar), nothing was linked;
    the spokes' next runs write the edit once each and converge, with no duplicate, no
    echo edit and no conflict."""
    fleet = fleet_of(4)
    fleet.edit("old@t", "first")
    fan_out(fleet, fleet.store.hub_version(fleet.hub_id))
    before = {n: (fleet.folders[n] / "old@t.ics").read_bytes() for n in (1, 2, 3)}
    links = {n: fleet.store.links(fleet.ids[n]) for n in (1, 2, 3)}
    write_event(fleet.folders[0], "new@t", "created before the crash")
    version = fleet.edit("old@t", "edited before the crash")
    crash_child(fleet, BARRIER_CRASH_CHILD, version)
    for n in (1, 2, 3):
        folder = fleet.folders[n]
        assert (folder / "old@t.ics").read_bytes() == before[n]  # not torn, not replaced
        assert folder_summaries(folder) == {"old@t": "first"}  # nothing new placed
        temps = sorted(p for p in folder.iterdir() if p.name.startswith(".cirahub-"))
        assert len(temps) == 2  # staged: the update and the create, each whole
        assert sorted(parse_item(p.read_text()).fields["summary"] for p in temps) == [
            "created before the crash", "edited before the crash"]
        assert fleet.store.links(fleet.ids[n]) == links[n]
        assert fleet.store.get_spoke(fleet.ids[n]).push_cursor < version
    next_runs_write_the_edit_once(fleet, version)


NOTED_CRASH_CHILD = textwrap.dedent("""
    import asyncio, json, os, sys, threading, time
    from cirahub.actors import push_wave
    from cirahub.actors.spoke import SpokeActor

    from cirahub.connectors.registry import open_connector

    args = json.loads(sys.argv[1])
    # a fresh actor has no connector open yet (the wave plans only for open ones): as if
    # every spoke had run here before
    vdir = open_connector("vdir", {"path": args["settings"]["data_dir"]}).capabilities
    SpokeActor._capabilities = lambda self, spoke_id: vdir
    # the wave has planned every spoke and noted their pending writes in one job: die
    # before any spoke is written
    noted = push_wave.GroupCommit.note_pending_many

    def note_then_die(self, pending):
        noted(self, pending)
        if len(pending) > 1:
            os._exit(17)

    push_wave.GroupCommit.note_pending_many = note_then_die
""") + CHILD_WAVE


def test_crash_after_a_waves_pending_writes_before_any_write_loses_nothing(fleet_of):
    """A wave notes the pending writes of all its spokes in one transaction before any of
    them is written. The process dies right after it: no folder was touched, nothing was
    linked, no push cursor moved; the spokes' next runs write the edit exactly once each
    (the unused pending writes match nothing), with no echo edit and no conflict."""
    fleet = fleet_of(4)
    fleet.edit("old@t", "first")
    fan_out(fleet, fleet.store.hub_version(fleet.hub_id))
    before = {n: (fleet.folders[n] / "old@t.ics").read_bytes() for n in (1, 2, 3)}
    write_event(fleet.folders[0], "new@t", "created before the crash")
    version = fleet.edit("old@t", "edited before the crash")
    crash_child(fleet, NOTED_CRASH_CHILD, version)
    for n in (1, 2, 3):
        assert (fleet.folders[n] / "old@t.ics").read_bytes() == before[n]
        assert folder_summaries(fleet.folders[n]) == {"old@t": "first"}
        assert fleet.store.get_spoke(fleet.ids[n]).push_cursor < version
        # noted by the wave (the update and the create), never sent
        assert len(fleet.store.pending_writes(fleet.ids[n], uids=["old@t", "new@t"])) == 2
    next_runs_write_the_edit_once(fleet, version)


def test_a_wave_whose_pending_writes_fail_leaves_each_spoke_to_note_its_own(fleet_of,
                                                                           monkeypatch):
    """The wave's one job for its spokes' pending writes fails: nothing is sent on its
    account; each push run plans and notes its own (a failure of one spoke's data stays
    with it) and the edit reaches every spoke once."""
    fleet = fleet_of(5)
    fleet.edit("note@t", "first")
    fan_out(fleet, fleet.store.hub_version(fleet.hub_id))
    # the test's actor is fresh (no connector open): plan in the wave all the same
    vdir = open_connector("vdir", {"path": str(fleet.folders[0])}).capabilities
    monkeypatch.setattr(SpokeActor, "_capabilities", lambda self, spoke_id: vdir)
    real = GroupCommit.note_pending_many
    refused: list[int] = []

    def refuse_waves(self, pending):
        if len(pending) > 1:
            refused.append(len(pending))
            raise StoreError("the database is locked", action="write")
        real(self, pending)

    monkeypatch.setattr(GroupCommit, "note_pending_many", refuse_waves)
    version = fleet.edit("note@t", "edited")
    fan_out(fleet, version)
    assert refused  # a wave's note was refused
    for n in range(1, 5):
        assert folder_summaries(fleet.folders[n]) == {"note@t": "edited"}
        assert folder_uids(fleet.folders[n]) == {"note@t": 1}
        runs = fleet.fanout_runs(n)
        assert len(runs) == 2 and runs[0].status == RunStatus.OK, runs
        assert fleet.store.get_spoke(fleet.ids[n]).push_cursor == version
        assert fleet.store.pending_writes(fleet.ids[n], uids=["note@t"]) == {}


def sync_pushes(fleet: Fleet, spokes: list[int]) -> tuple[list[dict[str, Any]], int]:
    """A sync's push phase (actors/sync_phases.py) for ``spokes``: their push runs asked of
    one spoke actor at once, as the supervisor asks them. Returns the summaries and how many
    times the actor's store read the hub's changed items."""

    async def run() -> tuple[list[dict[str, Any]], int]:
        actor = SpokeActor(fleet.settings.to_dict(), "test-sync-push")
        actor._merger = LocalMerger(fleet.store)
        actor._waves._window, actor._waves._limit = 60.0, len(spokes)  # one wave, by count
        reads: list[int] = []
        real = actor._store.hub_items_changed_since

        def counted(*args: Any, **kwargs: Any) -> Any:
            reads.append(1)
            return real(*args, **kwargs)

        actor._store.hub_items_changed_since = counted  # type: ignore[method-assign]
        await actor.assign([(fleet.ids[n], fleet.hub_id) for n in spokes])
        for hosted in actor._spokes.values():
            hosted.next_run_at = time.time() + 3600  # no poll during the test
        summaries = await asyncio.gather(*(actor.sync_now(fleet.ids[n], PUSH) for n in spokes))
        await actor.unassign(list(actor._spokes))
        return list(summaries), len(reads)

    return asyncio.run(run())


def plans_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The spoke ids of the push plans made from now on, in order."""
    planned: list[str] = []
    real_plan = pushing.plan_push
    monkeypatch.setattr(pushing, "plan_push", lambda ctx, *args: (
        planned.append(ctx.spoke_id), real_plan(ctx, *args))[1])
    return planned


def test_regression_a_syncs_push_runs_share_one_read_and_one_writer(fleet_of, monkeypatch):
    """Before: a sync's push phase ran a SyncCycle push run per spoke: each spoke read the
    hub's changed items back for itself (2,000 items, nine times, in the 10-folder initial
    sync) and committed each chunk of its writes in transactions of its own, nine writers
    queueing for SQLite's lock. Now they go as one wave (actors/push_wave.py), and a push of
    more than one chunk is planned by the push threads: the wave planned it too, one spoke
    after the other before any write, and dropped the plan (too long to note at once); and
    spokes of equal options that hold none of the items share one plan (SharedPlans)."""
    fleet = fleet_of(4)
    vdir = open_connector("vdir", {"path": str(fleet.folders[0])}).capabilities
    monkeypatch.setattr(SpokeActor, "_capabilities", lambda self, spoke_id: vdir)
    uids = [f"sync{i}@t" for i in range(WRITE_CHUNK + 5)]  # two chunks per spoke
    for uid in uids:
        write_event(fleet.folders[0], uid, "for the sync")
    assert fleet.full_run(0).status == RunStatus.OK
    planned = plans_made(monkeypatch)
    version = fleet.store.hub_version(fleet.hub_id)
    summaries, reads = sync_pushes(fleet, [1, 2, 3])
    assert reads == 1  # one read of the changed items for the three spokes
    assert len(planned) == 1  # one plan for the three spokes (equal options, no links)
    for n, summary in zip((1, 2, 3), summaries, strict=True):
        assert summary["status"] == RunStatus.OK and summary["counts"]["pushed"] == len(uids)
        assert folder_uids(fleet.folders[n]) == dict.fromkeys(uids, 1)
        assert fleet.store.get_spoke(fleet.ids[n]).push_cursor == version
        (run,) = fleet.store.list_runs(spoke_id=fleet.ids[n], limit=1)
        assert run.id == summary["run_id"] and run.trigger == Trigger.MANUAL
        assert run.status == RunStatus.OK
        assert len(fleet.store.links(fleet.ids[n])) == len(uids)
        assert fleet.store.pending_writes(fleet.ids[n], uids=uids) == {}  # all confirmed
    for n in (1, 2, 3):  # nothing left: the next runs write nothing
        assert fleet.full_run(n).counts.get("pushed", 0) == 0


def test_a_syncs_push_run_of_a_spoke_never_run_is_its_first_full_run(fleet_of, tmp_path):
    """The wave has nothing for a spoke whose first attach is not done: its push run is the
    cycle's own, which runs in full first (first-attach matching before any hub write)."""
    fleet = fleet_of(2)
    write_event(fleet.folders[0], "hub@t", "in the hub")
    assert fleet.full_run(0).status == RunStatus.OK
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    write_event(fresh, "own@t", "only in the new spoke")
    spoke = fleet.store.add_spoke(fleet.store.get_hub(fleet.hub_id).name, "fresh", "vdir",
                                  {"path": str(fresh)}, {"interval_seconds": 3600})
    fleet.ids.append(spoke.id)
    fleet.folders.append(fresh)
    (summary,), _ = sync_pushes(fleet, [2])
    assert summary["status"] == RunStatus.OK
    assert folder_uids(fresh) == {"hub@t": 1, "own@t": 1}
    assert {h.uid for h in fleet.store.hub_items_changed_since(fleet.hub_id, 0)} == {
        "hub@t", "own@t"}


def test_spokes_of_other_options_in_one_wave_get_plans_of_their_own(fleet_of, monkeypatch):
    """A shared plan is only taken by a spoke whose options and capabilities are those it
    was made for: a spoke that tags what the hub writes there gets its own plan, and only
    its files carry the tag."""
    fleet = fleet_of(4)
    fleet.store.update_spoke(fleet.ids[3], options={"interval_seconds": 3600,
                                                    "tag_category": "from-hub"})
    uids = [f"tag{i}@t" for i in range(WRITE_CHUNK + 1)]
    for uid in uids:
        write_event(fleet.folders[0], uid, "tagged or not")
    assert fleet.full_run(0).status == RunStatus.OK
    planned = plans_made(monkeypatch)
    summaries, _ = sync_pushes(fleet, [1, 2, 3])
    assert all(s["status"] == RunStatus.OK for s in summaries), summaries
    assert len(planned) == 2 and fleet.ids[3] in planned  # 1 and 2 share one
    for n in (1, 2, 3):
        assert folder_uids(fleet.folders[n]) == dict.fromkeys(uids, 1)
        texts = [f.read_text() for f in fleet.folders[n].glob("*.ics")]
        assert all(("from-hub" in t) == (n == 3) for t in texts), n
