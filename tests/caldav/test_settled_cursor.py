"""A push run of many writes ends with a CalDAV cursor past them (``cursor_after_push``), and
only when the server's report since the pull's token is provably those writes alone: the
next no-change poll is one REPORT with nothing in it, and nothing anyone else did between the
pull and the run's end is skipped. Against the real Radicale and Xandikos; the "other client"
is plain HTTP (:class:`~tests.caldav.servers.CalendarUser`)."""

from __future__ import annotations

import json
from pathlib import Path

from cirahub.connectors.base import Write
from cirahub.connectors.caldav import CalDAVConnector
from cirahub.connectors.caldav.cursor import settled
from cirahub.connectors.registry import open_connector
from cirahub.core.ical import to_ics
from tests.contract import samples
from tests.sync.harness import Loop

from .conftest import make_connector
from .servers import USER, CalendarUser, DavServer, FaultProxy


def _creates(conn: CalDAVConnector, tag: str, n: int) -> list[str]:
    items = [samples.simple(f"{tag}-{i}@settle", day=1 + i) for i in range(n)]
    out = conn.write_many([Write("create", f"h{i}", item=it) for i, it in enumerate(items)])
    hrefs = [getattr(r, "remote_id", None) for r in out]
    assert all(hrefs), out
    return [h for h in hrefs if h]


def _written_then_settled(conn: CalDAVConnector, tag: str, n: int,
                          between: object = None) -> tuple[str, str, list[str]]:
    """A pull (cursor with a token), ``n`` creates noted as the pusher notes them, whatever
    ``between`` does, then the run's end: (noted cursor, cursor after the push, hrefs)."""
    first = conn.delta(None, {})
    hrefs = _creates(conn, tag, n)
    noted = conn.cursor_after_writes(first.cursor, hrefs, [])
    assert noted is not None and json.loads(noted)["new"] == sorted(hrefs)
    if callable(between):
        between(hrefs)
    moved = conn.cursor_after_push(noted)
    assert moved is not None
    return noted, moved, hrefs


def test_many_writes_end_with_a_token_past_them(dav_server: DavServer, calendar_path: str):
    conn = make_connector(dav_server.base, calendar_path)
    conn.settle_after = 3
    try:
        noted, moved, hrefs = _written_then_settled(conn, "many", 4)
        state = json.loads(moved)
        assert "new" not in state and state["t"] != json.loads(noted)["t"]
        known = {r.remote_id: r.remote_version for r in conn.get_many(hrefs)}
        nothing = conn.delta(moved, known)
        assert nothing.changed == () and nothing.deleted == ()
    finally:
        conn.close()


def test_few_writes_keep_their_notes_for_the_next_poll(dav_server: DavServer,
                                                       calendar_path: str):
    conn = make_connector(dav_server.base, calendar_path)  # settle_after: 100 writes
    try:
        noted, moved, _ = _written_then_settled(conn, "few", 2)
        assert moved == noted
    finally:
        conn.close()


def test_another_clients_create_before_the_end_keeps_the_old_token(
        dav_server: DavServer, calendar_path: str, user: CalendarUser):
    conn = make_connector(dav_server.base, calendar_path)
    conn.settle_after = 1
    theirs: list[str] = []
    try:
        noted, moved, hrefs = _written_then_settled(
            conn, "race", 2,
            lambda _: theirs.append(user.put(to_ics(samples.simple("theirs@settle")))))
        assert moved == noted
        known = {r.remote_id: r.remote_version for r in conn.get_many(hrefs)}
        delta = conn.delta(moved, known)
        assert [r.remote_id for r in delta.changed] == theirs
    finally:
        conn.close()


def test_another_clients_delete_of_our_create_before_the_end_is_heard(
        dav_server: DavServer, calendar_path: str, user: CalendarUser):
    """Created by us and deleted by someone else before the run's end: in neither token's
    state, so only the cursor's note of the create can tell. It must survive."""
    conn = make_connector(dav_server.base, calendar_path)
    conn.settle_after = 1
    try:
        noted, moved, hrefs = _written_then_settled(conn, "gone", 3,
                                                    lambda hs: user.delete(hs[0]))
        assert moved == noted
        known = {r.remote_id: r.remote_version for r in conn.get_many(hrefs[1:])}
        known[hrefs[0]] = '"whatever we held"'
        delta = conn.delta(moved, known)
        assert delta.deleted == (hrefs[0],)
    finally:
        conn.close()


