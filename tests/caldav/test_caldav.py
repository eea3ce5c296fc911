"""caldav connector behaviour against a real Radicale: config, discovery, sync-token handling,
server rewrites, servers without ETags or sync-collection, odd UIDs, batching."""

from __future__ import annotations

import json

import pytest

from cirahub.connectors.caldav import CalDAVConnector
from cirahub.connectors.registry import open_connector, validate_config
from cirahub.core.errors import AuthError, ConfigError, InvalidInput
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_item, to_ics
from tests.contract import samples

from .conftest import make_connector
from .servers import (
    PASSWORD,
    USER,
    CalendarUser,
    DavServer,
    Fault,
    FaultProxy,
    Radicale,
    Xandikos,
)


def _known(delta) -> dict[str, str]:
    return {r.remote_id: r.remote_version for r in delta.changed}


# --- config and discovery -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({}, "url"),
        ({"url": "ftp://example.org/cal/"}, "url"),
        ({"url": "https://bob:pw@example.org/cal/"}, "url"),
        ({"url": "https://example.org/cal/", "max_parallel": 0}, "max_parallel"),
        ({"url": "https://example.org/cal/", "verify_tls": "yes"}, "verify_tls"),
        ({"url": "https://example.org/cal/", "calendar": ""}, "calendar"),
        ({"url": "https://example.org/cal/", "pasword": "x"}, "pasword"),
    ],
)
def test_bad_config_is_rejected_naming_the_key(config, key):
    with pytest.raises(InvalidInput) as err:
        validate_config("caldav", config)
    assert err.value.fields["key"] == key


def test_registry_opens_a_working_connector(dav_server: DavServer, user: CalendarUser):
    conn = open_connector("caldav", {"url": dav_server.base + user.path, "username": USER}, PASSWORD)
    try:
        assert isinstance(conn, CalDAVConnector)
        assert conn.delta(None, {}).listing_size == 0
        assert validate_config("caldav", {"url": dav_server.base + user.path}) == {
            "url": dav_server.base + user.path,
            "verify_tls": True,
            "max_parallel": 4,
            "timeout": 30.0,
        }
    finally:
        conn.close()


def test_discovery_from_principal_and_root(dav_server: DavServer):
    path = dav_server.mkcalendar(display="Team Planning")
    CalendarUser(dav_server, path).put(to_ics(samples.simple("d@disc")))
    for url, calendar in [
        ("/", "Team Planning"),  # root → current-user-principal → home → by display name
        (f"/{USER}/", path.rstrip("/").rsplit("/", 1)[1]),  # principal, by last path segment
        (f"/{USER}/", path),  # home, by href
        ("/.well-known/caldav", "Team Planning"),  # RFC 6764: a redirect, PROPFIND kept
    ]:
        conn = make_connector(dav_server.base, url, calendar=calendar)
        try:
            assert conn.collection().path == path
            assert [r.item.uid for r in conn.delta(None, {}).changed] == ["d@disc"]
        finally:
            conn.close()


def test_discovery_needs_a_choice_among_several_calendars(dav_server: DavServer):
    dav_server.mkcalendar()
    dav_server.mkcalendar()
    conn = make_connector(dav_server.base, f"/{USER}/")
    with pytest.raises(ConfigError) as err:
        conn.delta(None, {})
    assert err.value.fields["key"] == "calendar"
    assert len(err.value.fields["calendars"]) >= 2
    bad = make_connector(dav_server.base, f"/{USER}/", calendar="no such calendar")
    with pytest.raises(ConfigError):
        bad.delta(None, {})


def test_wrong_password_is_an_auth_error(dav_server: DavServer, user: CalendarUser):
    if isinstance(dav_server, Xandikos):
        pytest.skip("Xandikos does no authentication of its own (it expects a proxy to)")
    conn = make_connector(dav_server.base, user.path, password="wrong")
    with pytest.raises(AuthError) as err:
        conn.delta(None, {})
    assert "wrong" not in str(err.value) and "wrong" not in json.dumps(err.value.to_dict())


def test_missing_collection_is_a_config_error(dav_server: DavServer):
    conn = make_connector(dav_server.base, f"/{USER}/does-not-exist/")
    with pytest.raises(ConfigError):
        conn.delta(None, {})


# --- change detection -----------------------------------------------------------------------


