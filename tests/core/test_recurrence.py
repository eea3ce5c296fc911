"""RANGE=THISANDFUTURE: carried through the iCalendar writer, and expanded for spokes that
cannot carry it — both giving exactly the reference reader's occurrences."""

from __future__ import annotations

from occurrences import occurrences

from cirahub.core.ical import parse_item, to_ics
from cirahub.core.recurrence import expand_this_and_future, series_starts

WEEKLY_MOVED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//t//EN
BEGIN:VEVENT
UID:taf@example.com
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Berlin:20260105T100000
DTEND;TZID=Europe/Berlin:20260105T110000
RRULE:FREQ=WEEKLY;COUNT=200
EXDATE;TZID=Europe/Berlin:20260302T100000
SUMMARY:Weekly
END:VEVENT
BEGIN:VEVENT
UID:taf@example.com
DTSTAMP:20260101T000000Z
RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260209T100000
DTSTART;TZID=Europe/Berlin:20260209T140000
DTEND;TZID=Europe/Berlin:20260209T153000
SUMMARY:Weekly (afternoons)
END:VEVENT
BEGIN:VEVENT
UID:taf@example.com
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20260316T100000
DTSTART;TZID=Europe/Berlin:20260317T090000
DTEND;TZID=Europe/Berlin:20260317T100000
SUMMARY:Moved once
END:VEVENT
END:VCALENDAR
"""


def test_regression_thisandfuture_is_carried_by_the_ical_writer() -> None:
    item = parse_item(WEEKLY_MOVED)
    assert item.overrides["20260209T090000Z"]["range"] == "THISANDFUTURE"
    written = to_ics(item)
    assert "RANGE=THISANDFUTURE" in written
    assert parse_item(written) == item
    assert occurrences(written) == occurrences(WEEKLY_MOVED)


def test_regression_thisandfuture_expanded_gives_the_reference_occurrences() -> None:
    item = parse_item(WEEKLY_MOVED)
    expansion = expand_this_and_future(item)
    assert expansion.complete
    assert all("range" not in ov for ov in expansion.item.overrides.values())
    # 200 weekly minus 5 before the shift, minus the EXDATE... and the two own overrides
    assert len(expansion.expanded) == 200 - 5 - 1 - 1 - 1
    plain = to_ics(expansion.item)
    assert "RANGE" not in plain
    reference = occurrences(WEEKLY_MOVED)
    assert occurrences(plain) == reference
    # the shift crosses the DST change at the same wall-clock time (14:00 Berlin)
    summer = [o for o in reference if o[0].startswith("2026-06-01")]
    assert summer and summer[0][0] == "2026-06-01T12:00:00+00:00"


def test_open_ended_series_is_expanded_up_to_the_limit_and_says_so() -> None:
    text = WEEKLY_MOVED.replace("COUNT=200", "INTERVAL=1")
    expansion = expand_this_and_future(parse_item(text), limit=50)
    assert not expansion.complete and len(expansion.expanded) <= 50


def test_series_starts_follow_dtstart_rrule_rdate_exdate() -> None:
    item = parse_item(WEEKLY_MOVED)
    keys = [k for k, _ in series_starts(item.fields)]
    assert len(keys) == 199 and "20260302T090000Z" not in keys
    assert keys[0] == "20260105T090000Z"


def test_regression_window_reaches_the_occurrences_a_thisandfuture_override_moved() -> None:
    from datetime import UTC, datetime

    from cirahub.core.filters import in_window
    from cirahub.core.options import SyncOptions

    # THISANDFUTURE gives the later occurrences a week-long duration: the last one (from
    # 2029-10-29) now ends in November, after the series' own last end
    text = WEEKLY_MOVED.replace("DTEND;TZID=Europe/Berlin:20260209T153000",
                                "DTEND;TZID=Europe/Berlin:20260216T153000")
    item = parse_item(text)
    last_end = max(o[0] for o in occurrences(text))
    assert last_end.startswith("2029-10")
    options = SyncOptions(days_back=0, days_ahead=1)
    now = datetime(2029, 11, 2, tzinfo=UTC)  # after the unmoved last end, before the moved
    assert in_window(item, options, now)
    assert not in_window(item, options, datetime(2029, 12, 1, tzinfo=UTC))
