"""A hub→spoke write the server applied but whose answer never came back (the fault proxy
closes the connection after forwarding every PUT, so the connector's retries fail too), on
Radicale and on Xandikos, through the real SyncCycle. The owner edits the item again before the
spoke is polled: the spoke then holds our own earlier write, which is no spoke edit. Seen in
the CI chaos soak as conflicts (and once an owner's edit recorded as the loser) on items only
their owner spoke ever edited."""

from __future__ import annotations

from cirahub.core.ical import parse_item
from tests.sync.harness import Loop, Spoke, event

from .conftest import make_connector
from .servers import USER, CalendarUser, Fault, FaultProxy

UID = "lost-answer@faults"


def _summary_in_dav(user: CalendarUser, uid: str = UID) -> str:
    href = user.hrefs_by_uid()[uid]
    return str(parse_item(user.get(href).text).get("summary"))


def _owner_and_dav(store, proxy: FaultProxy, user: CalendarUser) -> tuple[Loop, Spoke, Spoke]:
    """A hub with the owner's calendar (memory) and a CalDAV spoke reached through ``proxy``."""
    loop = Loop(store)
    owner = loop.add_memory("owner")
    dav = loop.add("dav", make_connector(proxy.base, user.path, timeout=2.0), kind="caldav",
                   config={"url": proxy.base + user.path, "username": USER})
    return loop, owner, dav


def _sync_with_answers_lost(loop: Loop, proxy: FaultProxy) -> None:
    """The CalDAV spoke's run, with every PUT applied by the server and no answer, ever."""
    proxy.add(Fault("drop-after", count=-1, method="PUT"))
    assert not loop.sync("dav").ok
    proxy.clear()


def _assert_settled(loop: Loop, owner: Spoke, user: CalendarUser, summary: str) -> None:
    """After two rounds: no conflict logged, and the hub and both calendars show ``summary``."""
    assert all(s.ok for s in loop.sync_all(rounds=2))
    assert loop.store.list_conflicts(loop.hub.name) == []
    assert loop.hub_items()[UID].get("summary") == summary
    assert _summary_in_dav(user) == summary
    assert owner.calendar is not None
    assert {i.get("summary") for i in owner.calendar.items().values()} == {summary}


def test_regression_lost_write_answer_is_not_a_conflict(
    store, proxy: FaultProxy, user: CalendarUser
):
    """Old code: the link kept the old fingerprint, so the next pull read our own write back
    as a concurrent spoke edit, three-way merged it against the owner's newer edit and
    recorded a summary conflict (whose winner could be the stale echo)."""
    loop, owner, _ = _owner_and_dav(store, proxy, user)
    assert owner.calendar is not None
    rid = owner.calendar.user_create(event(UID, "v1", day=3))
    assert all(s.ok for s in loop.sync_all(rounds=2))
    assert _summary_in_dav(user) == "v1"

    owner.calendar.user_update(rid, event(UID, "v2", day=3))
    assert loop.sync("owner").ok
    _sync_with_answers_lost(loop, proxy)
    assert _summary_in_dav(user) == "v2"  # the server did apply it

    owner.calendar.user_update(rid, event(UID, "v3", day=3))
    assert loop.sync("owner").ok
    _assert_settled(loop, owner, user, "v3")


def test_regression_lost_create_answer_then_owner_edit_is_not_a_conflict(
    store, proxy: FaultProxy, user: CalendarUser
):
    """The hub's create in the spoke was applied but its answer lost (so no link), then the
    owner edits the item before the spoke is polled. Old code: the next pull found an
    unlinked copy with the item's UID and no common ancestor, three-way merged it with the
    owner's edit as two rival versions and recorded a conflict on every field that differed
    (a tie-break that could make the owner's edit the loser)."""
    loop, owner, _ = _owner_and_dav(store, proxy, user)
    assert owner.calendar is not None
    assert all(s.ok for s in loop.sync_all(rounds=1))
    rid = owner.calendar.user_create(event(UID, "v1", day=3))
    assert loop.sync("owner").ok
    _sync_with_answers_lost(loop, proxy)
    assert _summary_in_dav(user) == "v1"  # the server did create it

    owner.calendar.user_update(rid, event(UID, "v2", day=3))
    assert loop.sync("owner").ok
    _assert_settled(loop, owner, user, "v2")


