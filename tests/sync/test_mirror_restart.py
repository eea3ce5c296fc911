"""A spoke whose server was replaced by an empty one (its process died: the chaos soak kills
spoke actors and nodes, and a memory spoke's calendar lives in that process) must be refilled
with every hub item, whatever the order of the push and the listing that follow."""

from __future__ import annotations

from cirahub.connectors.memory import MemoryCalendar
from cirahub.core.options import NONE, SyncOptions
from tests.sync.harness import Loop, event


def test_regression_a_mirror_refilled_after_its_process_died_holds_every_hub_item(store):
    """Seen in the chaos soak ("MISMATCH: memory: missing soak-4-…@folder-b"): the new, empty
    calendar numbered its ids and versions from 1 again, the push of a new item before the
    first listing got the id *and* version a lost item had, and the listing took that lost
    item as unchanged, so it was never written again."""
    loop = Loop(store)
    src = loop.add_memory("src")
    mirror = loop.add_memory("mirror", SyncOptions(contributes=NONE))
    src.calendar.user_create(event("u1", "Planning", day=1))
    src.calendar.user_create(event("u2", "Review", day=2))
    loop.sync_all()
    assert {i.uid for i in mirror.calendar.items().values()} == {"u1", "u2"}

    # the mirror's process died: its server comes back empty
    fresh = MemoryCalendar(seed=99)
    mirror.connector.calendar = fresh
    mirror.calendar = fresh
    src.calendar.user_create(event("u3", "Retro", day=3))
    loop.sync("src")
    mirror.cycle.push_run()  # the fan-out of u3 reaches the new server before any listing
    loop.sync_all()

    assert {i.uid for i in fresh.items().values()} == {"u1", "u2", "u3"}
    assert set(loop.hub_items()) == {"u1", "u2", "u3"}
