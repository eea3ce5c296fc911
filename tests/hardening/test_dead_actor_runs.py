"""Issue 13 item 10, supervisor side: the run of a spoke actor that died is closed as
``interrupted`` by the supervisor (a real embedded Ray runtime; the actor is killed with
``ray.kill`` while its run waits on a feed that never answers)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import ray

from tests.hardening.servers import SilentServer
from tests.ray.conftest import start_runtime
from tests.ray.helpers import actor_of, wait_for, wait_for_running_run

pytestmark = pytest.mark.ray


def test_regression_dead_spoke_actor_run_closed(tmp_path: Path, silent: SilentServer) -> None:
    rt = start_runtime(tmp_path / "data")
    try:
        store = rt.store
        store.create_hub("dead")
        spoke = store.add_spoke("dead", "feed", "ics-url",
                                {"url": f"http://127.0.0.1:{silent.port}/cal.ics"},
                                {"interval_seconds": 3600})
        rt.reconcile()
        # joined before the runtime shuts down: a thread still inside a Ray call when
        # ray.shutdown() frees the core worker crashes the whole test process (SIGSEGV)
        syncing = threading.Thread(target=lambda: list(rt.sync_now("dead")), daemon=True)
        syncing.start()
        run_id = wait_for_running_run(store, spoke.id)
        victim = actor_of(rt, spoke.id)
        assert victim is not None
        ray.kill(victim, no_restart=True)
        wait_for(lambda: store.get_run(run_id).status == "interrupted", timeout=120,
                 what="the supervisor to close the dead actor's run")
        run = store.get_run(run_id)
        assert run.finished_at is not None and "died" in str(run.error)
        # the supervisor runs the spoke again on a live actor, which waits on the feed in
        # turn (three tries of its 30 s timeout): the feed going away ends that run at once
        silent.close()
        syncing.join(timeout=120)  # the sync ends with the dead actor's run
        assert not syncing.is_alive(), "the sync of the dead actor's spoke never ended"
    finally:
        rt.shutdown(stop_actors=True)
