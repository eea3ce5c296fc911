"""Fan-out on real Ray: a merge that changes the hub gives every other enabled spoke a push
run at once, instead of waiting for each spoke's own poll (the spokes poll hourly here, so
only the fan-out can carry the edit). Waits are on observable state (files, run records)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import ray

from cirahub.actors.runtime import Runtime
from cirahub.actors.summary import Trigger
from tests.ray.helpers import actor_of, folder_summaries, sync_round, wait_for, write_event

pytestmark = pytest.mark.ray

HUB = "spread"
HOURLY = {"interval_seconds": 3600}


@dataclass
class Spokes:
    rt: Runtime
    folders: dict[str, Path]
    ids: dict[str, str]

    def fanout_runs(self, name: str) -> int:
        runs = self.rt.store.list_runs(spoke_id=self.ids[name], limit=1000)
        return sum(1 for r in runs if r.trigger == Trigger.FANOUT)

    def idle(self, name: str) -> bool:
        live = {s["spoke_id"]: s for s in ray.get(self.rt.supervisor.status.remote())}
        state = live.get(self.ids[name])
        return bool(state) and state["state"] == "waiting" and not state["push_pending"]


@pytest.fixture(scope="module")
def spokes(runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Spokes]:
    store = runtime.store
    store.create_hub(HUB)
    folders, ids = {}, {}
    for name in ("a", "b", "c"):
        folders[name] = tmp_path_factory.mktemp(f"vdir-{name}")
        ids[name] = store.add_spoke(HUB, name, "vdir", {"path": str(folders[name])}, HOURLY).id
    runtime.reconcile()
    out = Spokes(runtime, folders, ids)
    # the first run after assignment (full runs) must be over before an edit is made
    wait_for(lambda: not any(store.get_spoke(i).first_attach for i in ids.values())
             and all(out.idle(n) for n in ids), what="the first runs")
    yield out


def test_an_edit_spreads_to_every_other_spoke_with_one_push_run_each(spokes: Spokes) -> None:
    before = {n: spokes.fanout_runs(n) for n in spokes.ids}
    write_event(spokes.folders["a"], "spread@t", "edited in a")
    (summary,) = sync_round(spokes.rt, HUB, "a").values()
    assert summary["status"] == "ok"
    for name in ("b", "c"):
        wait_for(lambda n=name: folder_summaries(spokes.folders[n]).get("spread@t")
                 == "edited in a", what=f"the edit in {name}")
        wait_for(lambda n=name: spokes.idle(n), what=f"{name} idle")
    # one push run per other spoke, none for the source (its own run pushed already)
    assert {n: spokes.fanout_runs(n) - before[n] for n in spokes.ids} == {"a": 0, "b": 1, "c": 1}
    runs = spokes.rt.store.list_runs(spoke_id=spokes.ids["b"], limit=1)
    assert runs[0].trigger == Trigger.FANOUT and runs[0].status == "ok"
    assert runs[0].counts.get("pushed") == 1 and "pulled" not in runs[0].counts


def test_push_requests_for_one_spoke_coalesce_into_one_push_run(spokes: Spokes) -> None:
    b = spokes.ids["b"]
    before = spokes.fanout_runs("b")
    handle = actor_of(spokes.rt, b)
    # One call asking three times, with a hub version newer than b's runs covered: nothing
    # can run in between, so exactly one push run is due.
    version = spokes.rt.store.hub_version(spokes.rt.store.get_hub(HUB).id) + 1
    assert ray.get(handle.push_soon.remote([b, b, b], version)) == 1
    wait_for(lambda: spokes.fanout_runs("b") > before and spokes.idle("b"), what="b's push run")
    assert spokes.fanout_runs("b") == before + 1



def test_regression_a_sync_pulls_every_spoke_then_writes_each_once(spokes: Spokes) -> None:
    """Before: a `sync` of the hub ran every spoke's complete run at once; a spoke whose run
    pushed before another's merge was written again by a fan-out push run (and listed once
    more by a second round while that push run was still under way). Now every spoke is
    pulled first, then each is pushed once: every change is everywhere when the call returns,
    with two runs per spoke and no push run of the fan-out."""
    before = {n: len(spokes.rt.store.list_runs(spoke_id=i, limit=1000))
              for n, i in spokes.ids.items()}
    fanout = {n: spokes.fanout_runs(n) for n in spokes.ids}
    for name in spokes.ids:
        write_event(spokes.folders[name], f"all-{name}@t", f"new in {name}")
    summaries = sync_round(spokes.rt, HUB)
    assert {s["status"] for s in summaries.values()} == {"ok"}, summaries
    for name, folder in spokes.folders.items():  # at once: the push runs are over
        held = folder_summaries(folder)
        assert {held.get(f"all-{n}@t") for n in spokes.ids} == {
            f"new in {n}" for n in spokes.ids}, name
    for name, spoke_id in spokes.ids.items():
        runs = spokes.rt.store.list_runs(spoke_id=spoke_id, limit=1000)
        new = runs[:len(runs) - before[name]]
        assert [(r.trigger, r.counts.get("pushed", 0)) for r in new] == [
            (Trigger.MANUAL, 2), (Trigger.MANUAL, 0)], name  # newest first: push, pull
        assert summaries[spoke_id]["counts"].get("pushed") == 2
    assert {n: spokes.fanout_runs(n) for n in spokes.ids} == fanout
