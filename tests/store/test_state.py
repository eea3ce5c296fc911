"""A spoke's sync state: link commits after push, cursors, halts, runs."""

from __future__ import annotations

import pytest

from cirahub.core.errors import InvalidInput, NotFound
from cirahub.core.model import Link
from cirahub.core.ops import LinkOnly
from cirahub.store import LEAVE, PendingDelete

from .helpers import create, event, hub_and_spokes


def _two_items(store):
    """A hub with spokes a and b, a's items u1 and u2 merged: (hub, a, b, epoch, ids)."""
    hub, (a, b) = hub_and_spokes(store, "a", "b")
    epoch = store.acquire_writer(hub.id)
    res = store.apply_hub_ops(hub.id, a.id, epoch, [create("r1", event("u1")),
                                                    create("r2", event("u2"))])
    return hub, a, b, epoch, (res.created["r1"], res.created["r2"])


def test_commit_links_upserts_and_deletes(store):
    _, a, b, _, (h1, h2) = _two_items(store)
    pushed = [Link(b.id, h1, "u1", "b/1.ics", "etag1", "fp1", 1),
              Link(b.id, h2, "u2", "b/2.ics", "etag1", "fp2", 2)]
    store.commit_links(b.id, pushed, [])
    assert store.links(b.id) == {ln.remote_id: ln for ln in pushed}
    # an update moves the remote version on; a delete drops the other link
    moved = Link(b.id, h1, "u1", "b/1.ics", "etag2", "fp1b", 3)
    store.commit_links(b.id, [moved], [h2])
    assert store.links(b.id) == {"b/1.ics": moved}
    assert set(store.links(a.id)) == {"r1", "r2"}  # other spokes untouched
    with pytest.raises(InvalidInput):
        store.commit_links(b.id, [Link(a.id, h1, "u1", "x", "e", "f", 1)], [])
    with pytest.raises(NotFound):
        store.commit_links(b.id, [Link(b.id, "gone", "u", "x", "e", "f", 1)], [])
    assert store.links(b.id) == {"b/1.ics": moved}  # the failed commit changed nothing


def test_commit_links_in_place_moved_and_swapped(store):
    """A link that keeps its remote id is updated in place, one that moves is replaced,
    two items swapping remote ids in one commit end swapped, and a copy remembered as
    deleted is forgotten once the item is linked there again (in place or not)."""
    from sqlalchemy import select

    from cirahub.store import models as m

    hub, _, b, epoch, (h1, h2) = _two_items(store)
    one, two = Link(b.id, h1, "u1", "1.ics", "e1", "f1", 1), Link(b.id, h2, "u2", "2.ics", "e1",
                                                                 "f2", 2)
    store.commit_links(b.id, [one, two], [])
    in_place = Link(b.id, h1, "u1", "1.ics", "e2", "f1b", 3)
    store.commit_links(b.id, [in_place], [], [h1])
    assert store.links(b.id) == {"1.ics": in_place, "2.ics": two}
    swapped = [Link(b.id, h1, "u1", "2.ics", "e3", "f1c", 4),
               Link(b.id, h2, "u2", "1.ics", "e3", "f2c", 4)]
    store.commit_links(b.id, swapped, [])
    assert store.links(b.id) == {ln.remote_id: ln for ln in swapped}
    moved = Link(b.id, h1, "u1", "1-new.ics", "e4", "f1d", 5)
    store.commit_links(b.id, [moved], [h2])
    assert store.links(b.id) == {"1-new.ics": moved}

    def copies() -> set[str]:
        with store.engine.connect() as conn:
            return set(conn.execute(select(m.deleted_copies.c.hub_item_id).where(
                m.deleted_copies.c.spoke_id == b.id)).scalars())

    assert copies() == {h2}
    # the pull links h2 again (its copy came back), then a push writes it in place: the
    # deleted copy is forgotten with that commit
    back = Link(b.id, h2, "u2", "1.ics", "e5", "f2c", 4)
    store.apply_hub_ops(hub.id, b.id, epoch, [LinkOnly("1.ics", "e5", h2, "f2c", 4)])
    assert store.links(b.id)["1.ics"] == back and copies() == {h2}
    store.commit_links(b.id, [Link(b.id, h2, "u2", "1.ics", "e6", "f2d", 6)], [], [h2])
    assert copies() == set()
    assert store.links(b.id)["1.ics"].remote_version == "e6"


def test_cursors_leave_and_set(store):
    _, (spoke,) = hub_and_spokes(store)
    store.set_cursors(spoke.id, pull_cursor="token-1", push_cursor=5)
    store.set_cursors(spoke.id, push_cursor=9)
    s = store.get_spoke(spoke.id)
    assert (s.pull_cursor, s.push_cursor) == ("token-1", 9)
    store.set_cursors(spoke.id, pull_cursor=None, push_cursor=LEAVE)
    s = store.get_spoke(spoke.id)
    assert (s.pull_cursor, s.push_cursor) == (None, 9)
    with pytest.raises(InvalidInput):
        store.set_cursors(spoke.id, push_cursor=-1)
    with pytest.raises(NotFound):
        store.set_cursors("nope", push_cursor=1)