def test_regression_second_write_before_the_read_back_keeps_the_first_pending(
    store, proxy: FaultProxy, user: CalendarUser
):
    """The hub's update (v2) was applied but its answer lost; the owner edits again (v3) and
    the fan-out's push run sends v3 before the spoke is pulled, refused (412: the spoke's
    version moved with v2). Old code kept one pending write per link, which v3 overwrote, so
    the next pull read our own v2 back as a spoke edit rivalling v3: a summary conflict."""
    loop, owner, dav = _owner_and_dav(store, proxy, user)
    assert owner.calendar is not None
    rid = owner.calendar.user_create(event(UID, "v1", day=3))
    assert all(s.ok for s in loop.sync_all(rounds=2))

    owner.calendar.user_update(rid, event(UID, "v2", day=3))
    assert loop.sync("owner").ok
    _sync_with_answers_lost(loop, proxy)
    assert _summary_in_dav(user) == "v2"

    owner.calendar.user_update(rid, event(UID, "v3", day=3))
    assert loop.sync("owner").ok
    assert not dav.cycle.push_run().ok  # the fan-out: v3 refused, the spoke holds v2
    assert _summary_in_dav(user) == "v2"
    _assert_settled(loop, owner, user, "v3")


def test_regression_lost_create_answer_then_owner_delete_deletes_the_copy(
    store, proxy: FaultProxy, user: CalendarUser
):
    """The hub's create in the spoke was applied but its answer lost, then the owner deletes
    the item. Old code: the next pull found an unlinked copy whose UID no alive hub item had
    and imported it as a new item, undoing the owner's delete everywhere."""
    loop, owner, _ = _owner_and_dav(store, proxy, user)
    assert owner.calendar is not None
    owner.calendar.user_create(event("other@faults", "stays", day=5))  # never empty
    assert all(s.ok for s in loop.sync_all(rounds=1))
    rid = owner.calendar.user_create(event(UID, "v1", day=3))
    assert loop.sync("owner").ok
    _sync_with_answers_lost(loop, proxy)
    assert UID in user.hrefs_by_uid()  # the server did create it

    owner.calendar.user_delete(rid)
    assert loop.sync("owner").ok
    assert all(s.ok for s in loop.sync_all(rounds=2))

    assert UID not in loop.hub_items() and UID not in user.hrefs_by_uid()
    assert UID not in {i.uid for i in owner.calendar.items().values()}
    assert store.list_conflicts(loop.hub.name) == []


def test_regression_late_create_after_the_delete_does_not_bring_the_item_back(
    store, proxy: FaultProxy, user: CalendarUser
):
    """The hub's create of an item reaches the server late: the first PUT is held in the
    network, the connector times out and its retry creates the copy; the owner then deletes
    the item, the delete reaches the spoke, and only then does the held PUT arrive (its
    If-None-Match: * passes, the href being free again). Seen in CI (test_mixed_hub's
    ``slow`` PUT, 1 run in ~80). Old code: the next pull took the copy for a new item of the
    spoke and brought the owner's deleted item back everywhere — the user's delete lost."""
    loop, owner, _ = _owner_and_dav(store, proxy, user)
    assert owner.calendar is not None
    # a second item: a calendar emptied at once is halted as suspicious, not synced
    owner.calendar.user_create(event("other@faults", "stays", day=4))
    rid = owner.calendar.user_create(event(UID, "v1", day=3))
    assert loop.sync("owner").ok
    held = Fault("hold", method="PUT", body_contains=UID)
    proxy.add(held)
    assert loop.sync("dav").ok  # the retry after the timeout created the copy
    assert _summary_in_dav(user) == "v1"

    owner.calendar.user_delete(rid)
    assert all(s.ok for s in loop.sync_all(rounds=1))
    assert set(user.hrefs_by_uid()) == {"other@faults"}  # the delete reached the spoke
    held.release.set()
    assert held.forwarded.wait(30)
    assert _summary_in_dav(user) == "v1"  # the held create landed after the delete

    assert all(s.ok for s in loop.sync_all(rounds=2))
    assert set(user.hrefs_by_uid()) == {"other@faults"}
    assert {i.uid for i in owner.calendar.items().values()} == {"other@faults"}
    assert set(loop.hub_items()) == {"other@faults"}
    assert loop.store.list_conflicts(loop.hub.name) == []
