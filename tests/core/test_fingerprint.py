"""Fingerprints of parsed iCalendar compare meaning: what servers and clients rewrite without
changing the event must not change the fingerprint; what changes the event must."""

from __future__ import annotations

import random
from datetime import date
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from ical_samples import APPLE_WITH_ALARMS, GOOGLE_EXPORT, OUTLOOK_WEEKLY
from icalendar import Calendar

from cirahub.core.fingerprint import fingerprint, match_key
from cirahub.core.ical import parse_calendar, parse_item, to_ics


def fp(text: str) -> str:
    return fingerprint(parse_item(text))


def _event_lines(text: str) -> tuple[list[str], list[str], list[str]]:
    """Split an unfolded single-VEVENT text into (head, the VEVENT's own property lines, tail)."""
    lines = text.replace("\r\n ", "").replace("\n ", "").splitlines()
    begin = lines.index("BEGIN:VEVENT") + 1
    end = next(i for i in range(begin, len(lines)) if lines[i].startswith("BEGIN:VALARM"))
    return lines[:begin], lines[begin:end], lines[end:]


def _fold(text: str, width: int) -> str:
    out = []
    for line in text.splitlines():
        while len(line) > width:
            out.append(line[:width])
            line = " " + line[width:]
        out.append(line)
    return "\r\n".join(out) + "\r\n"


APPLE_FP = fp(APPLE_WITH_ALARMS)


def test_volatile_properties_do_not_count() -> None:
    changed = (
        APPLE_WITH_ALARMS.replace("DTSTAMP:20260201T150500Z", "DTSTAMP:20270101T000000Z")
        .replace("SEQUENCE:1", "SEQUENCE:17")
        .replace("CREATED:20260201T150000Z", "CREATED:20200101T000000Z")
        .replace("LAST-MODIFIED:20260201T150500Z", "LAST-MODIFIED:20260301T000000Z")
    )
    assert changed != APPLE_WITH_ALARMS
    assert fp(changed) == APPLE_FP


def test_unmodelled_properties_count_only_where_the_source_travels() -> None:
    """An X- property, an attendee's RSVP: an edit for a spoke that carries the iCalendar
    text (the ``verbatim`` digest), nothing for one that does not (EWS: it is ignored)."""
    x_edit = APPLE_WITH_ALARMS.replace("X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC",
                                       "X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:DISABLED")
    assert x_edit != APPLE_WITH_ALARMS
    assert fp(x_edit) != APPLE_FP
    assert fingerprint(parse_item(x_edit), ignore={"verbatim"}) == fingerprint(
        parse_item(APPLE_WITH_ALARMS), ignore={"verbatim"})
    # what a server changes without an edit: parameter order and case, folding, VALUE
    reordered = _fold(x_edit.replace("X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:DISABLED",
                                     "x-apple-travel-advisory-behavior;VALUE=TEXT:DISABLED"), 20)
    assert fp(reordered) == fp(x_edit)


def test_server_added_stamp_and_last_modified_do_not_count() -> None:
    bare = APPLE_WITH_ALARMS.replace("LAST-MODIFIED:20260201T150500Z\n", "").replace(
        "DTSTAMP:20260201T150500Z\n", ""
    )
    assert "LAST-MODIFIED" not in bare
    assert fp(bare) == APPLE_FP


def test_property_order_folding_and_line_ends_do_not_count() -> None:
    head, props, tail = _event_lines(APPLE_WITH_ALARMS)
    rng = random.Random(7)
    for width in (75, 40, 11):
        rng.shuffle(props)
        text = "\n".join(head + props + tail)
        assert fp(_fold(text, width)) == APPLE_FP  # CRLF and folded
        assert fp(text + "\n") == APPLE_FP  # LF, unfolded


def test_windows_tzid_equals_iana_tzid_for_the_same_instant() -> None:
    iana = OUTLOOK_WEEKLY.replace('TZID="W. Europe Standard Time"', "TZID=Europe/Berlin")
    assert "W. Europe Standard Time:" not in iana
    assert fp(iana) == fp(OUTLOOK_WEEKLY)  # a recurring item: the zone counts, and is the same