def test_halt_confirm_is_bound_to_the_halt(store):
    _, (spoke,) = hub_and_spokes(store)
    with pytest.raises(InvalidInput, match="not halted"):
        store.confirm_deletes(spoke.id)  # nothing to answer: refused, nothing stored
    assert store.get_spoke(spoke.id).halt is None
    lost = [PendingDelete("h1", "u1", "Lunch", "2030-06-01T10:00:00Z")]
    first = store.record_halt(spoke.id, "listing empty", "d1", lost, 1)
    s = store.get_spoke(spoke.id)
    assert (s.state, s.halted_reason, s.halt) == ("halted", "listing empty", first)
    assert store.record_halt(spoke.id, "listing empty", "d1", lost, 1).id == first.id
    with pytest.raises(InvalidInput, match="no longer current"):
        store.confirm_deletes(spoke.id, "some-other-halt")
    assert store.confirm_deletes(spoke.id, first.id, dry_run=True).confirmed is False
    assert store.get_spoke(spoke.id).state == "halted"
    assert store.confirm_deletes(spoke.id, first.id).confirmed is True
    s = store.get_spoke(spoke.id)
    assert (s.state, s.halted_reason, s.halt.confirmed) == ("idle", None, True)
    # another loss is another halt: the confirmation answered the first one only
    second = store.record_halt(spoke.id, "would delete 12 of 20", "d2", lost, 1)
    assert second.id != first.id and not store.get_spoke(spoke.id).halt.confirmed
    store.clear_halt(spoke.id)
    assert store.get_spoke(spoke.id).halt is None
    store.set_spoke_state(spoke.id, "error", error={"code": "auth_failed", "message": "401"})
    assert store.get_spoke(spoke.id).last_error == {"code": "auth_failed", "message": "401"}
    store.set_spoke_state(spoke.id, "ok")
    assert store.get_spoke(spoke.id).last_error is None
    with pytest.raises(InvalidInput):
        store.set_spoke_state(spoke.id, "sleepy")
    assert store.get_spoke(spoke.id).first_attach
    store.end_first_attach(spoke.id)
    assert not store.get_spoke(spoke.id).first_attach


def test_runs_are_recorded_newest_first(store):
    hub, (a, b) = hub_and_spokes(store, "a", "b")
    first = store.start_run(a.id, "poll")
    second = store.start_run(b.id, "manual")
    assert store.get_run(first).status == "running"
    store.finish_run(first, "ok", {"pulled": 3, "pushed": 1}, None)
    store.finish_run(second, "error", {}, {"code": "transient", "message": "timeout"})
    runs = store.list_runs(hub="team")
    assert [r.id for r in runs] == [second, first]
    done = store.get_run(first)
    assert (done.status, dict(done.counts), done.error) == ("ok", {"pulled": 3, "pushed": 1},
                                                             None)
    assert done.finished_at >= done.started_at and done.started_at.tzinfo is not None
    assert [r.id for r in store.list_runs(spoke_id=b.id)] == [second]
    assert store.list_runs(hub=hub.id, limit=1)[0].id == second
    with pytest.raises(NotFound):
        store.finish_run("nope", "ok", {}, None)
    with pytest.raises(InvalidInput):
        store.list_runs(limit=0)


def test_commit_links_deletes_only_the_links_stored_and_every_one_in_the_way(store):
    """The links of the committed items are read first and only those stored are deleted:
    a link taking the remote id of an item the commit does not name still removes that
    item's link, a delete of an unlinked item is a no-op (no deleted copy), and a delete of
    a linked one remembers its copy."""
    from sqlalchemy import select

    from cirahub.core.model import PendingWrite
    from cirahub.store import models as m

    hub, a, b, epoch, (h1, h2) = _two_items(store)
    h3 = store.apply_hub_ops(hub.id, a.id, epoch, [create("r3", event("u3"))]).created["r3"]
    store.commit_links(b.id, [Link(b.id, h2, "u2", "x.ics", "e1", "f2", 2),
                              Link(b.id, h3, "u3", "3.ics", "e1", "f3", 3)], [])
    store.note_pending_writes(b.id, [PendingWrite(h1, "f1", 1), PendingWrite(h3, "f3", 3)])
    took = Link(b.id, h1, "u1", "x.ics", "e2", "f1", 1)  # h2's file now holds h1
    store.commit_links(b.id, [took], [h3, "never-linked"], [h1])
    assert store.links(b.id) == {"x.ics": took}
    assert store.pending_writes(b.id, hub_item_ids=[h1, h3]) == {}
    with store.engine.connect() as conn:
        copies = {tuple(r) for r in conn.execute(select(m.deleted_copies.c.hub_item_id,
                                                        m.deleted_copies.c.hub_version))}
    assert copies == {(h3, 3)}
    assert set(store.links(a.id)) == {"r1", "r2", "r3"}
