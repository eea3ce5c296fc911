"""The conflict log is written with the merge it describes: a conflict whose op was merged is
in the log exactly once, even when the run never heard that the merge committed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from cirahub.actors.cycle import SyncCycle
from cirahub.actors.merger import Merger
from cirahub.core.errors import StoreError
from cirahub.core.ops import HubOp
from cirahub.core.options import ConflictPolicy
from cirahub.store.records import MergeResult
from tests.sync.harness import NOW, Loop, event


class AnswerLost:
    """The hub actor's merge commits, then its answer never arrives (the actor died after
    the commit): what the merger raises then, a retryable StoreError."""

    def __init__(self, inner: Merger) -> None:
        self.inner = inner

    def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> MergeResult:
        self.inner.merge(hub_id, spoke_id, ops)
        raise StoreError("the hub actor died during a merge")


@pytest.mark.parametrize("lost", ["spoke edit the hub beat", "spoke delete an edit beat"])
def test_regression_conflict_is_logged_when_the_merge_answer_is_lost(store, lost: str):
    """Old code logged these two kinds of conflict (no hub change: only a link moves) in a
    transaction of their own after the merge answered; a merge that committed without
    answering left no record, and the re-run saw nothing more to merge: the losing edit (or
    delete) was gone without a trace in the log."""
    loop = Loop(store, policy=ConflictPolicy.HUB)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    assert a.calendar is not None and b.calendar is not None
    rid_a = a.calendar.user_create(event("u1", "Planning"))
    a.calendar.user_create(event("u9", "Other", day=9))  # so b's listing is never empty
    assert all(s.ok for s in loop.sync_all(rounds=2))
    a.calendar.user_update(rid_a, event("u1", "Planning (hub)"))
    assert loop.sync("a").ok
    [rid_b] = [r for r, i in b.calendar.items().items() if i.uid == "u1"]
    if lost == "spoke edit the hub beat":
        b.calendar.user_update(rid_b, event("u1", "Planning (b)"))
    else:
        b.calendar.user_delete(rid_b)

    lossy = SyncCycle(store, b.connector, b.id, AnswerLost(loop.merger), clock=lambda: NOW)
    with pytest.raises(StoreError):
        lossy.run("test")
    assert all(s.ok for s in loop.sync_all(rounds=2))

    (entry,) = store.list_conflicts(loop.hub.name)
    if lost == "spoke edit the hub beat":
        assert (entry.losing_item or {})["fields"]["summary"] == "Planning (b)"
    else:
        assert entry.kind == "edit-vs-delete"
    assert loop.hub_items()["u1"].get("summary") == "Planning (hub)"
    assert {i.uid: i.get("summary") for i in b.calendar.items().values()}["u1"] == "Planning (hub)"
