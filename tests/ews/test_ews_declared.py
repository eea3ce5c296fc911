"""Issue 9 on the Exchange path: what a source says that Exchange cannot give back is declared
per item (the write result's notes, stored as the item's projections), never lost or changed
silently. Through the EWS emulator with unmodified exchangelib; the reference reader
(``recurring-ical-events``) says what the items mean."""

from __future__ import annotations

from typing import Any

from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_item

from .occurrences import occurrences, text_occurrences, write_and_read


def _ics(*events: list[str]) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN"]
    for event in events:
        lines += ["BEGIN:VEVENT", "DTSTAMP:20260101T000000Z", *event, "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


def _noted(notes: tuple[str, ...], *words: str) -> bool:
    return any(all(w in n for w in words) for n in notes)


def test_regression_rule_in_another_calendar_scale_is_written_declared(conn: Any, emu: Any) -> None:
    """Old code: an RRULE Exchange can neither express nor expand (RSCALE=CHINESE, a part no
    reader knows) failed its create on every run and the item never reached Exchange (lost on
    the path). Now its first event is written, declared, and the hub's rule comes back."""
    for n, rule in enumerate(("RSCALE=CHINESE;FREQ=YEARLY", "FREQ=WEEKLY;BYDAY=TH;UNTL=20191023")):
        hub = parse_item(_ics([f"UID:scale{n}@test", "SUMMARY:New year", "DTSTART;VALUE=DATE:20130210",
                               "DTEND;VALUE=DATE:20130211", f"RRULE:{rule}"]))
        result, seen, held = write_and_read(conn, hub, hub_item_id=f"h-{n}")
        assert _noted(result.notes, "first event alone"), result.notes
        assert "rrule" not in held.fields and held.fields["start"] == {"date": "2013-02-10"}
        assert seen.fields["rrule"] == hub.fields["rrule"]
        assert fingerprint(seen, conn.ignore) == fingerprint(hub, conn.ignore)
    assert emu.meeting_messages == []


def test_regression_superseded_copies_of_one_uid_are_declared(conn: Any) -> None:
    """Old code: a file holding a series twice (SEQUENCE 1 and 2, as Google exports an edited
    series) wrote the newest version and said nothing of the other: one copy was lost on the
    EWS path. Now the older copies are declared (one Exchange item holds one version), and the
    occurrences are the ones every reader shows: the newest's."""
    text = _ics(["UID:twice@test", "SEQUENCE:1", "SUMMARY:old", "DTSTART;VALUE=DATE:20240701",
                 "DTEND;VALUE=DATE:20240702", "RRULE:FREQ=WEEKLY;COUNT=3"],
                ["UID:twice@test", "SEQUENCE:2", "SUMMARY:new", "DTSTART;VALUE=DATE:20240701",
                 "DTEND;VALUE=DATE:20240702", "RRULE:FREQ=WEEKLY;COUNT=3", "EXDATE;VALUE=DATE:20240708"])
    hub = parse_item(text)
    result, seen, _ = write_and_read(conn, hub)
    assert _noted(result.notes, "VEVENT", "not written", "SEQUENCE"), result.notes
    assert occurrences(seen) == text_occurrences(text)


def test_regression_several_rrules_are_written_as_their_occurrences(conn: Any, emu: Any) -> None:
    """Old code: a VEVENT with two RRULEs was written with the first alone and no word about
    the second's occurrences (22 occurrences became 20 through Exchange). Now Exchange holds
    every occurrence (a daily series, a change of form only), the hub's rules come back; a
    second rule given twice is one rule; rules one daily series cannot hold (no end) keep the
    first, the others declared."""
    text = _ics(["UID:rules@test", "SUMMARY:twice", "DTSTART;TZID=Europe/London:20230112T100000",
                 "DTEND;TZID=Europe/London:20230112T120000", "RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=20",
                 "RRULE:FREQ=MONTHLY;BYDAY=2MO;COUNT=2"])
    hub = parse_item(text)
    result, seen, held = write_and_read(conn, hub)
    assert fingerprint(seen, conn.ignore) == fingerprint(hub, conn.ignore)
    if not hub.fields.get("more_rrules"):  # a reader that keeps the first rule alone
        assert _noted(result.notes, "RRULE", "2 rules", "one pattern"), result.notes
        return
    assert result.notes == (), result.notes
    assert occurrences(held) == text_occurrences(text) and len(text_occurrences(text)) == 22
    same = parse_item(_ics(["UID:same@test", "SUMMARY:twice", "DTSTART:20230112T100000Z",
                            "DTEND:20230112T110000Z", "RRULE:FREQ=WEEKLY;COUNT=3", "RRULE:FREQ=WEEKLY;COUNT=3"]))
    result, _, _ = write_and_read(conn, same, hub_item_id="hub-2")
    assert result.notes == (), "one rule given twice is one rule"
    endless = parse_item(_ics(["UID:endless@test", "SUMMARY:x", "DTSTART:20230112T100000Z",
                               "DTEND:20230112T110000Z", "RRULE:FREQ=WEEKLY", "RRULE:FREQ=MONTHLY;BYDAY=2MO;COUNT=2"]))
    result, _, held = write_and_read(conn, endless, hub_item_id="hub-3")
    assert _noted(result.notes, "RRULE: 1 further rules not written", "no end"), result.notes
    assert held.fields["rrule"].startswith("FREQ=WEEKLY;")
    assert emu.meeting_messages == []


def test_regression_what_the_source_says_beyond_the_fields_is_declared(conn: Any) -> None:
    """Old code: a zero-length all-day event came back a day long, a summary lost its trailing
    space, an RDATE period its own length, and defaults, empty texts and parameters vanished —
    all silently. Each is now declared on the item."""
    hub = parse_item(_ics(["UID:said@test", "SUMMARY;LANGUAGE=de:Feiertag ", "LOCATION:",
                           "CLASS:PUBLIC", "STATUS:CONFIRMED", "TRANSP:OPAQUE", "PRIORITY:5",
                           "CATEGORIES:b,a", "CATEGORIES:", "DTSTART;VALUE=DATE:20220101", "DTEND;VALUE=DATE:20220101"]))
    result, seen, _ = write_and_read(conn, hub)
    assert not _noted(result.notes, "CLASS") and not _noted(result.notes, "TRANSP"), "RFC defaults"
    if hub.fields["summary"] == "Feiertag ":  # the fields hold it as written: it comes back
        assert seen.fields["summary"] == "Feiertag " and not _noted(result.notes, "white space")
    else:
        assert _noted(result.notes, "white space", "SUMMARY"), result.notes
    for words in (("one day",), ("empty LOCATION",),
                  ("STATUS:CONFIRMED",), ("PRIORITY:5",),
                  ("SUMMARY parameters", "LANGUAGE"), ("CATEGORIES", "sorted")):
        assert _noted(result.notes, *words), (words, result.notes)
    assert seen.fields["end"] == hub.fields["end"]  # as the hub holds it (one day or none)
    empty = parse_item(_ics(["UID:nocat@test", "SUMMARY:x", "CATEGORIES:", "DTSTART:20240912T120000Z"]))
    result, _, _ = write_and_read(conn, empty, hub_item_id="hub-3")
    assert _noted(result.notes, "empty CATEGORIES"), result.notes
    text = _ics(["UID:period@test", "SUMMARY:p", "DTSTART:20240912T120000Z", "DTEND:20240912T130000Z",
                 "RDATE;VALUE=PERIOD:20240913T120000Z/PT2H"])
    period = parse_item(text)
    result, _, held = write_and_read(conn, period, hub_item_id="hub-2")
    if period.overrides:  # the fields hold the period's length: Exchange holds it too
        assert result.notes == () and occurrences(held) == text_occurrences(text)
    else:
        assert _noted(result.notes, "RDATE periods", "own length"), result.notes


def test_regression_a_period_of_dates_the_fields_hold_is_not_declared(conn: Any) -> None:
    """An RDATE PERIOD of dates on a timed series (``19970301/19970302``: icalendar reads
    floating midnights) is an override from midnight to midnight of the series' zone in the
    fields, which Exchange holds; the source notes looked it up by its date and declared
    "each occurrence lasts as long as the series" although its day came back."""
    text = _ics(["UID:dates@test", "SUMMARY:d", "DTSTART:19970101T180000Z",
                 "DTEND:19970101T190000Z", "RDATE;VALUE=PERIOD:19970301/19970302"])
    item = parse_item(text)
    assert item.overrides, "the fields hold the period's day"
    result, _, held = write_and_read(conn, item, hub_item_id="hub-dates")
    assert not _noted(result.notes, "RDATE periods"), result.notes
    assert occurrences(held) == text_occurrences(text)


def test_regression_an_rdate_exchange_cannot_hold_comes_back_with_its_period(conn: Any) -> None:
    """An RDATE on the day of another occurrence (Exchange holds one per day) is not written,
    declared, and comes back from the sidecar; its PERIOD's own length (an override of that
    occurrence in the fields) was left in the projection, so the sidecar did not keep it and
    the copy came back with the series' length ("86400s became 0s", issue_1633)."""
    text = _ics(["UID:sameday@test", "DTSTART:19970101T180000Z",
                 "RDATE;VALUE=PERIOD:19970101/19970102"])
    item = parse_item(text)
    result, seen, _ = write_and_read(conn, item, hub_item_id="hub-sameday")
    assert _noted(result.notes, "RDATE", "two occurrences on one day"), result.notes
    assert seen.overrides == item.overrides
    assert occurrences(seen) == text_occurrences(text)


def test_an_item_the_fields_hold_whole_declares_nothing(conn: Any) -> None:
    """The declarations come from what the source says beyond the fields, never by default."""
    hub = parse_item(_ics(["UID:plain@test", "SUMMARY:Plain", "DTSTART:20260105T090000Z",
                           "DTEND:20260105T100000Z", "RRULE:FREQ=WEEKLY;COUNT=4", "PRIORITY:1",
                           "CATEGORIES:a,b", "TRANSP:TRANSPARENT", "CLASS:PUBLIC", "PRIORITY:0"]))
    result, seen, _ = write_and_read(conn, hub)
    assert result.notes == ()
    assert fingerprint(seen, conn.ignore) == fingerprint(hub, conn.ignore)


def test_regression_posix_prefixed_zone_is_the_zone_it_names(conn: Any, emu: Any) -> None:
    """Old code: ``TZID=posix/Europe/Vaduz`` (tzdata's posix/ copy of Europe/Vaduz, as some
    programs write it) had no Windows zone: a single event lost its zone (declared, in UTC) and
    a series was refused. Now it is Europe/Vaduz: written in W. Europe Standard Time, the
    same occurrences across the DST change, read back in the zone the hub wrote."""
    hub = parse_item(_ics(["UID:vaduz@test", "SUMMARY:Weekly", "DTSTART;TZID=posix/Europe/Vaduz:20261019T100000",
                           "DTEND;TZID=posix/Europe/Vaduz:20261019T110000", "RRULE:FREQ=WEEKLY;COUNT=4"]))
    result, seen, held = write_and_read(conn, hub)
    assert result.notes == ()
    [stored] = emu.user.items(emu.state.folder_by_path("/Calendars/Team").id)
    assert emu.state.items[stored["id"]].tz_id == "W. Europe Standard Time"
    assert occurrences(held) == occurrences(hub) == occurrences(seen)
    assert seen.fields["start"]["tz"] == hub.fields["start"]["tz"]


def test_regression_long_series_is_not_cut_to_the_daily_series_slots(conn: Any) -> None:
    """Old code: a daily series of ~600 occurrences with one RDATE (itself excluded by an
    EXDATE, as rie.rdate2 has it) was written as an explicit daily series of its first 200
    occurrences, declared as if nothing were lost: Outlook showed 200 of 595. Now an RDATE
    an EXDATE excludes adds nothing (the pattern is written as it is, identical), and a series
    whose occurrences do not fit the explicit series keeps its pattern."""
    text = _ics(["UID:long@test", "SUMMARY:Daily", "DTSTART:20140803T190000Z", "DTEND:20140803T210000Z",
                 "RDATE:20150705T190000Z", "EXDATE:20150705T190000Z", "RRULE:FREQ=DAILY;UNTIL=20160320T030000Z"])
    hub = parse_item(text)
    result, seen, held = write_and_read(conn, hub)
    assert result.notes == (), result.notes
    assert len(text_occurrences(text, 1000)) == len(occurrences(held, 1000)) == 594
    assert occurrences(seen, 1000) == text_occurrences(text, 1000)
    more = parse_item(text.replace("RDATE:20150705T190000Z", "RDATE:20150705T200000Z").replace("UID:long", "UID:long2"))
    result, _, held = write_and_read(conn, more, hub_item_id="hub-2")
    assert len(occurrences(held, 1000)) >= 593, result.notes
    assert any("RDATE" in n and "not written" in n for n in result.notes), result.notes


def test_regression_summary_as_written_comes_back_from_exchange(conn: Any) -> None:
    """A hub summary with spaces at its ends ("Germany: German Unity Day ", as some exports
    write it): Exchange is given it trimmed (what Outlook shows either way, and what a trimming
    server keeps), the hub's text comes back from the sidecar; old code read it back trimmed,
    a change of every such occurrence's summary on the EWS path."""
    from cirahub.core.item import Item

    hub = Item("spaces@test", {"summary": " Unity Day ", "start": {"date": "2017-10-03"},
                               "end": {"date": "2017-10-04"}})
    result, seen, held = write_and_read(conn, hub)
    assert result.notes == ()
    assert held.fields["summary"] == "Unity Day" and seen.fields["summary"] == " Unity Day "
    assert fingerprint(seen, conn.ignore) == fingerprint(hub, conn.ignore)
