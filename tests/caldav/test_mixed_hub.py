"""Whole-loop tests through the real SyncCycle: a mixed hub (vdir folder, two Radicale
collections, an ICS feed) converges; edits made on Radicale with a plain HTTP client
propagate; the feed is never written; faults between cirahub and Radicale lose nothing."""

from __future__ import annotations

from pathlib import Path

from cirahub.connectors.registry import open_connector
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_item, serialize_calendar, to_ics
from tests.contract import samples
from tests.sync.harness import Loop, event

from .conftest import make_connector
from .servers import PASSWORD, USER, CalendarUser, DavServer, Fault, FaultProxy, FeedServer


def _dav(user: CalendarUser) -> dict[str, str]:
    """UID → fingerprint of every item in a Radicale collection, read with plain HTTP."""
    out = {}
    hrefs = user.hrefs_by_uid()
    for uid, href in hrefs.items():
        out[uid] = fingerprint(parse_item(user.get(href).text))
    return out


def _etags(user: CalendarUser) -> dict[str, str]:
    return {href: user.get(href).headers["ETag"] for href in user.hrefs_by_uid().values()}


def _vdir(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for f in folder.glob("*.ics"):
        item = parse_item(f.read_text())
        assert item.uid not in out, f"duplicate {item.uid}"
        out[item.uid] = fingerprint(item)
    return out


def _all_ok(summaries) -> None:
    bad = [(s.spoke_id, s.status, s.error) for s in summaries if not s.ok]
    assert not bad, bad


def test_mixed_hub_converges(store, tmp_path: Path, dav_server: DavServer, feeds: FeedServer):
    loop = Loop(store)
    folder = tmp_path / "vdir"
    folder.mkdir()
    loop.add(
        "vdir",
        open_connector("vdir", {"path": str(folder)}),
        kind="vdir",
        config={"path": str(folder)},
    )
    users = [CalendarUser(dav_server, dav_server.mkcalendar()) for _ in range(2)]
    for n, user in enumerate(users):
        cfg = {"url": dav_server.base + user.path, "username": USER}
        loop.add(f"dav{n}", open_connector("caldav", cfg, PASSWORD), kind="caldav", config=cfg)
    holiday, party = (
        event("holiday@feed", "Public holiday", day=24),
        event("party@feed", "Party", day=18),
    )
    feed_url = feeds.set("/company.ics", serialize_calendar([holiday, party]))
    loop.add(
        "feed",
        open_connector("ics-url", {"url": feed_url}),
        kind="ics-url",
        config={"url": feed_url},
    )

    (folder / "standup.ics").write_text(to_ics(samples.weekly_series("standup@mixed")))
    users[0].put(to_ics(event("review@mixed", "Design review", day=3)))
    users[1].put(to_ics(samples.with_attendees("meeting@mixed")))
    _all_ok(loop.sync_all(rounds=2))

    expected = {"standup@mixed", "review@mixed", "meeting@mixed", "holiday@feed", "party@feed"}
    state = [_vdir(folder), _dav(users[0]), _dav(users[1])]
    assert set(state[0]) == expected and state[0] == state[1] == state[2]
    assert {s for s, _ in feeds.hits} == {"/company.ics"}  # the feed was only ever read

    # edits on Radicale with a plain HTTP client (not our code)
    href = users[0].hrefs_by_uid()["standup@mixed"]
    users[0].put(to_ics(samples.weekly_series("standup@mixed").replace(location="Room 7")), href)
    users[1].delete(users[1].hrefs_by_uid()["review@mixed"])
    _all_ok(loop.sync_all(rounds=2))
    state = [_vdir(folder), _dav(users[0]), _dav(users[1])]
    assert set(state[0]) == expected - {"review@mixed"}
    assert state[0] == state[1] == state[2]
    standup = next(
        parse_item(f.read_text()) for f in folder.glob("*.ics") if "standup@mixed" in f.read_text()
    )
    assert standup.get("location") == "Room 7"

    # the feed changes: an edit and a removal reach everyone; nothing is written back to it
    feeds.set("/company.ics", serialize_calendar([holiday.replace(summary="Holiday (moved)")]))
    _all_ok(loop.sync_all(rounds=2))
    state = [_vdir(folder), _dav(users[0]), _dav(users[1])]
    assert set(state[0]) == {"standup@mixed", "meeting@mixed", "holiday@feed"}
    assert state[0] == state[1] == state[2]

    # converged: another round rewrites nothing (Radicale's DTSTAMP rewrites are no change)
    etags = [_etags(u) for u in users]
    version = store.hub_version(loop.hub.id)
    _all_ok(loop.sync_all(rounds=2))
    assert [_etags(u) for u in users] == etags
    assert store.hub_version(loop.hub.id) == version


def test_faults_then_convergence_with_nothing_lost_or_duplicated(
    store, proxy: FaultProxy, user: CalendarUser
):
    loop = Loop(store)
    mem = loop.add_memory("mem")
    loop.add(
        "dav",
        make_connector(proxy.base, user.path, timeout=1.0),
        kind="caldav",
        config={"url": proxy.base + user.path, "username": USER},
    )
    assert mem.calendar is not None
    for n in range(8):
        mem.calendar.user_create(event(f"m{n}@faults", f"memory {n}", day=1 + n))
    for n in range(4):
        user.put(to_ics(event(f"d{n}@faults", f"radicale {n}", day=10 + n)))
    for fault in [
        Fault("drop", count=2),
        Fault("status", count=3, status=503),
        Fault("truncate", count=1, method="REPORT", body_contains="multiget"),
        Fault("drop-after", count=2, method="PUT"),
        Fault("strip-etag", count=2, method="PUT"),
        Fault("slow", count=1, delay=1.5, method="PUT"),
        Fault("status", count=6, status=500, method="PUT"),  # outlasts the retries once
    ]:
        proxy.add(fault)
    loop.sync_all(rounds=2)  # runs may fail or be partial; they must not lose anything
    assert [f.count for f in proxy.faults] == [0] * len(proxy.faults)  # all faults happened
    # a spell of total outage in the middle of a run
    proxy.add(Fault("status", count=-1, status=503))
    user.put(to_ics(event("late@faults", "made during the outage", day=20)))
    mem.calendar.user_delete(mem.calendar.find_uid("m0@faults")[0])
    outage = loop.sync("dav")
    assert not outage.ok
    proxy.clear()
    loop.sync_all(rounds=3)

    expected = {f"m{n}@faults" for n in range(1, 8)} | {f"d{n}@faults" for n in range(4)}
    expected.add("late@faults")
    in_dav = _dav(user)
    in_mem = {i.uid: fingerprint(i) for i in mem.calendar.items().values()}
    assert set(in_dav) == expected
    assert in_dav == in_mem
    assert len(user.hrefs()) == len(expected)  # no duplicate on the server
    assert len(mem.calendar.items()) == len(expected)  # no duplicates in memory either
    assert set(loop.hub_items()) == expected
