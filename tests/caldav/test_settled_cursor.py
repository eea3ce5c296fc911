"""After a push run of many writes the next CalDAV poll asks from a token past them
(``cursor_after_push`` starts the check in the background, the next ``delta`` takes it), and
only when the server's report since the pull's token is provably those writes alone: nothing
anyone else did between the pull and the push's end is skipped. Against the real Radicale and Xandikos; the "other client"
is plain HTTP (:class:`~tests.caldav.servers.CalendarUser`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cirahub.connectors.base import Write, WriteResult
from cirahub.connectors.caldav import CalDAVConnector
from cirahub.connectors.caldav.connector import SETTLE_AFTER
from cirahub.connectors.caldav.cursor import settled
from cirahub.connectors.registry import open_connector
from cirahub.core.ical import to_ics
from tests.contract import samples
from tests.sync.harness import Loop

from .conftest import make_connector
from .servers import USER, CalendarUser, DavServer, FaultProxy


@contextmanager
def _opened(base: str, path: str, settle_after: int) -> Iterator[CalDAVConnector]:
    """A connector on ``base + path`` that checks past a push of ``settle_after`` writes."""
    conn = make_connector(base, path)
    conn.settle_after = settle_after
    try:
        yield conn
    finally:
        conn.close()


def _creates(conn: CalDAVConnector, tag: str, n: int) -> dict[str, str]:
    """``n`` new items written through the connector: href → the ETag a link would hold."""
    items = [samples.simple(f"{tag}-{i}@settle", day=1 + i) for i in range(n)]
    out = conn.write_many([Write("create", f"h{i}", item=it) for i, it in enumerate(items)])
    assert all(isinstance(r, WriteResult) and r.remote_version for r in out), out
    return {r.remote_id: r.remote_version for r in out if isinstance(r, WriteResult)}


def _pushed(conn: CalDAVConnector, tag: str, n: int,
            between: Callable[[list[str]], object] | None = None) -> tuple[str, dict[str, str]]:
    """A pull (a cursor with a token), ``n`` creates noted as the pusher notes them,
    ``between`` (someone else's doing), then the push's end: (the stored cursor, known)."""
    first = conn.delta(None, {})
    known = _creates(conn, tag, n)
    noted = conn.cursor_after_writes(first.cursor, sorted(known), [])
    assert noted is not None and json.loads(noted)["new"] == sorted(known)
    if between is not None:
        between(sorted(known))
    assert conn.cursor_after_push(noted) == noted  # stored as it is; the next poll settles
    return noted, known


def _polls(proxy: FaultProxy) -> list[str]:
    return [m for m, _ in proxy.requests]


def _sync_bodies(conn: CalDAVConnector) -> list[bytes]:
    """The bodies of the connector's sync-collection REPORTs from now on (its real client
    sends them; this only notes them)."""
    sent: list[bytes] = []
    request = conn.http.request

    def spy(method: str, url: str, **kw: Any) -> Any:
        if kw.get("what") == "sync-collection":
            sent.append(kw.get("data") or b"")
        return request(method, url, **kw)

    conn.http.request = spy  # type: ignore[method-assign]
    return sent


def test_many_writes_are_polled_past_with_one_empty_report(
        dav_server: DavServer, proxy: FaultProxy, calendar_path: str):
    with _opened(proxy.base, calendar_path, 3) as conn:
        sent = _sync_bodies(conn)
        noted, known = _pushed(conn, "many", 4)
        proxy.reset_count()  # the background check may be under way: it is a REPORT too
        delta = conn.delta(noted, known)
        assert delta.changed == () and delta.deleted == ()
        assert _polls(proxy) in (["REPORT"], ["REPORT", "REPORT"])
        old = json.loads(noted)["t"].encode()  # the check asks from it, the poll past it
        assert old in sent[-2] and old not in sent[-1]
        state = json.loads(delta.cursor)
        assert "new" not in state and state["t"] != json.loads(noted)["t"]


def test_few_writes_are_polled_from_the_old_token(
        dav_server: DavServer, proxy: FaultProxy, calendar_path: str):
    with _opened(proxy.base, calendar_path, SETTLE_AFTER) as conn:  # 100 writes
        proxy.reset_count()
        noted, known = _pushed(conn, "few", 2)
        proxy.reset_count()
        delta = conn.delta(noted, known)
        assert delta.changed == () and delta.deleted == () and _polls(proxy) == ["REPORT"]


def test_another_clients_create_before_the_end_is_fetched(
        dav_server: DavServer, calendar_path: str, user: CalendarUser):
    theirs: list[str] = []
    with _opened(dav_server.base, calendar_path, 1) as conn:
        noted, known = _pushed(
            conn, "race", 2,
            lambda _: theirs.append(user.put(to_ics(samples.simple("theirs@settle")))))
        delta = conn.delta(noted, known)
        assert [r.remote_id for r in delta.changed] == theirs


def test_another_clients_delete_of_our_create_before_the_end_is_heard(
        dav_server: DavServer, calendar_path: str, user: CalendarUser):
    """Created by us and deleted by someone else before the push's end: in neither token's
    state, so only the cursor's note of the create can tell. It must survive."""
    with _opened(dav_server.base, calendar_path, 1) as conn:
        noted, known = _pushed(conn, "gone", 3, lambda hs: user.delete(hs[0]))
        delta = conn.delta(noted, known)
        assert delta.deleted == (sorted(known)[0],) and delta.changed == ()


