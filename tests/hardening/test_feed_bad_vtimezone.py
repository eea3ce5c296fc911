"""Issue 13 item 8: a feed with one bad VTIMEZONE used to fail whole ("the feed is not
iCalendar"); now only the events using that zone are quarantined and the rest syncs."""

from __future__ import annotations

import pytest

from cirahub.connectors.caldav.http import RetryPolicy
from cirahub.connectors.icsurl import IcsUrlConnector, parse_config
from cirahub.core.errors import ProtocolError
from cirahub.core.ical import parse_calendar

from .servers import HostileServer

FEED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//hardening//feed//EN
X-WR-CALNAME:Team
BEGIN:VTIMEZONE
TZID:Broken/Zone
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+zz00
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:bad@feed
DTSTAMP:20260101T000000Z
DTSTART;TZID=Broken/Zone:20260301T100000
DTEND;TZID=Broken/Zone:20260301T110000
SUMMARY:in the broken zone
END:VEVENT
BEGIN:VEVENT
UID:good@feed
DTSTAMP:20260101T000000Z
DTSTART;TZID=W. Europe Standard Time:20260302T100000
DTEND;TZID=W. Europe Standard Time:20260302T110000
SUMMARY:a long summary folded over
  two lines
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
DESCRIPTION:soon
END:VALARM
END:VEVENT
BEGIN:VEVENT
DTSTAMP:20260101T000000Z
DTSTART:20260303T100000Z
DTEND:20260303T110000Z
SUMMARY:no uid, utc
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n")


def _conn(feed: HostileServer) -> IcsUrlConnector:
    return IcsUrlConnector(parse_config({"url": f"{feed.base}/team.ics"}), None,
                           retry=RetryPolicy(attempts=1, base_delay=0.0))


def test_regression_feed_bad_vtimezone_quarantines_only_its_events(feed: HostileServer):
    feed.body = FEED.encode()
    conn = _conn(feed)
    delta = conn.delta(None, {"bad@feed": "old", "good@feed": "old"})
    conn.close()
    by_id = {r.remote_id: r for r in delta.changed}
    assert delta.complete and delta.deleted == () and delta.listing_size == 3
    good = by_id["good@feed"]
    assert good.error is None and good.item is not None
    assert good.item.fields["summary"] == "a long summary folded over two lines"
    assert good.item.fields["start"] == {"utc": "2026-03-02T09:00:00Z", "tz": "Europe/Berlin"}
    bad = by_id["bad@feed"]
    assert bad.item is None and "Broken/Zone" in (bad.error or "")
    (no_uid,) = [r for r in delta.changed if r.remote_id not in ("bad@feed", "good@feed")]
    assert no_uid.item is not None and no_uid.item.fields["summary"] == "no uid, utc"
    # the same UID the whole-feed reader derives once the zone is repaired: no churn
    repaired = parse_calendar(FEED.replace("+zz00", "+0000"),
                              identity=f"ics-url:{feed.base}/team.ics")
    assert no_uid.remote_id in {item.uid for item in repaired}


def test_text_that_is_not_icalendar_still_fails_whole(feed: HostileServer):
    feed.body = b"<html>not a calendar</html>"
    conn = _conn(feed)
    with pytest.raises(ProtocolError, match="not iCalendar"):
        conn.delta(None, {"a@feed": "v"})
    conn.close()
