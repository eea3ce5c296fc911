"""Items 5, 2 and 8 through a real sync run (SyncCycle on a real SQLite store, the ics-url
connector on a loopback feed): an oversized answer fails the run with a message naming the
redacted URL and the limit and deletes nothing; a broken VTIMEZONE quarantines only its
events."""

from __future__ import annotations

from cirahub.connectors.registry import open_connector
from cirahub.core.ical import serialize_calendar
from tests.sync.harness import Loop, event

from .servers import HostileServer
from .test_feed_bad_vtimezone import FEED

CAP = 512 * 1024


def _add_feed(loop: Loop, url: str) -> None:
    loop.add("feed", open_connector("ics-url", {"url": url}), kind="ics-url",
             config={"url": url})


def test_regression_oversized_feed_fails_the_run_and_deletes_nothing(
        loop: Loop, feed: HostileServer, monkeypatch):
    monkeypatch.setenv("CIRAHUB_MAX_RESPONSE_BYTES", str(CAP))
    feed.body = serialize_calendar([event("a@feed", "A"), event("b@feed", "B", day=2)]).encode()
    url = f"{feed.base}/team.ics?token=tok-secret"
    _add_feed(loop, url)
    assert loop.sync("feed").ok
    assert set(loop.hub_items()) == {"a@feed", "b@feed"}

    connector = loop.spokes["feed"].connector
    connector.config = type(connector.config)(f"{feed.base}/endless.ics?token=tok-secret")
    run = loop.sync("feed")
    assert not run.ok and run.error is not None
    assert run.error["code"] == "response_too_large"
    message = run.error["message"]
    assert f"{feed.base}/endless.ics?…" in message and str(CAP) in message
    assert "tok-secret" not in str(run.to_dict())
    assert set(loop.hub_items()) == {"a@feed", "b@feed"}


def test_regression_feed_bad_vtimezone_run_syncs_the_rest(loop: Loop, feed: HostileServer):
    feed.body = FEED.encode()
    _add_feed(loop, f"{feed.base}/team.ics")
    run = loop.sync("feed")
    items = loop.hub_items()
    assert "good@feed" in items and "bad@feed" not in items and len(items) == 2
    assert run.ok and run.counts["quarantine"] == 1, run.to_dict()
    (entry,) = loop.store.list_quarantine(loop.spokes["feed"].id)
    assert entry.remote_id == "bad@feed" and "Broken/Zone" in entry.reason + entry.detail
