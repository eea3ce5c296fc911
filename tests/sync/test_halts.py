"""A halt is a question an operator answers, bound to what it showed: confirm (apply exactly
those deletions once) or restore (the spoke gets the hub's copies back). Real store, real
SyncCycle, in-memory spokes (listing and server-cursor)."""

from __future__ import annotations

import pytest

from cirahub.core.errors import InvalidInput
from cirahub.core.options import Permissions, SyncOptions
from tests.sync.harness import Loop, event


def _setup(store, incremental: bool, n: int = 20):
    loop = Loop(store)
    a, b = loop.add_memory("a", incremental=incremental), loop.add_memory("b")
    for i in range(n):
        a.calendar.user_create(event(f"u{i}", f"Item {i}", day=1 + i % 28))
    loop.sync_all()
    assert len(b.calendar.items()) == n
    return loop, a, b


def test_regression_confirm_before_a_halt_does_not_disarm_it(store):
    """A confirmation given while nothing was halted used to be stored and let the next mass
    delete through unchecked."""
    loop, a, b = _setup(store, incremental=False)
    with pytest.raises(InvalidInput, match="not halted"):
        store.confirm_deletes(a.id)
    for rid in sorted(a.calendar.items())[:12]:
        a.calendar.user_delete(rid)
    assert loop.sync("a").status == "halted"
    loop.sync("b")
    assert len(b.calendar.items()) == 20


@pytest.mark.parametrize("incremental", [False, True], ids=["listing", "server-cursor"])
def test_regression_confirmation_expires_when_the_listing_changes(store, incremental):
    """The operator confirmed 12 deletions; before the run, 3 more items vanished. The
    confirmation does not cover those: the run halts again with a new halt."""
    loop, a, b = _setup(store, incremental)
    rids = sorted(a.calendar.items())
    for rid in rids[:12]:
        a.calendar.user_delete(rid)
    assert loop.sync("a").status == "halted"
    first = store.get_spoke(a.id).halt
    assert (first.lost, first.deleting, len(first.items)) == (12, 12, 12)
    assert {p.summary for p in first.items} <= {f"Item {i}" for i in range(20)}
    store.confirm_deletes(a.id, first.id)
    for rid in rids[12:15]:
        a.calendar.user_delete(rid)
    assert loop.sync("a").status == "halted"
    second = store.get_spoke(a.id).halt
    assert second.id != first.id and second.lost == 15 and not second.confirmed
    loop.sync("b")
    assert len(b.calendar.items()) == 20  # nothing applied on the stale confirmation
    store.confirm_deletes(a.id, second.id)
    assert loop.sync("a").status == "ok"
    assert store.get_spoke(a.id).halt is None
    loop.sync_all()
    assert len(b.calendar.items()) == 5


@pytest.mark.parametrize("incremental", [False, True], ids=["listing", "server-cursor"])
def test_restore_writes_the_hub_copies_back(store, incremental):
    """"No" to a halt: the hub keeps everything and the emptied spoke gets its items back."""
    loop, a, b = _setup(store, incremental)
    for rid in list(a.calendar.items()):
        a.calendar.user_delete(rid)
    assert loop.sync("a").status == "halted"
    halt = store.get_spoke(a.id).halt
    assert halt.lost == 20 and halt.deleting == 20
    assert store.restore_from_hub(a.id, halt.id, dry_run=True) == halt
    assert store.get_spoke(a.id).state == "halted"
    store.restore_from_hub(a.id, halt.id)
    assert loop.sync("a").status == "ok"
    assert sorted(i.uid for i in a.calendar.items().values()) == sorted(
        f"u{i}" for i in range(20))
    loop.sync_all()
    assert len(b.calendar.items()) == 20 and len(loop.hub_items()) == 20
    with pytest.raises(InvalidInput, match="not halted"):
        store.restore_from_hub(a.id)


def test_restore_without_create_permission_keeps_the_hub(store):
    """Where hub_writes has no create, restore cannot re-create: the hub and the other spokes
    keep the items, the spoke stays as it is."""
    loop = Loop(store)
    a = loop.add_memory("a", SyncOptions(hub_writes=Permissions(create=False, update=True,
                                                               delete=True)))
    b = loop.add_memory("b")
    for i in range(12):
        a.calendar.user_create(event(f"u{i}", f"Item {i}", day=1 + i))
    loop.sync_all()
    for rid in sorted(a.calendar.items())[:11]:
        a.calendar.user_delete(rid)
    assert loop.sync("a").status == "halted"
    store.restore_from_hub(a.id)
    assert loop.sync("a").status == "ok"
    loop.sync_all()
    assert len(a.calendar.items()) == 1
    assert len(b.calendar.items()) == 12 and len(loop.hub_items()) == 12
