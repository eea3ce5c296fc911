"""A hub with vdir and memory spokes synced continuously by real Ray actors (one node)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import ray

from cirahub.actors.runtime import Runtime
from cirahub.core.errors import NotFound
from cirahub.core.item import Item
from tests.ray.helpers import (
    actor_of,
    folder_uids,
    in_actor,
    memory_uids,
    sync_round,
    wait_for,
    write_event,
)

pytestmark = pytest.mark.ray

HUB = "team"
FAST = {"interval_seconds": 5}


@dataclass
class Topology:
    rt: Runtime
    folders: dict[str, Path]  # vdir spoke name → folder
    ids: dict[str, str]  # spoke name → id
    memories: dict[str, str]  # memory spoke name → calendar name

    def expected_everywhere(self, uids: set[str]) -> bool:
        for folder in self.folders.values():
            if folder_uids(folder) != dict.fromkeys(uids, 1):
                return False
        for name, cal in self.memories.items():
            if memory_uids(self.rt, self.ids[name], cal) != dict.fromkeys(uids, 1):
                return False
        return self.rt.store.count_items(self.rt.store.get_hub(HUB).id) == len(uids)


@pytest.fixture(scope="module")
def topo(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    store = runtime.store
    store.create_hub(HUB)
    folders, ids, memories = {}, {}, {}
    for name in ("a", "b", "c"):
        folders[name] = tmp_path_factory.mktemp(f"vdir-{name}")
        ids[name] = store.add_spoke(HUB, name, "vdir", {"path": str(folders[name])}, FAST).id
    for name in ("m1", "m2"):
        memories[name] = f"{HUB}-{name}"
        ids[name] = store.add_spoke(HUB, name, "memory", {"calendar": memories[name]}, FAST).id
    runtime.reconcile()
    yield Topology(runtime, folders, ids, memories)


def _memory_create(calendar: str, uid: str, summary: str) -> Any:
    def create(_actor: Any) -> str:
        from cirahub.connectors.memory import MemoryCalendar

        return MemoryCalendar.named(calendar).user_create(Item(uid, {
            "summary": summary,
            "start": {"utc": "2026-12-05T10:00:00Z", "tz": "UTC"},
            "end": {"utc": "2026-12-05T11:00:00Z", "tz": "UTC"},
        }))

    return create


def test_hub_converges_through_actors_and_sync_now_waits_for_the_runs(topo: Topology) -> None:
    rt = topo.rt
    for i in range(3):
        write_event(topo.folders["a"], f"a{i}@t", f"from a {i}")
    for i in range(2):
        write_event(topo.folders["b"], f"b{i}@t", f"from b {i}")
    in_actor(rt, topo.ids["m1"], _memory_create(topo.memories["m1"], "m1-0@t", "from m1"))
    expected = {"a0@t", "a1@t", "a2@t", "b0@t", "b1@t", "m1-0@t"}

    summaries = sync_round(rt, HUB)
    # sync now returns once every run is recorded as finished
    assert set(summaries) == set(topo.ids.values())
    for summary in summaries.values():
        assert summary["status"] == "ok", summary
        run = rt.store.get_run(summary["run_id"])
        assert run.status == "ok" and run.finished_at is not None and run.trigger == "manual"
    sync_round(rt, HUB)
    assert topo.expected_everywhere(expected)
    statuses = {s.name: s for s in rt.status(HUB)}
    assert {s.linked_items for s in statuses.values()} == {len(expected)}
    assert all(s.actor and s.node_id and s.next_run_at for s in statuses.values())


def test_spokes_poll_on_their_own(topo: Topology) -> None:
    write_event(topo.folders["a"], "polled@t", "picked up by the poll loop")
    # No sync now: a's interval loop pulls the item into the hub, whose change reaches b by
    # fan-out (or b's own poll, whichever comes first).
    wait_for(lambda: "polled@t" in folder_uids(topo.folders["b"]), timeout=60,
             what="the periodic runs to carry the item")
    runs = topo.rt.store.list_runs(spoke_id=topo.ids["a"], limit=5)
    assert any(r.trigger == "schedule" for r in runs)
    # A push run is recorded when it ends, in the commit after its writes (actors/push_wave):
    # the file can be in b a moment before b's run is in the history (CI: read too early).
    wait_for(lambda: any(r.trigger in ("schedule", "fanout")
                         for r in topo.rt.store.list_runs(spoke_id=topo.ids["b"], limit=5)),
             timeout=60, what="b's run that carried the item to be recorded")


def test_options_change_takes_effect_on_the_next_run(topo: Topology) -> None:
    rt, store = topo.rt, topo.rt.store
    store.update_spoke(topo.ids["c"], options={**FAST, "hub_writes": "none"})
    write_event(topo.folders["a"], "opt@t", "hub may not write to c")
    sync_round(rt, HUB)
    sync_round(rt, HUB)
    assert "opt@t" in folder_uids(topo.folders["b"])
    assert "opt@t" not in folder_uids(topo.folders["c"])
    store.update_spoke(topo.ids["c"], options=FAST)
    summary = sync_round(rt, HUB, "c")[topo.ids["c"]]
    assert summary["status"] == "ok"
    assert folder_uids(topo.folders["c"])["opt@t"] == 1


def test_disabling_stops_polling_and_enabling_catches_up(topo: Topology) -> None:
    rt, store = topo.rt, topo.rt.store
    b = topo.ids["b"]
    host = actor_of(rt, b)
    store.set_spoke_enabled(b, False)
    rt.reconcile()
    status = {s.spoke_id: s for s in rt.status(HUB)}[b]
    assert status.state == "disabled" and status.actor is None
    # a run of b already under way when it was disabled finishes (and is recorded); count
    # once its actor let it go, when no run of it can be in flight
    wait_for(lambda: b not in ray.get(host.assigned.remote(), timeout=60), timeout=60,
             what="b's actor to stop hosting it")
    runs_before = len(store.list_runs(spoke_id=b, limit=1000))

    write_event(topo.folders["a"], "while-off@t", "made while b is disabled")
    summaries = sync_round(rt, HUB)
    assert summaries[b]["status"] == "skipped"
    # The round's spokes ran in parallel, so c may have pushed before a merged the new
    # event: wait for a scheduled run of c that started after the round (the hub held the
    # event by then) and has finished.
    after_round = datetime.now(UTC)
    wait_for(lambda: any(r.trigger == "schedule" and r.started_at > after_round
                         and r.finished_at is not None
                         for r in store.list_runs(spoke_id=topo.ids["c"], limit=5)),
             timeout=60, what="a scheduled run of another spoke")
    assert len(store.list_runs(spoke_id=b, limit=1000)) == runs_before
    assert "while-off@t" not in folder_uids(topo.folders["b"])
    assert "while-off@t" in folder_uids(topo.folders["c"])

    store.set_spoke_enabled(b, True)
    rt.reconcile()
    assert sync_round(rt, HUB, "b")[b]["status"] == "ok"
    assert folder_uids(topo.folders["b"])["while-off@t"] == 1


def test_unknown_hub_or_spoke_is_not_found(topo: Topology) -> None:
    with pytest.raises(NotFound):
        list(topo.rt.sync_now("no-such-hub"))
    with pytest.raises(NotFound):
        list(topo.rt.sync_now(HUB, "no-such-spoke"))


def test_events_stream_carries_progress_and_run_events(topo: Topology) -> None:
    rt = topo.rt
    # the newest event's number (events(0) answers at most 1,000 events: the oldest ones
    # once the ring holds more, as it does after a few minutes of polls under load)
    since = rt.last_seq()
    sync_round(rt, HUB, "a")
    # the spoke actor sends its events in batches, fire-and-forget: the run may have ended
    # before its last batch reached the supervisor, so read on until the run's own event
    # (the last of the run: one outbox, in order)
    events: list[Any] = []

    def run_event_seen() -> bool:
        events.extend(rt.events(events[-1].seq if events else since, timeout=1))
        return any(e.kind == "run" and e.spoke_id == topo.ids["a"] for e in events)

    wait_for(run_event_seen, timeout=60, what="the run's event")
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    assert all(e.seq > since for e in events)
    phases = {e.phase for e in events if e.spoke_id == topo.ids["a"]}
    assert {"pulling", "merging", "pushing"} <= phases


def test_backoff_detail_visible_in_status(topo: Topology, tmp_path: Path) -> None:
    rt = topo.rt
    missing = tmp_path / "not-there"
    broken = rt.store.add_spoke(HUB, "broken", "vdir", {"path": str(missing), "create": False},
                                {"interval_seconds": 60}).id
    rt.reconcile()
    for _ in range(3):
        summary = sync_round(rt, HUB, "broken")[broken]
        assert summary["status"] == "error"
    status = {s.spoke_id: s for s in rt.status(HUB)}[broken]
    assert status.failures == 3 and status.state == "backoff"
    assert status.last_error and status.last_error["code"] == "config_error"
    # third failure in a row: interval × 4, with ±10 % jitter
    assert status.next_run_at is not None
    assert (status.next_run_at - datetime.now(UTC)).total_seconds() > 60 * 4 * 0.9 - 5
    # the other spokes are unaffected: none failing (each may be between polls, in one, or
    # not yet through its first run: their 5 s polls go on meanwhile)
    others = [s for s in rt.status(HUB) if s.spoke_id != broken and s.enabled]
    assert others and all(s.failures == 0 and s.state in ("ok", "running", "idle")
                          for s in others), [(s.spoke_id, s.state, s.failures) for s in others]
    missing.mkdir()
    assert sync_round(rt, HUB, "broken")[broken]["status"] == "ok"
    assert {s.spoke_id: s for s in rt.status(HUB)}[broken].failures == 0
    rt.store.remove_spoke(broken)
    rt.reconcile()


def test_fenced_hub_actor_stops_writing_until_recovered(topo: Topology) -> None:
    import ray

    from cirahub.cluster.names import hub_actor_name

    rt, store = topo.rt, topo.rt.store
    hub_id = store.get_hub(HUB).id
    store.acquire_writer(hub_id)  # another writer takes over: the hub actor is fenced
    write_event(topo.folders["a"], "fenced@t", "made while fenced")
    summary = sync_round(rt, HUB, "a")[topo.ids["a"]]
    assert summary["status"] == "error" and summary["error"]["code"] == "writer_fenced"
    assert hub_id in rt.hub_actors()[0]["fenced"]
    assert store.hub_items_by_uid(hub_id, ["fenced@t"]) == {}

    hub_actor = ray.get_actor(hub_actor_name(0), namespace=rt.settings.namespace)
    ray.get(hub_actor.recover.remote(hub_id))
    assert sync_round(rt, HUB, "a")[topo.ids["a"]]["status"] == "ok"
    assert "fenced@t" in store.hub_items_by_uid(hub_id, ["fenced@t"])
