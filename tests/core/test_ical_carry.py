"""What the parser carries that it once refused or misread (issue 9, iCalendar paths): how
the model reads it must be what the reference reader (recurring-ical-events) shows."""

from __future__ import annotations

from cirahub.core.ical import parse_calendar, parse_item, to_ics

WR = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
      "X-WR-TIMEZONE:Europe/Brussels\r\n"
      "BEGIN:VEVENT\r\nUID:wr\r\nDTSTAMP:20210911T014015Z\r\n"
      "DTSTART:{start}\r\nDTEND:{end}\r\nRRULE:FREQ=WEEKLY;COUNT=30\r\nSUMMARY:s\r\n"
      "END:VEVENT\r\nEND:VCALENDAR\r\n")


def test_regression_x_wr_timezone_gives_floating_times_its_zone() -> None:
    """Floating times in a calendar with X-WR-TIMEZONE are wall clock of that zone (they
    were read as floating: an EWS copy moved by the reader's offset)."""
    item = parse_item(WR.format(start="20210916T210000", end="20210916T224500"))
    assert item.get("start") == {"utc": "2021-09-16T19:00:00Z", "tz": "Europe/Brussels"}
    assert item.get("end") == {"utc": "2021-09-16T20:45:00Z", "tz": "Europe/Brussels"}


def test_regression_x_wr_timezone_makes_a_utc_series_recur_in_that_zone() -> None:
    """A UTC DTSTART with X-WR-TIMEZONE keeps its instant but recurs on the zone's wall
    clock (after the DST change the UTC time moves, as the reference shows it)."""
    item = parse_item(WR.format(start="20210916T190000Z", end="20210916T204500Z"))
    assert item.get("start") == {"utc": "2021-09-16T19:00:00Z", "tz": "Europe/Brussels"}
    text = WR.format(start="20210916T190000Z", end="20210916T204500Z")
    assert to_ics(item) == text  # the source is written as it was


def test_regression_date_start_with_date_time_end_is_midnight_in_its_zone() -> None:
    text = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:mix\r\nDTSTART;VALUE=DATE:20230724\r\n"
            "DTEND:20230817T000000Z\r\nSUMMARY:Conges\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    item = parse_item(text)
    assert item.get("start") == {"utc": "2023-07-24T00:00:00Z"}
    assert item.get("end") == {"utc": "2023-08-17T00:00:00Z"}
    assert to_ics(item) == text


def test_regression_empty_rrule_repeats_nothing() -> None:
    text = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:h\r\nDTSTART:20190101\r\n"
            "DTEND:20190101\r\nRRULE:\r\nSUMMARY:New Year\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    item = parse_item(text)
    assert item.get("rrule") is None and item.get("start") == {"date": "2019-01-01"}


def test_regression_components_that_are_not_events_are_items() -> None:
    """VFREEBUSY / VAVAILABILITY / custom components are items of their kind (the whole
    component, with its AVAILABLE children, in the source); one without UID beside events
    stays in their text."""
    bare = ("BEGIN:VAVAILABILITY\r\nUID:a\r\nDTSTAMP:20111005T133225Z\r\nBEGIN:AVAILABLE\r\n"
            "UID:b\r\nDTSTART:20111002T090000Z\r\nDTEND:20111002T170000Z\r\nEND:AVAILABLE\r\n"
            "END:VAVAILABILITY\r\n")
    item = parse_item(bare)
    assert (item.uid, item.get("component")) == ("a", "VAVAILABILITY")
    assert to_ics(item) == bare
    mixed = ("BEGIN:VCALENDAR\r\nBEGIN:VFREEBUSY\r\nUID:fb\r\nFREEBUSY:19970101/19970102\r\n"
             "END:VFREEBUSY\r\nBEGIN:VEVENT\r\nUID:e\r\nDTSTART:20240101T100000Z\r\n"
             "END:VEVENT\r\nBEGIN:X-THING\r\nX-A:1\r\nEND:X-THING\r\nEND:VCALENDAR\r\n")
    items = parse_calendar(mixed)
    assert [(i.uid, i.get("component")) for i in items] == [("fb", "VFREEBUSY"), ("e", None)]
    alone = "BEGIN:MYCOMP\r\nEND:MYCOMP\r\n"
    item = parse_item(alone, fallback_uid="cirahub-x")
    assert (item.uid, item.get("component")) == ("cirahub-x", "MYCOMP")
    assert "UID:cirahub-x" in to_ics(item)  # written with the UID it was given