def test_incremental_sync_reports_changes_and_server_deletions(
    connector: CalDAVConnector, user: CalendarUser
):
    a = user.put(to_ics(samples.simple("a@inc")))
    user.put(to_ics(samples.simple("b@inc", day=11)))
    first = connector.delta(None, {})
    assert first.complete and first.listing_size == 2
    known = _known(first)
    user.delete(a)
    user.put(to_ics(samples.simple("c@inc", day=12)))
    gone = user.put(to_ics(samples.simple("d@inc", day=13)))
    user.delete(gone)  # created and deleted between polls: nothing to report
    delta = connector.delta(first.cursor, known)
    assert not delta.complete  # an incremental report is not a listing
    assert delta.deleted == (a,)
    assert [r.item.uid for r in delta.changed] == ["c@inc"]
    assert connector.capabilities.incremental


def test_expired_sync_token_falls_back_to_a_complete_listing(
    connector: CalDAVConnector, user: CalendarUser
):
    a = user.put(to_ics(samples.simple("a@tok")))
    first = connector.delta(None, {})
    known = _known(first)
    user.delete(a)
    state = json.loads(first.cursor)
    state["t"] = "http://radicale.org/ns/sync/" + "0" * 64  # unknown to the server
    delta = connector.delta(json.dumps(state), known)
    assert delta.complete and delta.listing_size == 0
    assert delta.deleted == (a,)
    assert json.loads(delta.cursor)["t"] != state["t"]


def test_regression_sync_token_refused_with_412_starts_over(xandikos: Xandikos):
    """Xandikos refuses an unknown sync token with 412 + DAV:valid-sync-token (RFC 6578 names
    403, others send 409); the connector used to fail the run instead of starting over."""
    user = CalendarUser(xandikos, xandikos.mkcalendar())
    conn = make_connector(xandikos.base, user.path)
    try:
        a = user.put(to_ics(samples.simple("a@412")))
        first = conn.delta(None, {})
        user.delete(a)
        state = json.loads(first.cursor)
        state["t"] = "urn:unknown-token"
        delta = conn.delta(json.dumps(state), _known(first))
        assert delta.complete and delta.deleted == (a,)
    finally:
        conn.close()


def test_restarted_connector_polls_with_one_request(
    dav_server: DavServer, proxy: FaultProxy, user: CalendarUser
):
    user.put(to_ics(samples.simple("a@restart")))
    first_conn = make_connector(proxy.base, user.path)
    first = first_conn.delta(None, {})
    first_conn.close()
    proxy.reset_count()
    again = make_connector(proxy.base, user.path)  # a fresh process: no discovery cache
    delta = again.delta(first.cursor, _known(first))
    assert delta.changed == () and delta.deleted == ()
    assert proxy.requests and len(proxy.requests) == 1 and proxy.requests[0][0] == "REPORT"
    again.close()


def test_cursor_of_another_config_is_ignored(dav_server: DavServer, user: CalendarUser):
    other = dav_server.mkcalendar()
    conn_other = make_connector(dav_server.base, other)
    cursor = conn_other.delta(None, {}).cursor
    user.put(to_ics(samples.simple("a@cfg")))
    conn = make_connector(dav_server.base, user.path)
    delta = conn.delta(cursor, {})
    assert delta.complete and [r.item.uid for r in delta.changed] == ["a@cfg"]


def test_server_without_sync_collection_uses_etag_listing(proxy: FaultProxy, user: CalendarUser):
    proxy.add(
        Fault("status", count=-1, method="REPORT", body_contains="sync-collection", status=501)
    )
    conn = make_connector(proxy.base, user.path)
    a = user.put(to_ics(samples.simple("a@list")))
    user.put(to_ics(samples.simple("b@list", day=11)))
    first = conn.delta(None, {})
    assert first.complete and first.listing_size == 2
    assert not conn.capabilities.incremental
    known = _known(first)
    user.delete(a)
    proxy.reset_count()
    delta = conn.delta(first.cursor, known)
    assert delta.complete and delta.deleted == (a,) and delta.changed == ()
    assert proxy.count("PROPFIND") == 1 and proxy.count("REPORT") == 0  # no probe per poll


def test_multiget_batches_in_parallel(dav_server: DavServer, user: CalendarUser):
    uids = [f"m{n}@batch" for n in range(10)]
    for n, uid in enumerate(uids):
        user.put(to_ics(samples.simple(uid, day=1 + n)))
    conn = CalDAVConnector(
        make_connector(dav_server.base, user.path, max_parallel=3).config, PASSWORD, multiget_batch=3
    )
    delta = conn.delta(None, {})
    assert sorted(r.item.uid for r in delta.changed) == sorted(uids)
    got = conn.get_many([r.remote_id for r in reversed(delta.changed)])
    assert [g.remote_id for g in got] == [r.remote_id for r in reversed(delta.changed)]


