"""Found by the chaos soak: a run during which the database went away (terminated connections,
a restart) stayed "running" for ever. The run ends with the store's error and nothing can be
recorded then; the spoke actor lives on and keeps the spoke, so the supervisor's sweep of
orphaned runs (runs of spokes no live actor hosts) never closes it either. The spoke's next
run must close it (as interrupted) before it starts.

Through the real sync cycle and store (SQLite and PostgreSQL), the database failing exactly
when the run records its end, and the spoke actor's per-spoke state carried to the next run.
"""

from __future__ import annotations

from typing import Any

import pytest

from cirahub.actors.cycle import LocalMerger, SyncCycle
from cirahub.actors.spoke_state import HostedSpoke
from cirahub.connectors.memory import MemoryCalendar, MemoryConnector
from cirahub.core.errors import StoreError
from cirahub.core.item import Item
from cirahub.core.states import RunStatus


class GoneAtTheEnd:
    """The real store, whose database is unreachable when the next run records its end."""

    def __init__(self, store: Any) -> None:
        self._store, self.fail_next_finish = store, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def finish_run(self, *args: Any, **kwargs: Any) -> None:
        if self.fail_next_finish:
            self.fail_next_finish = False
            raise StoreError("finish run: database unavailable", action="finish_run")
        self._store.finish_run(*args, **kwargs)


def test_regression_run_left_running_after_the_store_went_away(store: Any) -> None:
    store.create_hub("team")
    spoke = store.add_spoke("team", "cal", "memory", {"calendar": "c"})
    calendar = MemoryCalendar()
    calendar.user_create(Item("a@x", {"summary": "A", "start": {"utc": "2026-12-01T09:00:00Z",
                                                         "tz": "UTC"},
                              "end": {"utc": "2026-12-01T10:00:00Z", "tz": "UTC"}}))
    flaky = GoneAtTheEnd(store)
    hosted = HostedSpoke(spoke.id, spoke.hub_id)  # what the spoke actor keeps between runs

    def cycle() -> SyncCycle:  # the spoke actor makes one per run
        return SyncCycle(flaky, MemoryConnector(calendar), spoke.id, LocalMerger(store),
                         unrecorded=hosted.unrecorded)

    flaky.fail_next_finish = True
    with pytest.raises(StoreError):
        cycle().run("poll")
    (lost,) = store.list_runs(spoke_id=spoke.id)
    assert lost.status == "running"  # nothing could be recorded while the store was away

    summary = cycle().run("poll")
    assert summary.status == RunStatus.OK
    runs = {r.id: r for r in store.list_runs(spoke_id=spoke.id)}
    assert runs[lost.id].status == RunStatus.INTERRUPTED
    assert runs[lost.id].finished_at is not None
    assert "unreachable" in runs[lost.id].error["message"]
    assert [r.status for r in runs.values() if r.status == "running"] == []
    assert store.count_items(spoke.hub_id) == 1  # the first run's merge was kept
