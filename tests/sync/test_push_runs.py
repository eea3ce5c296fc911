"""Push runs (the fan-out after another spoke changed the hub) through the real SyncCycle and
store: the push half alone, never before the spoke's first full run."""

from __future__ import annotations

from cirahub.actors.summary import RunStatus, Trigger
from tests.sync.harness import Loop, event


def test_push_run_writes_hub_changes_without_pulling(store):
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    loop.sync_all()
    a.calendar.user_create(event("u1", "Planning"))
    b.calendar.user_create(event("u2", "Only in b, not pulled by a push run"))
    loop.sync("a")
    summary = b.cycle.push_run()
    assert summary.status == RunStatus.OK
    assert summary.counts.get("pushed") == 1 and "pulled" not in summary.counts
    assert {i.uid for i in b.calendar.items().values()} == {"u1", "u2"}
    assert set(loop.hub_items()) == {"u1"}  # b's own new event waits for b's next pull
    assert store.get_run(summary.run_id).trigger == Trigger.FANOUT
    # nothing new in the hub: a second push run writes nothing
    assert b.cycle.push_run().counts.get("pushed", 0) == 0


def test_push_run_before_the_first_full_run_is_a_full_run(store):
    """First-attach matching must come before the hub writes into a spoke: a push run of a
    spoke that never ran pulls first, so an event it already holds is matched, not copied."""
    loop = Loop(store)
    a = loop.add_memory("a")
    a.calendar.user_create(event("u1", "Same meeting"))
    loop.sync("a")
    b = loop.add_memory("b")
    b.calendar.user_create(event("other-uid", "Same meeting"))  # same content, other UID
    summary = b.cycle.push_run()
    assert summary.status == RunStatus.OK and summary.counts.get("pulled") == 1
    assert len(b.calendar.items()) == 1
    assert len(loop.hub_items()) == 1
