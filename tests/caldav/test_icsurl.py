"""The read-only ``ics-url`` spoke against a local HTTP feed server: conditional GET caching,
feed changes, failing and empty feeds, broken events, refusal of writes."""

from __future__ import annotations

import pytest

from cirahub.connectors.base import Write
from cirahub.connectors.caldav.http import RetryPolicy
from cirahub.connectors.icsurl import IcsUrlConnector, parse_config
from cirahub.connectors.registry import open_connector, validate_config
from cirahub.core.errors import InvalidInput, ProtocolError, ReadOnlySpoke, TransientError
from cirahub.core.ical import serialize_calendar
from tests.contract import samples

from .servers import FeedServer

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_back_off=0.1)


def _feed(*items) -> str:
    return serialize_calendar(list(items))


def _conn(url: str) -> IcsUrlConnector:
    return IcsUrlConnector(parse_config({"url": url}), None, retry=FAST)


def _known(delta) -> dict[str, str]:
    return {r.remote_id: r.remote_version for r in delta.changed}


def test_config_validation():
    assert validate_config("ics-url", {"url": "webcal://example.org/a.ics"})["url"] == (
        "https://example.org/a.ics"
    )
    for bad, key in [
        ({}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "https://x/a", "foo": 1}, "foo"),
    ]:
        with pytest.raises(InvalidInput) as err:
            validate_config("ics-url", bad)
        assert err.value.fields["key"] == key


def test_feed_listing_caching_and_changes(feeds: FeedServer):
    a, b = samples.simple("a@feed"), samples.all_day("b@feed")
    url = feeds.set("/team.ics", _feed(a, b))
    conn = open_connector("ics-url", {"url": url})
    assert conn.capabilities.read_only
    first = conn.delta(None, {})
    assert first.complete and first.listing_size == 2 and first.deleted == ()
    assert {r.remote_id: r.item for r in first.changed} == {"a@feed": a, "b@feed": b}
    known = _known(first)

    # unchanged feed: a conditional GET answered 304 → nothing, and not a listing
    again = conn.delta(first.cursor, known)
    assert again.changed == () and again.deleted == () and not again.complete
    assert feeds.hits[-1] == ("/team.ics", 304)

    # regenerated with new DTSTAMPs only: fetched (200), but nothing really changed
    feeds.set(
        "/team.ics", _feed(a, b).replace("DTSTAMP:19700101T000000Z", "DTSTAMP:20301224T101010Z")
    )
    regen = conn.delta(again.cursor, known)
    assert feeds.hits[-1] == ("/team.ics", 200)
    assert regen.complete and regen.changed == () and regen.deleted == ()

    # a real edit and a removal
    edited = a.replace(summary="moved to the big room")
    feeds.set("/team.ics", _feed(edited))
    delta = conn.delta(regen.cursor, known)
    assert [r.item for r in delta.changed] == [edited]
    assert delta.deleted == ("b@feed",) and delta.listing_size == 1


def test_last_modified_only_feed_is_cached(feeds: FeedServer):
    url = feeds.set("/lm.ics", _feed(samples.simple("a@lm")), etag=False)
    conn = _conn(url)
    first = conn.delta(None, {})
    again = conn.delta(first.cursor, _known(first))
    assert feeds.hits[-1] == ("/lm.ics", 304) and again.changed == ()


def test_failing_feed_never_deletes(feeds: FeedServer):
    url = feeds.set("/f.ics", _feed(samples.simple("a@fail")))
    conn = _conn(url)
    first = conn.delta(None, {})
    known = _known(first)
    for status in (500, 503, 404):
        feeds.set("/f.ics", "", status=status)
        with pytest.raises(TransientError):
            conn.delta(first.cursor, known)
    feeds.set("/f.ics", "<html><body>Sign in</body></html>")  # a login page, not a feed
    with pytest.raises(ProtocolError):
        conn.delta(first.cursor, known)
    dead = _conn("http://127.0.0.1:9/nothing.ics")
    with pytest.raises(TransientError):
        dead.delta(None, known)


def test_empty_feed_is_a_complete_empty_listing(feeds: FeedServer):
    """The planner's empty-listing safety halt acts on this; the connector states facts."""
    url = feeds.set("/e.ics", _feed(samples.simple("a@empty")))
    conn = _conn(url)
    known = _known(conn.delta(None, {}))
    for empty in ("", _feed()):
        feeds.set("/e.ics", empty)
        delta = conn.delta(None, known)
        assert delta.complete and delta.listing_size == 0 and delta.changed == ()
        assert delta.deleted == ("a@empty",)


def test_broken_event_is_quarantined_not_deleted(feeds: FeedServer):
    good = samples.simple("good@broken")
    text = _feed(good, samples.simple("bad@broken", day=12))
    # an RRULE without FREQ: no program can expand it (an event ending before its start is
    # shown by calendar programs, so it is carried, not quarantined: issue 9)
    text = text.replace("DTEND:20260712T100000Z", "DTEND:20260712T100000Z\r\nRRULE:COUNT=3")
    url = feeds.set("/b.ics", text)
    conn = _conn(url)
    delta = conn.delta(None, {"bad@broken": "some-old-version"})
    assert delta.deleted == ()
    by_id = {r.remote_id: r for r in delta.changed}
    assert by_id["good@broken"].item == good
    assert by_id["bad@broken"].item is None and by_id["bad@broken"].error


def test_writes_are_refused(feeds: FeedServer):
    conn = _conn(feeds.set("/w.ics", _feed()))
    item = samples.simple("w@feed")
    with pytest.raises(ReadOnlySpoke):
        conn.create(item, "h")
    with pytest.raises(ReadOnlySpoke):
        conn.update("w@feed", "v", item, "h")
    with pytest.raises(ReadOnlySpoke):
        conn.delete("w@feed", "v")
    [out] = conn.write_many([Write("create", "h", item=item)])
    assert isinstance(out, ReadOnlySpoke)
    assert feeds.hits == []  # nothing was even sent
