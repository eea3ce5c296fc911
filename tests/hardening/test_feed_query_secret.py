"""Issue 13 item 2: a feed URL's query string (``?token=…``) is a secret.

Through the ics-url kind's registration (its validator seals the query), the real store
(which keeps sealed values with the encrypted secret), the registry (which gives them back
to the connector only), the API's spoke message (what ``spoke show --json`` prints), a sync
run's error and ``apply``'s plan: the token reaches the feed and nothing else — not the
stored config, not the database file, not an API answer, a run or a diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToJson

from cirahub.connectors.registry import open_connector, validate_config
from cirahub.control.apply import HubSpec, SpokeSpec, plan
from cirahub.control.convert import spoke_to_pb
from cirahub.core.ical import serialize_calendar
from cirahub.store import Store
from tests.sync.harness import Loop, event

from .servers import HostileServer

TOKEN = "tok-9f8e7d6c5b4a"


@pytest.fixture
def feed(feed: HostileServer) -> HostileServer:
    """The shared hostile server, serving one event."""
    feed.body = serialize_calendar([event("a@feed", "A")]).encode()
    return feed


def _db_bytes(store: Store) -> bytes:
    db = Path(store.sqlite_file)  # type: ignore[arg-type]
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_regression_feed_query_is_sealed_and_never_shown(loop: Loop, feed: HostileServer) -> None:
    url = f"{feed.base}/team.ics?token={TOKEN}"
    config = validate_config("ics-url", {"url": url})
    record = loop.store.add_spoke("team", "feed", "ics-url", config)
    assert record.config["url"] == f"{feed.base}/team.ics?…" and record.has_secret
    assert TOKEN not in str(record) and TOKEN not in MessageToJson(spoke_to_pb(record, "team"))
    assert TOKEN.encode() not in _db_bytes(loop.store)  # encrypted at rest

    # the connector, opened as the spoke actor does, reaches the feed with the token
    connector = open_connector("ics-url", record.config, loop.store.get_spoke_secret(record.id))
    cycle_spoke = loop.add("feed2", connector, kind="ics-url", config=config)
    assert loop.sync("feed2").ok
    assert f"/team.ics?token={TOKEN}" in feed.paths
    feed.status = 404
    failed = loop.sync("feed2")
    assert not failed.ok and TOKEN not in str(failed.to_dict())
    assert TOKEN not in str(loop.store.get_spoke(cycle_spoke.id))

    # apply: the same URL is no change; another token is a change that shows neither
    same = HubSpec("team", spokes=(SpokeSpec("feed", "ics-url", {"url": url}),))
    assert [c for c in plan(loop.store, [same]) if c.spoke == "feed"] == []
    other = HubSpec("team", spokes=(SpokeSpec("feed", "ics-url", {"url": url + "x"}),))
    (change,) = [c for c in plan(loop.store, [other]) if c.spoke == "feed"]
    assert change.action == "update" and TOKEN not in " ".join(change.details)
    assert any("sealed" in d for d in change.details)


def test_regression_new_password_keeps_the_sealed_query(loop: Loop, feed: HostileServer) -> None:
    config = validate_config("ics-url", {"url": f"{feed.base}/t.ics?token={TOKEN}",
                                         "username": "u"})
    record = loop.store.add_spoke("team", "feed", "ics-url", config, secret="pw1")
    loop.store.update_spoke(record.id, secret="pw2")
    connector = open_connector("ics-url", record.config, loop.store.get_spoke_secret(record.id))
    assert connector.config.url.endswith(f"?token={TOKEN}")  # type: ignore[attr-defined]
    assert connector.http.session.auth == ("u", "pw2")  # type: ignore[attr-defined]
