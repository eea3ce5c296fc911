"""Verbatim carry: an item written from its source text keeps every property and parameter
the model does not know; an unchanged item is its source byte for byte; a changed one is its
source patched field by field (and still parses to exactly the item)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ical_samples import GOOGLE_EXPORT, OUTLOOK_WEEKLY
from test_ical import items

from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_calendar, parse_item, to_ics
from cirahub.core.item import Item

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _decorate(text: str) -> str:
    """``text`` as another program would have written it: an X- property and SEQUENCE in
    every VEVENT, RSVP/CUTYPE on every attendee, CREATED, an unknown component."""
    text = text.replace("BEGIN:VEVENT\r\n", "BEGIN:VEVENT\r\nX-TEST-KEEP:yes\r\nSEQUENCE:2\r\n"
                        "CREATED:20250101T000000Z\r\n")
    text = re.sub(r"\r\nATTENDEE;", "\r\nATTENDEE;RSVP=TRUE;CUTYPE=INDIVIDUAL;", text)
    return text.replace("END:VCALENDAR\r\n", "BEGIN:X-THING\r\nX-A:1\r\nEND:X-THING\r\n"
                        "END:VCALENDAR\r\n")


def _modelled(item: Item) -> Item:
    """``item`` without its ``verbatim`` digests (what the model holds)."""
    return Item(item.uid, {k: v for k, v in item.fields.items() if k != "verbatim"},
                {key: {k: v for k, v in ov.items() if k != "verbatim"}
                 for key, ov in item.overrides.items()}, item.source)


def _as_hub_holds_it(target: Item, original: Item) -> Item:
    """``target`` with the verbatim digests of the text it is written from (``original``'s
    source): a hub item keeps the digest of its source, component by component."""
    def digest(fields: dict[str, Any], found: Any) -> dict[str, Any]:
        fields = {k: v for k, v in fields.items() if k != "verbatim"}
        value = (found or {}).get("verbatim")
        return {**fields, "verbatim": value} if value is not None else fields

    master = digest(dict(target.fields), original.fields or None) if target.fields else {}
    overrides = {k: digest(dict(ov), original.overrides.get(k)) for k, ov in target.overrides.items()}
    return Item(target.uid, master, overrides, target.source)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items(), items())
def test_patched_source_parses_to_the_item_and_keeps_the_rest(a: Item, b: Item) -> None:
    source = _decorate(to_ics(a))
    original = parse_item(source)
    assert _modelled(original) == a  # and the decoration is its verbatim digest
    assert all(f.get("verbatim") for f in (original.fields, *original.overrides.values()) if f)
    assert to_ics(original) == source  # unchanged: byte for byte
    target = _as_hub_holds_it(Item(original.uid, b.fields, b.overrides, source), original)
    written = to_ics(target, dtstamp=NOW)
    assert _modelled(parse_item(written)) == _modelled(target)
    written = written.replace("\r\n ", "")  # unfolded
    assert "X-TEST-KEEP:yes" in written and "BEGIN:X-THING" in written
    if b.get("attendees"):
        kept = {x["email"] for x in a.get("attendees") or ()} & {
            x["email"] for x in b.get("attendees")}
        assert ("RSVP=TRUE" in written) == bool(kept)
    assert fingerprint(parse_item(written)) == fingerprint(target)


def test_regression_copy_keeps_what_the_model_does_not_know() -> None:
    lunch = parse_calendar(GOOGLE_EXPORT)[0]
    written = to_ics(lunch)
    for kept in ("SEQUENCE:0", "STATUS:CONFIRMED", "TRANSP:OPAQUE", "CREATED:20260220T090000Z",
                 "ORGANIZER;CN=team@example.com", "RSVP=", "X-NUM-GUESTS=0", "ACTION:EMAIL",
                 "X-WR-CALNAME:Team"):
        assert kept in written, kept


def test_regression_sequence_goes_up_when_the_time_moves_and_only_then() -> None:
    item = parse_item(OUTLOOK_WEEKLY)
    renamed = to_ics(item.replace(summary="Weekly status (renamed)"), dtstamp=NOW)
    assert "SEQUENCE:3\r\n" in renamed and "X-MICROSOFT-CDO-BUSYSTATUS:BUSY" in renamed
    assert "DTSTAMP:20260601T120000Z" in renamed
    start = {"utc": "2026-03-02T10:00:00Z", "tz": "Europe/Berlin"}
    end = {"utc": "2026-03-02T11:00:00Z", "tz": "Europe/Berlin"}
    moved = to_ics(item.replace(start=start, end=end), dtstamp=NOW)
    assert "SEQUENCE:4\r\n" in moved
    assert parse_item(moved) == item.replace(start=start, end=end)


@given(st.sampled_from(["summary", "location"]))
def test_unchanged_overrides_stay_as_written(name: str) -> None:
    item = parse_item(OUTLOOK_WEEKLY)
    written = to_ics(item.replace(**{name: "changed"}), dtstamp=NOW)
    # the override VEVENT was not touched: its SEQUENCE and DTSTAMP are the source's
    assert "SEQUENCE:4\r\n" in written


_PERIOD_SERIES = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:p1\r\n"
    "DTSTAMP:20240101T000000Z\r\nDTSTART;TZID=Europe/Berlin:20240105T100000\r\n"
    "DTEND;TZID=Europe/Berlin:20240105T110000\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n"
    "RDATE;TZID=Europe/Berlin;VALUE=PERIOD:20240110T100000/20240110T130000\r\n"
    "SUMMARY:P\r\nX-KEEP:1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def test_regression_a_patched_recurrence_keeps_its_rdate_periods() -> None:
    """The patcher wrote an RDATE PERIOD of its own length as a VEVENT of that occurrence
    (without the master's X- properties) once the hub changed the recurrence, while the fresh
    writer writes it back as ``RDATE;VALUE=PERIOD``: now both do, and the patched text still
    parses to exactly the item."""
    item = parse_item(_PERIOD_SERIES)
    fields = dict(item.fields)
    fields["rdates"] = sorted([*fields["rdates"], "20240111T090000Z"])
    changed = Item(item.uid, fields, item.overrides, item.source)
    text = to_ics(changed, dtstamp=NOW)
    assert "RDATE;TZID=Europe/Berlin;VALUE=PERIOD:20240110T100000/20240110T130000" in text
    assert "RECURRENCE-ID" not in text and text.count("BEGIN:VEVENT") == 1
    back = parse_item(text)
    assert fingerprint(back) == fingerprint(changed)
    assert back.overrides == changed.overrides
