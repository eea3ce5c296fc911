"""A runtime shutting down while a sync stream is in flight on another thread (a gRPC stream,
``cirahubctl sync``): the stream leaves Ray and ends with a clear error *before* Ray is freed.

Freeing the core worker (``ray.shutdown()``) under a thread still waiting inside ``ray.wait``
crashed the whole process with SIGSEGV a test or two later."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import ray

from cirahub.cluster.bootstrap import open_store
from cirahub.core.errors import CirahubError, StoreError
from tests.hardening.servers import SilentServer
from tests.ray.conftest import start_runtime
from tests.ray.helpers import wait_for_running_run

pytestmark = pytest.mark.ray

#: longer than any bound below: the feed's run cannot end by itself during the test
FEED_TIMEOUT = 600


def test_regression_sync_stream_in_flight_ends_cleanly_at_shutdown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    silent = SilentServer()
    rt = start_runtime(tmp_path / "data")
    try:
        store = rt.store
        store.create_hub("closing")
        spoke = store.add_spoke("closing", "feed", "ics-url",
                                {"url": f"http://127.0.0.1:{silent.port}/cal.ics",
                                 "timeout": FEED_TIMEOUT}, {"interval_seconds": 3600})
        rt.reconcile()
        outcome: dict[str, object] = {}

        def consume() -> None:
            try:
                outcome["events"] = list(rt.sync_now("closing"))
            except CirahubError as exc:
                outcome["error"] = exc

        syncing = threading.Thread(target=consume, daemon=True)
        syncing.start()
        # the run hangs on the silent feed: the stream waits on it, inside Ray
        run_id = wait_for_running_run(store, spoke.id)

        real_shutdown = ray.shutdown
        at_ray_shutdown: dict[str, bool] = {}

        def shutdown_after_the_stream() -> None:
            # the stream must end without Ray being freed under it; a bound, not a timing:
            # the fixed runtime ends it within a slice, the old one never (the feed hangs)
            syncing.join(timeout=30)
            at_ray_shutdown["stream alive"] = syncing.is_alive()
            if syncing.is_alive():  # old runtime: end it the other way, keep this process
                ray.kill(rt.supervisor, no_restart=True)
                syncing.join(timeout=60)
            real_shutdown()

        monkeypatch.setattr(ray, "shutdown", shutdown_after_the_stream)
        rt.shutdown()  # an embedded Ray: its actors (and the run) end with it
    finally:
        monkeypatch.undo()
        if ray.is_initialized():
            rt.shutdown(stop_actors=True)
        silent.close()

    assert at_ray_shutdown == {"stream alive": False}
    error = outcome.get("error")
    assert isinstance(error, StoreError) and "shutting down" in str(error), outcome
    reopened = open_store(rt.settings, migrate=False)
    try:  # the embedded runtime closed the run it could not finish
        assert reopened.get_run(run_id).status == "interrupted"
    finally:
        reopened.close()
    with pytest.raises(StoreError, match="shutting down"):  # a closed runtime says so
        rt.events()