def test_another_clients_edit_of_our_write_before_the_end_is_fetched(
        dav_server: DavServer, calendar_path: str, user: CalendarUser):
    conn = make_connector(dav_server.base, calendar_path)
    conn.settle_after = 1
    try:
        first = conn.delta(None, {})
        hrefs = _creates(conn, "edit", 2)
        ours = {r.remote_id: r.remote_version for r in conn.get_many(hrefs)}
        noted = conn.cursor_after_writes(first.cursor, hrefs, [])
        user.put(to_ics(samples.simple("edit-0@settle", day=20)), href=hrefs[0])
        moved = conn.cursor_after_push(noted)
        assert moved == noted
        delta = conn.delta(moved, ours)
        assert [r.remote_id for r in delta.changed] == [hrefs[0]]
    finally:
        conn.close()


def test_sync_after_a_large_push_is_one_empty_report(
        store, tmp_path: Path, dav_server: DavServer, proxy: FaultProxy):
    """The engine's path: a folder's items pushed to the collection, then a poll of it
    costs one REPORT that reports nothing, and a later edit by someone else is still heard."""
    folder = tmp_path / "desk"
    folder.mkdir()
    for i in range(5):
        (folder / f"e{i}.ics").write_text(to_ics(samples.simple(f"desk-{i}@settle", day=1 + i)))
    path = dav_server.mkcalendar()
    config = {"url": proxy.base + path, "username": USER}
    dav = open_connector("caldav", config, "secret")
    assert isinstance(dav, CalDAVConnector)
    dav.settle_after = 5
    loop = Loop(store)
    loop.add("desk", open_connector("vdir", {"path": str(folder)}), kind="vdir",
             config={"path": str(folder)})
    loop.add("dav", dav, kind="caldav", config=config)
    loop.sync("dav")
    loop.sync("desk")
    assert loop.sync("dav").ok  # pull (token T), then 5 creates and the cursor past them
    cursor = store.get_spoke(loop.spokes["dav"].id).pull_cursor
    assert "new" not in json.loads(cursor)
    proxy.reset_count()
    assert loop.sync("dav").ok
    assert [m for m, *_ in proxy.requests] == ["REPORT"]
    user = CalendarUser(dav_server, path)
    href = next(h for h in _hrefs(store, loop) if h.startswith(path))
    user.put(to_ics(samples.simple("desk-0@settle", summary="moved by a colleague")), href=href)
    loop.sync("dav")
    loop.sync("desk")
    assert loop.hub_items()["desk-0@settle"].get("summary") == "moved by a colleague"
    dav.close()


def _hrefs(store, loop: Loop) -> list[str]:
    return sorted(store.link_versions(loop.spokes["dav"].id))


def test_settled_needs_exactly_our_writes():
    state = {"k": "k", "c": "/c/", "t": "T0", "new": ["/c/a.ics"]}
    mine = {"/c/a.ics": '"1"', "/c/b.ics": '"2"'}
    ok = settled(state, {"/c/a.ics": '"1"', "/c/b.ics": '"2"'}, set(), "T1", mine, set())
    assert ok is not None and json.loads(ok) == {"k": "k", "c": "/c/", "t": "T1"}
    # another ETag, another href, an href missing, a deletion not ours, an old note uncovered
    assert settled(state, {"/c/a.ics": '"1"', "/c/b.ics": '"3"'}, set(), "T1", mine,
                   set()) is None
    assert settled(state, {**mine, "/c/x.ics": '"9"'}, set(), "T1", mine, set()) is None
    assert settled(state, {"/c/b.ics": '"2"'}, set(), "T1", mine, set()) is None
    assert settled(state, mine, {"/c/z.ics"}, "T1", mine, set()) is None
    assert settled({**state, "gone": ["/c/old.ics"]}, mine, set(), "T1", mine, set()) is None
    assert settled(state, {"/c/a.ics": None, "/c/b.ics": '"2"'}, set(), "T1", mine,
                   set()) is None
    assert settled(state, {"/c/a.ics": "", "/c/b.ics": '"2"'}, set(), "T1",
                   {**mine, "/c/a.ics": ""}, set()) is None