def test_another_clients_edit_of_our_write_before_the_end_is_fetched(
        dav_server: DavServer, calendar_path: str, user: CalendarUser):
    edited: list[str] = []

    def edit(hrefs: list[str]) -> None:
        user.put(to_ics(samples.simple("edit-0@settle", summary="moved", day=20)),
                 href=hrefs[0])
        edited.append(hrefs[0])

    with _opened(dav_server.base, calendar_path, 1) as conn:
        noted, known = _pushed(conn, "edit", 2, edit)
        delta = conn.delta(noted, known)
        assert [r.remote_id for r in delta.changed] == edited
        assert delta.changed[0].item is not None and delta.changed[0].item.get("summary") == "moved"


def test_a_poll_from_another_cursor_drops_the_check(
        dav_server: DavServer, calendar_path: str):
    with _opened(dav_server.base, calendar_path, 1) as conn:
        sent = _sync_bodies(conn)
        noted, known = _pushed(conn, "other", 2)
        older = json.loads(noted)
        older.pop("new")  # not the cursor the check started from
        delta = conn.delta(json.dumps(older), known)
        assert delta.changed == ()
        # polled from the old token (the check, if it ends later, asks from it too); taking
        # the check would have waited for it and polled from its token last
        assert json.loads(noted)["t"].encode() in sent[-1]
        assert conn.delta(noted, known).changed == ()


def test_sync_after_a_large_push_polls_past_it(
        store, tmp_path: Path, dav_server: DavServer):
    """The engine's path: a folder's items pushed to the collection; the next poll asks from
    a token past them, and a later edit by someone else is still heard."""
    folder = tmp_path / "desk"
    folder.mkdir()
    for i in range(5):
        (folder / f"e{i}.ics").write_text(to_ics(samples.simple(f"desk-{i}@settle", day=1 + i)))
    path = dav_server.mkcalendar()
    config = {"url": dav_server.base + path, "username": USER}
    dav = open_connector("caldav", config, "secret")
    assert isinstance(dav, CalDAVConnector)
    dav.settle_after = 5
    sent = _sync_bodies(dav)
    loop = Loop(store)
    loop.add("desk", open_connector("vdir", {"path": str(folder)}), kind="vdir",
             config={"path": str(folder)})
    loop.add("dav", dav, kind="caldav", config=config)
    loop.sync("dav")
    loop.sync("desk")
    assert loop.sync("dav").ok  # pull (token T), then 5 creates
    token = json.loads(store.get_spoke(loop.spokes["dav"].id).pull_cursor)["t"]
    summary = loop.sync("dav")
    assert summary.ok and not summary.counts.get("pulled")
    # the check asked from the pull's token, then the poll from the token it gave
    assert token.encode() in sent[-2] and token.encode() not in sent[-1]
    user = CalendarUser(dav_server, path)
    href = next(h for h in store.link_versions(loop.spokes["dav"].id) if h.startswith(path))
    user.put(to_ics(samples.simple("desk-0@settle", summary="moved by a colleague")), href=href)
    loop.sync("dav")
    loop.sync("desk")
    assert loop.hub_items()["desk-0@settle"].get("summary") == "moved by a colleague"
    dav.close()


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