def test_a_single_event_in_another_zone_at_the_same_instant_is_the_same() -> None:
    berlin = APPLE_WITH_ALARMS.replace("TZID=America/New_York:20260402T090000",
                                       "TZID=Europe/Berlin:20260402T150000").replace(
        "TZID=America/New_York:20260402T100000", "TZID=Europe/Berlin:20260402T160000")
    assert parse_item(berlin).get("start")["tz"] == "Europe/Berlin"
    assert fp(berlin) == APPLE_FP


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("SUMMARY:Dentist", "SUMMARY:Dentist!"),
        ("DTSTART;TZID=America/New_York:20260402T090000",
         "DTSTART;TZID=America/New_York:20260402T090100"),
        ("CLASS:PRIVATE", "CLASS:PUBLIC"),
        ("CATEGORIES:Health,Personal", "CATEGORIES:Health"),
        ("TRIGGER:-PT1H", "TRIGGER:-PT2H"),
    ],
)
def test_meaningful_changes_change_the_fingerprint(old: str, new: str) -> None:
    assert old in APPLE_WITH_ALARMS
    assert fp(APPLE_WITH_ALARMS.replace(old, new)) != APPLE_FP


def test_series_changes_change_the_fingerprint() -> None:
    base = fp(OUTLOOK_WEEKLY)
    no_exdate = "\n".join(
        line for line in OUTLOOK_WEEKLY.splitlines() if not line.startswith("EXDATE")
    )
    assert fp(no_exdate) != base
    assert fp(OUTLOOK_WEEKLY.replace("(moved)", "(moved again)")) != base
    assert fp(OUTLOOK_WEEKLY.replace("UNTIL=20260427T080000Z", "UNTIL=20260504T080000Z")) != base


@pytest.mark.parametrize("sample", [OUTLOOK_WEEKLY, GOOGLE_EXPORT, APPLE_WITH_ALARMS])
def test_rewriting_through_to_ics_keeps_fingerprint_and_match_key(sample: str) -> None:
    for item in parse_calendar(sample):
        again = parse_item(to_ics(item))
        assert fingerprint(again) == fingerprint(item)
        assert match_key(again) == match_key(item)


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "America/Los_Angeles", "UTC"])
def test_all_day_stays_a_date_in_any_zone(zone: str) -> None:
    text = (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n"
        f"X-WR-TIMEZONE:{zone}\nBEGIN:VEVENT\nUID:day\nDTSTAMP:20260101T000000Z\n"
        "DTSTART;VALUE=DATE:20260301\nDTEND;VALUE=DATE:20260302\nSUMMARY:Holiday\n"
        "END:VEVENT\nEND:VCALENDAR\n"
    )
    item = parse_item(text)
    assert item.get("start") == {"date": "2026-03-01"}
    assert item.get("end") == {"date": "2026-03-02"}
    written = to_ics(item)
    assert "DTSTART;VALUE=DATE:20260301" in written and "VTIMEZONE" not in written
    assert fingerprint(parse_item(written)) == fingerprint(item)


WEEKLY_BERLIN = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//t//EN
BEGIN:VEVENT
UID:weekly-10am
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260316T100000
DTEND;TZID=Europe/Berlin:20260316T103000
RRULE:FREQ=WEEKLY;COUNT=4
SUMMARY:Standup
END:VEVENT
END:VCALENDAR
"""


def test_weekly_series_keeps_local_time_across_dst() -> None:
    item = parse_item(WEEKLY_BERLIN)
    # 16 and 23 March are CET (09:00Z), 30 March and 6 April CEST (08:00Z); DST began 29 March
    calendar = Calendar.from_ical(to_ics(item))
    starts = [e.start for e in recurring_ical_events.of(calendar).between(
        date(2026, 3, 1), date(2026, 5, 1))]
    assert [s.astimezone(ZoneInfo("Europe/Berlin")).hour for s in starts] == [10, 10, 10, 10]
    assert [s.astimezone(ZoneInfo("UTC")).hour for s in starts] == [9, 9, 8, 8]


def test_same_first_instant_in_utc_is_a_different_series() -> None:
    in_utc = WEEKLY_BERLIN.replace(
        "DTSTART;TZID=Europe/Berlin:20260316T100000", "DTSTART:20260316T090000Z"
    ).replace("DTEND;TZID=Europe/Berlin:20260316T103000", "DTEND:20260316T093000Z")
    berlin, utc = parse_item(WEEKLY_BERLIN), parse_item(in_utc)
    assert berlin.get("start")["utc"] == utc.get("start")["utc"]  # same first occurrence
    assert fingerprint(berlin) != fingerprint(utc)  # but later ones differ (08:00Z vs 09:00Z)
    # without the RRULE the two are the same single event
    single = [WEEKLY_BERLIN.replace("RRULE:FREQ=WEEKLY;COUNT=4\n", ""),
              in_utc.replace("RRULE:FREQ=WEEKLY;COUNT=4\n", "")]
    assert fp(single[0]) == fp(single[1])