def test_regression_tasks_in_a_mixed_collection_are_items(
        connector: CalDAVConnector, user: CalendarUser):
    """A VTODO beside the events was skipped (never synced anywhere); it is an item of its
    kind now, carried verbatim, and the connector says it can write such items."""
    todo = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\n"
            "UID:todo@mixed\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Buy milk\r\n"
            "END:VTODO\r\nEND:VCALENDAR\r\n")
    user.put(todo)
    user.put(to_ics(samples.simple("e@mixed")))
    delta = connector.delta(None, {})
    got = {r.item.uid: r.item for r in delta.changed if r.item}
    assert sorted(got) == ["e@mixed", "todo@mixed"]
    assert got["todo@mixed"].get("component") == "VTODO"
    assert "SUMMARY:Buy milk" in to_ics(got["todo@mixed"])
    assert connector.capabilities.carries_components


# --- writes ---------------------------------------------------------------------------------


def _resave(text: str) -> str:
    """What another client might store for the same event: lines unfolded, LF endings, the
    properties of every VEVENT in reverse order, a new DTSTAMP."""
    lines = text.replace("\r\n", "\n").replace("\n ", "").strip().split("\n")
    out: list[str] = []
    block: list[str] | None = None
    for line in lines:
        if line == "BEGIN:VEVENT":
            block = []
        elif line == "END:VEVENT" and block is not None:
            props = [p for p in block if not p.startswith("DTSTAMP")]
            out += ["BEGIN:VEVENT", *reversed(props), "DTSTAMP:20300101T000000Z", line]
            block = None
            continue
        if block is not None and line != "BEGIN:VEVENT":
            block.append(line)
        elif block is None:
            out.append(line)
    return "\n".join(out) + "\n"


def test_server_rewrites_do_not_read_as_changes(
    dav_server: DavServer, connector: CalDAVConnector, user: CalendarUser
):
    item = samples.weekly_series()
    made = connector.create(item, "h1")
    stored = user.get(made.remote_id).text
    if isinstance(dav_server, Radicale):
        assert "DTSTAMP" in stored and stored != to_ics(item)  # Radicale did rewrite it
    first = connector.delta(None, {made.remote_id: made.remote_version})
    assert first.changed == ()  # our own write: echo
    resaved = _resave(stored)
    assert resaved != stored
    user.put(resaved, made.remote_id)
    delta = connector.delta(first.cursor, {made.remote_id: made.remote_version})
    [seen] = delta.changed  # the ETag moved ...
    assert seen.remote_version != made.remote_version
    assert fingerprint(seen.item) == fingerprint(item)  # ... the meaning did not


def test_put_answers_without_etag_are_read_back(proxy: FaultProxy, user: CalendarUser):
    conn = make_connector(proxy.base, user.path)
    proxy.add(Fault("strip-etag", count=-1, method="PUT"))
    item = samples.timed_berlin()
    made = conn.create(item, "h1")
    assert made.remote_version
    listed = _known(conn.delta(None, {}))
    assert listed == {made.remote_id: made.remote_version}
    upd = conn.update(made.remote_id, made.remote_version, item.replace(summary="x"), "h1")
    assert upd.remote_version and upd.remote_version != made.remote_version
    assert _known(conn.delta(None, {})) == {made.remote_id: upd.remote_version}


def test_unsafe_uid_gets_a_hashed_file_name(connector: CalDAVConnector, user: CalendarUser):
    item = samples.simple("weird/uid with spaces?&ümlaut@x")
    made = connector.create(item, "h1")
    assert made.remote_id.startswith(user.path) and "/" not in made.remote_id[len(user.path) :]
    [got] = connector.get_many([made.remote_id])
    assert got.item == item
    assert parse_item(user.get(made.remote_id).text).uid == item.uid


def test_update_already_at_target_content_is_success(
    connector: CalDAVConnector, user: CalendarUser
):
    item = samples.timed_berlin()
    made = connector.create(item, "h1")
    target = item.replace(summary="same edit on both sides")
    user.put(to_ics(target), made.remote_id)  # the user made exactly our edit
    res = connector.update(made.remote_id, made.remote_version, target, "h1")
    assert res.remote_version == _known(connector.delta(None, {}))[made.remote_id]
