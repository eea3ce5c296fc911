"""Pure mapping checks of the graph kind: recurrence patterns ↔ RRULE, zones, bodies with
the attendee list, all-day values."""

from __future__ import annotations

import pytest

from cirahub.connectors.graph import mapping
from cirahub.connectors.graph.recurrence import from_rrule, to_rrule
from cirahub.core.errors import MalformedItem

BERLIN_START = {"utc": "2026-03-02T08:00:00Z", "tz": "Europe/Berlin"}


@pytest.mark.parametrize("rule", [
    "FREQ=DAILY;COUNT=10",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=WEEKLY;COUNT=8;BYDAY=MO",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR;WKST=SU",
    "FREQ=MONTHLY;COUNT=6;BYMONTHDAY=2",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1",
    "FREQ=YEARLY;BYMONTHDAY=2;BYMONTH=3",
    "FREQ=YEARLY;BYDAY=2MO;BYMONTH=3",
    "FREQ=WEEKLY;UNTIL=20260427T070000Z;BYDAY=MO",  # the last occurrence, 09:00 CEST
])
def test_rrule_round_trips_through_a_graph_pattern(rule: str) -> None:
    recurrence = from_rrule(rule, BERLIN_START, "u@test", "W. Europe Standard Time")
    assert recurrence["range"]["recurrenceTimeZone"] == "W. Europe Standard Time"
    assert to_rrule(recurrence, BERLIN_START, "u@test") == rule


@pytest.mark.parametrize("rule", ["FREQ=HOURLY;COUNT=3", "FREQ=MONTHLY;BYMONTHDAY=1,15",
                                  "FREQ=DAILY;BYHOUR=9,17", "FREQ=MONTHLY;BYDAY=5MO"])
def test_rrule_graph_cannot_express_is_malformed(rule: str) -> None:
    with pytest.raises(MalformedItem) as err:
        from_rrule(rule, BERLIN_START, "u@test", "UTC")
    assert "u@test" in err.value.message


def test_zones_keep_their_meaning() -> None:
    assert mapping.graph_zone("Europe/Berlin") == "W. Europe Standard Time"
    # Copenhagen's Windows zone reads back as Paris: written under its IANA name instead
    assert mapping.graph_zone("Europe/Copenhagen") == "Europe/Copenhagen"
    assert mapping.graph_zone(None) == "UTC"
    value = mapping.read_time({"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"}, False,
                              "Romance Standard Time")
    assert value == {"utc": "2026-03-02T09:00:00Z", "tz": "Europe/Paris"}
    assert mapping.write_time({"utc": "2026-07-02T08:00:00Z", "tz": "Europe/Copenhagen"}) == {
        "dateTime": "2026-07-02T10:00:00", "timeZone": "Europe/Copenhagen"}


def test_all_day_stays_dates() -> None:
    assert mapping.write_time({"date": "2026-03-05"}) == {"dateTime": "2026-03-05T00:00:00", "timeZone": "UTC"}
    got = mapping.read_time({"dateTime": "2026-03-05T00:00:00.0000000", "timeZone": "Tokyo Standard Time"},
                            True, "Tokyo Standard Time")
    assert got == {"date": "2026-03-05"}


def test_attendees_go_into_the_body_and_come_back() -> None:
    attendees = [{"email": "bob@example.org", "name": "Bob Builder", "role": "REQ-PARTICIPANT",
                  "partstat": "ACCEPTED"},
                 {"email": "carol@example.org", "role": "OPT-PARTICIPANT", "partstat": "TENTATIVE"}]
    body = mapping.write_body({"summary": "Budget", "description": "Agenda\n- one",
                               "start": {"utc": "2026-04-14T12:00:00Z"}, "end": {"utc": "2026-04-14T13:00:00Z"},
                               "attendees": attendees})
    assert "attendees" not in body  # never: Graph would invite them
    text = body["body"]["content"]
    assert text.startswith("Agenda\n- one\n\n" + mapping.ATTENDEE_MARKER)
    assert mapping.split_body(text) == ("Agenda\n- one", attendees)
    # edited beyond recognition: kept as text, no attendees invented
    assert mapping.split_body(text + "\nrandom words")[1] is None


def test_html_body_from_outlook_is_read_as_text() -> None:
    fields = mapping.read_fields({"subject": " Review ", "body": {"contentType": "html",
                                  "content": "<html><body><p>Line 1</p><p>Caf&eacute; &amp; more</p></body></html>"},
                                  "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"},
                                  "end": {"dateTime": "2026-03-02T10:00:00", "timeZone": "UTC"},
                                  "showAs": "free", "sensitivity": "private", "importance": "high"}, {})
    assert fields["summary"] == "Review" and fields["description"] == "Line 1\nCafé & more"
    assert fields["transparency"] == "TRANSPARENT" and fields["privacy"] == "PRIVATE"
    assert fields["importance"] == "high"
