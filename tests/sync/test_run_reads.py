"""How many transactions a run's planning reads take (SQLite and PostgreSQL), and that the
known link versions a listing compares answer like the links themselves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event as sa_event

from cirahub.actors.known import KnownVersions
from tests.sync.harness import Loop, event


def test_regression_a_runs_planning_reads_share_one_read_transaction(store: Any) -> None:
    """Before: the hub, the delta's links, its hub items, their merge bases, the pending
    writes and the number of links were each read in a transaction of their own (a pool
    checkout, BEGIN and ROLLBACK each: 6 for one edit). Now they share one, which ends before
    the merge (so a re-plan reads what the merge left)."""
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    assert a.calendar is not None
    rid = a.calendar.user_create(event("u1", "Planning"))
    a.calendar.user_create(event("u2", "Review"))
    loop.sync_all()
    a.calendar.user_update(rid, event("u1", "Planning, moved", hour=11))
    checkouts: list[str] = []
    phase = ["before"]
    sa_event.listen(store.engine, "checkout", lambda *args: checkouts.append(phase[0]))
    pull, merge = a.connector.delta, loop.merger.merge

    def pulled(*args: Any, **kwargs: Any) -> Any:
        out = pull(*args, **kwargs)
        phase[0] = "planning"
        return out

    def merged(*args: Any, **kwargs: Any) -> Any:
        phase[0] = "merging"
        return merge(*args, **kwargs)

    a.connector.delta = pulled  # type: ignore[method-assign]
    loop.merger.merge = merged  # type: ignore[method-assign]
    summary = loop.sync("a")
    assert summary.ok and summary.counts.get("update_hub_item") == 1
    assert checkouts.count("planning") == 1
    assert loop.hub_items()["u1"].get("summary") == "Planning, moved"
    loop.sync("b")
    assert {i.get("summary") for i in b.calendar.items().values()} == {  # type: ignore[union-attr]
        "Planning, moved", "Review"}


def test_known_versions_answer_like_the_links_loaded_or_not(store: Any) -> None:
    loop = Loop(store)
    a = loop.add_memory("a")
    assert a.calendar is not None
    rid = a.calendar.user_create(event("u1", "Planning"))
    loop.sync_all()
    (link,) = store.links_for(a.id, remote_ids=[rid]).values()
    for loaded in (False, True):
        known = KnownVersions(store, a.id)
        if loaded:
            assert list(known) == [rid]  # a listing iterates: everything is loaded
        assert known[rid] == known.get(rid) == link.remote_version
        assert rid in known and "no-such-id" not in known
        assert known.get("no-such-id") is None and known.get("no-such-id", "x") == "x"
        try:
            known["no-such-id"]
        except KeyError:
            pass
        else:
            raise AssertionError("an unknown remote id is a KeyError")
