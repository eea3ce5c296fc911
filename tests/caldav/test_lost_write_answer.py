"""A hub→spoke write the server applied but whose answer never came back (the fault proxy
closes the connection after forwarding every PUT, so the connector's retries fail too), on
Radicale and on Xandikos, through the real SyncCycle. The owner edits the item again before the
spoke is polled: the spoke then holds our own earlier write, which is no spoke edit. Seen in
the CI chaos soak as conflicts (and once an owner's edit recorded as the loser) on items only
their owner spoke ever edited."""

from __future__ import annotations

from cirahub.core.ical import parse_item
from tests.sync.harness import Loop, event

from .conftest import make_connector
from .servers import USER, CalendarUser, Fault, FaultProxy

UID = "lost-answer@faults"


def _summary_in_dav(user: CalendarUser) -> str:
    [href] = user.hrefs_by_uid().values()
    return str(parse_item(user.get(href).text).get("summary"))


def test_regression_lost_write_answer_is_not_a_conflict(
    store, proxy: FaultProxy, user: CalendarUser
):
    """Old code: the link kept the old fingerprint, so the next pull read our own write back
    as a concurrent spoke edit, three-way merged it against the owner's newer edit and
    recorded a summary conflict (whose winner could be the stale echo)."""
    loop = Loop(store)
    owner = loop.add_memory("owner")
    loop.add("dav", make_connector(proxy.base, user.path, timeout=2.0), kind="caldav",
             config={"url": proxy.base + user.path, "username": USER})
    assert owner.calendar is not None
    rid = owner.calendar.user_create(event(UID, "v1", day=3))
    assert all(s.ok for s in loop.sync_all(rounds=2))
    assert _summary_in_dav(user) == "v1"

    owner.calendar.user_update(rid, event(UID, "v2", day=3))
    assert loop.sync("owner").ok
    proxy.add(Fault("drop-after", count=-1, method="PUT"))  # applied; no answer, ever
    lost = loop.sync("dav")
    assert not lost.ok
    proxy.clear()
    assert _summary_in_dav(user) == "v2"  # the server did apply it

    owner.calendar.user_update(rid, event(UID, "v3", day=3))
    assert loop.sync("owner").ok
    assert all(s.ok for s in loop.sync_all(rounds=2))

    assert store.list_conflicts(loop.hub.name) == []
    assert loop.hub_items()[UID].get("summary") == "v3"
    assert _summary_in_dav(user) == "v3"
    assert {i.get("summary") for i in owner.calendar.items().values()} == {"v3"}
