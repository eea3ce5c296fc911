"""iCalendar ↔ Item: normalization of real-world texts, round trips, malformed input."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ical_samples import APPLE_WITH_ALARMS, BIRTHDAY_SERIES, GOOGLE_EXPORT, OUTLOOK_WEEKLY

from cirahub.core.errors import MalformedItem
from cirahub.core.ical import parse_calendar, parse_item, serialize_calendar, time_value, to_ics
from cirahub.core.item import Item

OUTLOOK_UID = "040000008200E00074C5B7101A82E00800000000B0D3A0C1D9A9DC01000000000000000010000000"


def event(*lines: str, uid: str = "u1@example.com", extra: str = "") -> str:
    body = "\n".join(lines)
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n"
        f"{extra}BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20260101T000000Z\n{body}\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )


# --- real-world samples ------------------------------------------------------------------------


def test_outlook_series_with_windows_zone_override_and_exdate() -> None:
    item = parse_item(OUTLOOK_WEEKLY)
    assert item.uid == OUTLOOK_UID
    fields = dict(item.fields)
    # Windows zone mapped to IANA; 10:00 CET is 09:00Z
    assert fields["start"] == {"utc": "2026-03-02T09:00:00Z", "tz": "Europe/Berlin"}
    assert fields["end"] == {"utc": "2026-03-02T10:00:00Z", "tz": "Europe/Berlin"}
    assert fields["summary"] == "Weekly status"
    assert fields["description"] == "Agenda:\n1. Status\n2. Risks"  # trailing newlines gone
    assert fields["rrule"] == "FREQ=WEEKLY;UNTIL=20260427T080000Z;BYDAY=MO;WKST=SU"
    assert fields["exdates"] == ["20260316T090000Z"]
    assert fields["organizer"] == "anna.smith@example.com"
    assert fields["attendees"] == [
        {"email": "john.doe@example.com", "name": "Doe, John", "role": "REQ-PARTICIPANT",
         "partstat": "ACCEPTED"},
        {"email": "room412@example.com", "name": "Room 4.12", "role": "NON-PARTICIPANT",
         "partstat": "NEEDS-ACTION"},
    ]
    assert fields["alarms"] == [15]
    assert fields["last_modified"] == "2026-01-10T08:35:00Z"
    # defaults (PUBLIC, OPAQUE, PRIORITY 5) and X-/SEQUENCE/CREATED/DTSTAMP are gone
    for absent in ("privacy", "transparency", "importance", "status"):
        assert absent not in fields
    # the override is keyed by the UTC instant of the occurrence it replaces
    assert dict(item.overrides) == {
        "20260309T090000Z": {
            "summary": "Weekly status (moved)",
            "start": {"utc": "2026-03-09T11:00:00Z", "tz": "Europe/Berlin"},
            "end": {"utc": "2026-03-09T12:00:00Z", "tz": "Europe/Berlin"},
        }
    }


def test_google_export_gives_one_item_per_event_and_carries_the_todo() -> None:
    lunch, offsite, todo = parse_calendar(GOOGLE_EXPORT)
    assert todo.uid == "todo-1@google.com" and todo.get("component") == "VTODO"
    assert todo.get("summary") == "not an event" and "BEGIN:VTODO" in todo.source
    assert lunch.uid == "7kukuqrfedlm2f9t0vr3pmq8ho@google.com"
    # UTC in a calendar with X-WR-TIMEZONE: that zone, as the reference reader takes it
    assert lunch.get("start") == {"utc": "2026-03-05T13:00:00Z", "tz": "Europe/Berlin"}
    assert lunch.get("location") == "Cafe Einstein, Unter den Linden 42, Berlin"
    assert lunch.get("alarms") == [30]  # the EMAIL alarm is not a reminder
    assert "status" not in lunch.fields  # CONFIRMED is the default
    assert offsite.get("start") == {"date": "2026-03-10"}
    assert offsite.get("end") == {"date": "2026-03-12"}
    assert offsite.get("transparency") == "TRANSPARENT"


def test_apple_alarms_categories_and_privacy() -> None:
    item = parse_item(APPLE_WITH_ALARMS)
    assert item.get("start") == {"utc": "2026-04-02T13:00:00Z", "tz": "America/New_York"}
    assert item.get("privacy") == "PRIVATE"
    assert item.get("categories") == ["Health", "Personal", "personal"]
    # AUDIO 1h before; absolute 13:00Z the day before = 1440 min; RELATED=END -5min of a
    # 1h event = 55 min after start; ACTION:NONE placeholder ignored
    assert item.get("alarms") == [-55, 60, 1440]


def test_all_day_series_with_date_exdate_and_override() -> None:
    item = parse_item(BIRTHDAY_SERIES)
    assert item.is_all_day and item.is_recurring
    assert item.get("rrule") == "FREQ=YEARLY;COUNT=10"
    assert item.get("exdates") == ["20220615"]
    assert list(item.overrides) == ["20240615"]
    text = to_ics(item)
    assert "DTSTART;VALUE=DATE:20200615" in text
    assert "EXDATE;VALUE=DATE:20220615" in text
    assert "RECURRENCE-ID;VALUE=DATE:20240615" in text


@pytest.mark.parametrize("sample", [OUTLOOK_WEEKLY, GOOGLE_EXPORT, APPLE_WITH_ALARMS, BIRTHDAY_SERIES])
def test_samples_survive_a_round_trip(sample: str) -> None:
    items = parse_calendar(sample)
    assert items
    for item in items:
        assert parse_item(to_ics(item)) == item
    assert parse_calendar(serialize_calendar(items)) == items


# --- normalization details ----------------------------------------------------------------------


def test_duration_and_missing_end() -> None:
    timed = parse_item(event("DTSTART;TZID=Europe/Berlin:20260301T090000", "DURATION:PT90M"))
    assert timed.get("end") == {"utc": "2026-03-01T09:30:00Z", "tz": "Europe/Berlin"}
    # a day-long DURATION keeps the wall clock across the DST change (29 March 2026)
    across = parse_item(event("DTSTART;TZID=Europe/Berlin:20260328T120000", "DURATION:P1D"))
    assert across.get("end") == {"utc": "2026-03-29T10:00:00Z", "tz": "Europe/Berlin"}
    no_end = parse_item(event("DTSTART:20260301T090000Z"))
    assert no_end.get("end") == no_end.get("start")
    day = parse_item(event("DTSTART;VALUE=DATE:20260301"))
    assert day.get("end") == {"date": "2026-03-02"}


@pytest.mark.parametrize(
    ("priority", "importance"),
    [("0", None), ("1", "high"), ("4", "high"), ("5", None), ("6", "low"), ("9", "low")],
)
def test_priority_maps_to_importance(priority: str, importance: str | None) -> None:
    item = parse_item(event("DTSTART:20260301T090000Z", f"PRIORITY:{priority}"))
    assert item.get("importance") == importance


def test_floating_and_utc_zone_spellings() -> None:
    floating = parse_item(event("DTSTART:20260301T090000"))
    assert floating.get("start") == {"floating": "2026-03-01T09:00:00"}
    assert "20260301T090000\r\n" in to_ics(floating.with_source(None))
    for spelling in ("TZID=UTC", "TZID=Etc/UTC", 'TZID="UTC"'):
        item = parse_item(event(f"DTSTART;{spelling}:20260301T090000"))
        assert item.get("start") == {"utc": "2026-03-01T09:00:00Z"}


@pytest.mark.filterwarnings("ignore::icalendar.GloballyUniqueTZIDGuessed")
def test_junk_tzid_forms_resolve() -> None:
    mozilla = parse_item(event("DTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20260301T090000"))
    assert mozilla.get("start") == {"utc": "2026-03-01T08:00:00Z", "tz": "Europe/Berlin"}


def test_unknown_tzid_without_vtimezone_is_floating_as_the_reference_reads_it() -> None:
    item = parse_item(event("DTSTART;TZID=Mars/Olympus:20260301T100000"))
    assert item.get("start") == {"floating": "2026-03-01T10:00:00"}


def test_custom_vtimezone_without_iana_name_gives_the_right_instant() -> None:
    vtimezone = (
        "BEGIN:VTIMEZONE\nTZID:Customized Time Zone\n"
        "BEGIN:STANDARD\nDTSTART:16010101T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\n"
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\nEND:STANDARD\n"
        "BEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\n"
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\nEND:DAYLIGHT\nEND:VTIMEZONE\n"
    )
    item = parse_item(event("DTSTART;TZID=Customized Time Zone:20260701T100000", extra=vtimezone))
    # its rules are the EU's: matched to an IANA zone, so the series keeps a real zone
    assert item.get("start") == {"utc": "2026-07-01T08:00:00Z", "tz": "Europe/Berlin"}


#: rules no IANA zone has: +03:30, summer time +04:30 from the 1st Sunday of May to the
#: 1st Sunday of September
ODD_VTIMEZONE = (
    "BEGIN:VTIMEZONE\nTZID:Odd Time\n"
    "BEGIN:STANDARD\nDTSTART:16010101T030000\nTZOFFSETFROM:+0430\nTZOFFSETTO:+0330\n"
    "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=9\nEND:STANDARD\n"
    "BEGIN:DAYLIGHT\nDTSTART:16010101T020000\nTZOFFSETFROM:+0330\nTZOFFSETTO:+0430\n"
    "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=5\nEND:DAYLIGHT\nEND:VTIMEZONE\n"
)


def test_unmatched_vtimezone_is_kept_and_its_rules_used_for_any_year() -> None:
    item = parse_item(event(
        "DTSTART;TZID=Odd Time:20260701T100000", "RRULE:FREQ=YEARLY",
        "EXDATE;TZID=Odd Time:21500701T100000", extra=ODD_VTIMEZONE,
    ))
    start = item.get("start")
    assert start["utc"] == "2026-07-01T05:30:00Z" and start["tz"] == "Odd Time"
    assert "BEGIN:DAYLIGHT" in start["vtimezone"]
    assert item.get("exdates") == ["21500701T053000Z"]  # summer time in 2150 too (not UTC)
    again = parse_item(to_ics(item))
    assert again == item


def test_rrule_is_canonical() -> None:
    item = parse_item(event(
        "DTSTART;TZID=Europe/Berlin:20260302T100000",
        "RRULE:WKST=MO;BYDAY=WE,+2MO;INTERVAL=1;UNTIL=20260501T100000;FREQ=monthly",
    ))
    # RFC key order, defaults dropped, BYDAY in weekday order; a local UNTIL on a zoned
    # series (not legal) is read as the reference reader reads it: as UTC
    assert item.get("rrule") == "FREQ=MONTHLY;UNTIL=20260501T100000Z;BYDAY=2MO,WE"
    all_day = parse_item(event("DTSTART;VALUE=DATE:20260302", "RRULE:FREQ=DAILY;UNTIL=20260310T000000Z"))
    assert all_day.get("rrule") == "FREQ=DAILY;UNTIL=20260310"


def test_text_normalization() -> None:
    item = parse_item(event(
        "DTSTART:20260301T090000Z",
        "SUMMARY:  Plan\\, review\\; decide  ",
        "DESCRIPTION:one\\ntwo  \\n\\n",
        "CATEGORIES:b ,a,,b",
        "CATEGORIES:c",
        "ATTENDEE:MAILTO:X@Example.COM",
        "ATTENDEE;CN=Dup:mailto:x@example.com",
        "X-CUSTOM:kept",
        "SEQUENCE:7",
        "CREATED:20250101T000000Z",
    ))
    verbatim = item.fields.get("verbatim")  # X-CUSTOM (SEQUENCE and CREATED do not count)
    assert verbatim is not None and set(verbatim) == {"props"}
    assert dict(item.fields) == {
        "verbatim": verbatim,
        "summary": "  Plan, review; decide  ",
        "description": "one\ntwo",
        "start": {"utc": "2026-03-01T09:00:00Z"},
        "end": {"utc": "2026-03-01T09:00:00Z"},
        "categories": ["a", "b", "c"],
        "attendees": [{"email": "x@example.com", "role": "REQ-PARTICIPANT",
                       "partstat": "NEEDS-ACTION"}],
    }


def test_override_without_master_is_kept() -> None:
    text = event(
        "RECURRENCE-ID;TZID=Europe/Berlin:20260309T100000",
        "DTSTART;TZID=Europe/Berlin:20260309T120000",
        "DTEND;TZID=Europe/Berlin:20260309T130000",
        "SUMMARY:only this one",
    )
    item = parse_item(text)
    assert dict(item.fields) == {}
    assert list(item.overrides) == ["20260309T090000Z"]
    assert parse_item(to_ics(item)) == item


def test_to_ics_from_fields_writes_zones_stamp_and_no_sequence() -> None:
    item = parse_item(OUTLOOK_WEEKLY).with_source(None)
    text = to_ics(item)
    assert text.startswith("BEGIN:VCALENDAR\r\n")
    assert "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin" in text
    assert "DTSTART;TZID=Europe/Berlin:20260302T100000" in text
    assert "EXDATE;TZID=Europe/Berlin:20260316T100000" in text
    assert "RECURRENCE-ID;TZID=Europe/Berlin:20260309T100000" in text
    assert "DTSTAMP:20260110T083500Z" in text  # from LAST-MODIFIED
    assert "LAST-MODIFIED:20260110T083500Z" in text
    assert "SEQUENCE" not in text and "X-MICROSOFT" not in text
    stamped = to_ics(item, dtstamp=datetime(2026, 5, 1, 12, tzinfo=UTC), prodid="-//me//EN")
    assert "DTSTAMP:20260501T120000Z" in stamped and "PRODID:-//me//EN" in stamped
    assert "DTSTAMP:19700101T000000Z" in to_ics(Item("u", {"start": {"date": "2026-01-01"},
                                                        "end": {"date": "2026-01-02"}}))
    # the same item always gives the same text
    assert to_ics(item) == text


def test_serialize_calendar_writes_each_zone_once() -> None:
    items = [parse_item(OUTLOOK_WEEKLY), parse_item(OUTLOOK_WEEKLY.replace(OUTLOOK_UID, "other"))]
    text = serialize_calendar(items)
    assert text.count("BEGIN:VTIMEZONE") == 1
    assert [i.uid for i in parse_calendar(text)] == [OUTLOOK_UID, "other"]


# --- malformed input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("this is not a calendar", "not iCalendar"),
        ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nEND:VCALENDAR\n", "unparseable"),
        ("BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n", "no VEVENT, VTODO or VJOURNAL"),
        (event("SUMMARY:no start"), "no DTSTART"),
        (event("DTSTART:2026-03-01"), "DTSTART"),
        (event("DTSTART;20260301T100000Z"), "DTSTART of 'u1@example.com' cannot be read"),
        (event("DTSTART:20260301T100000Z", "SUMMARY;LANG:x"), "SUMMARY"),
        (event("DTSTART:20260301T100000Z", "RRULE:COUNT=3"), "FREQ"),
        (event("DTSTART:20260301T100000Z") + event("DTSTART:20260301T100000Z", uid="u2"),
         "2 UIDs"),
    ],
)
def test_malformed_input_gives_a_useful_error(text: str, message: str) -> None:
    with pytest.raises(MalformedItem) as info:
        parse_item(text)
    assert message in str(info.value)
    assert info.value.code == "malformed_item"


def test_broken_unknown_lines_are_ignored() -> None:
    item = parse_item(event("DTSTART:20260301T100000Z", "X-BROKEN;oops:1", "SUMMARY:ok"))
    assert item.get("summary") == "ok"


def test_parse_calendar_can_collect_errors_instead_of_failing() -> None:
    good = event("DTSTART:20260301T100000Z", uid="good")
    bad = event("DTSTART:20260301T100000Z", "RRULE:COUNT=3", uid="bad")
    text = good.replace("END:VCALENDAR\n", "") + bad.split("PRODID:-//t//EN\n", 1)[1]
    with pytest.raises(MalformedItem):
        parse_calendar(text)
    errors: list[MalformedItem] = []
    assert [i.uid for i in parse_calendar(text, errors=errors)] == ["good"]
    assert len(errors) == 1 and "FREQ" in str(errors[0])


# --- property: parse_item(to_ics(x)) == x for normalized items ----------------------------------

ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata",
         "UTC")
_text_chars = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))
_raw_text = st.text(
    st.one_of(_text_chars, st.sampled_from([",", ";", ":", "\\", '"', "\n", " "])), max_size=40
)
single_line = _raw_text.map(lambda s: " ".join(s.split()).strip()).filter(bool)
multi_line = _raw_text.map(lambda s: s.rstrip()).filter(lambda s: bool(s.strip()))


@st.composite
def local_starts(draw: st.DrawFn) -> datetime:
    """A wall-clock start away from DST gaps and folds (06:00-20:45)."""
    day = draw(st.dates(min_value=date(2001, 1, 1), max_value=date(2036, 12, 31)))
    return datetime.combine(
        day, time(draw(st.integers(6, 20)), draw(st.sampled_from([0, 15, 30, 45])))
    )


def _value(local: datetime | date, kind: str, zone: str) -> dict[str, str]:
    if kind == "date":
        return time_value(local if not isinstance(local, datetime) else local.date(), None)
    if kind == "floating":
        return time_value(local, None)
    return time_value(local.replace(tzinfo=ZoneInfo(zone)), zone)


def _key(local: datetime | date, kind: str, zone: str) -> str:
    value = _value(local, kind, zone)
    if "date" in value:
        return value["date"].replace("-", "")
    if "floating" in value:
        return value["floating"].replace("-", "").replace(":", "")
    return value["utc"].replace("-", "").replace(":", "")


@st.composite
def items(draw: st.DrawFn) -> Item:
    kind = draw(st.sampled_from(["instant", "date", "floating"]))
    zone = draw(st.sampled_from(ZONES))
    local = draw(local_starts())
    if kind == "date":
        first: datetime | date = local.date()
        end: datetime | date = first + timedelta(days=draw(st.integers(1, 4)))
    else:
        first, end = local, local + timedelta(minutes=draw(st.integers(0, 600)))
    fields: dict[str, object] = {"start": _value(first, kind, zone), "end": _value(end, kind, zone)}
    optional = {
        "summary": single_line,
        "description": multi_line,
        "location": single_line,
        "url": st.just("https://example.com/e?id=1&x=2"),
        "status": st.sampled_from(["TENTATIVE", "CANCELLED"]),
        "transparency": st.just("TRANSPARENT"),
        "privacy": st.sampled_from(["PRIVATE", "CONFIDENTIAL"]),
        "categories": st.lists(single_line, min_size=1, max_size=4, unique=True).map(sorted),
        "importance": st.sampled_from(["high", "low"]),
        "alarms": st.lists(st.integers(-60, 20160), min_size=1, max_size=3, unique=True).map(sorted),
        "organizer": st.emails().map(str.lower).filter(lambda e: ":" not in e),
        "attendees": st.lists(
            st.fixed_dictionaries(
                {"email": st.from_regex(r"[a-z][a-z0-9.]{0,10}@[a-z]{1,8}\.(com|org)", fullmatch=True),
                 "role": st.sampled_from(["REQ-PARTICIPANT", "OPT-PARTICIPANT", "CHAIR"]),
                 "partstat": st.sampled_from(["NEEDS-ACTION", "ACCEPTED", "DECLINED"])},
                optional={"name": single_line.map(lambda s: s.rstrip("\\").strip()).filter(bool)},
            ),
            max_size=3, unique_by=lambda a: a["email"],
        ).filter(bool).map(lambda xs: sorted(xs, key=lambda a: a["email"])),
        "last_modified": st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 1, 1))
        .map(lambda d: d.replace(microsecond=0).isoformat() + "Z"),
    }
    for name in draw(st.lists(st.sampled_from(sorted(optional)), unique=True)):
        fields[name] = draw(optional[name])
    overrides: dict[str, dict[str, object]] = {}
    if draw(st.booleans()):
        step = timedelta(weeks=1)
        fields["rrule"] = draw(st.sampled_from(
            ["FREQ=WEEKLY", "FREQ=WEEKLY;COUNT=12;INTERVAL=2", "FREQ=DAILY;BYDAY=MO,TU,FR",
             "FREQ=MONTHLY;BYMONTHDAY=1,15", "UNTIL"]))
        if fields["rrule"] == "UNTIL":
            last = _key(first + 20 * step, kind, zone)
            fields["rrule"] = f"FREQ=WEEKLY;UNTIL={last}"
        offsets = draw(st.lists(st.integers(1, 20), max_size=4, unique=True))
        exdates = offsets[: len(offsets) // 2]
        if exdates:
            fields["exdates"] = sorted(_key(first + n * step, kind, zone) for n in exdates)
        if draw(st.booleans()):
            fields["rdates"] = [_key(first + timedelta(days=3), kind, zone)]
        for n in offsets[len(offsets) // 2:]:
            moved = first + n * step + timedelta(days=1)
            overrides[_key(first + n * step, kind, zone)] = {
                "summary": draw(single_line),
                "start": _value(moved, kind, zone),
                "end": _value(moved + (end - first), kind, zone),
            }
    return Item(draw(single_line.filter(lambda s: "\n" not in s)), fields, overrides)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items())
def test_parse_of_written_item_is_the_item(item: Item) -> None:
    assert parse_item(to_ics(item)) == item


@st.composite
def damaged(draw: st.DrawFn) -> str:
    """A real-world sample with lines dropped, duplicated or cut short."""
    lines = draw(st.sampled_from([OUTLOOK_WEEKLY, GOOGLE_EXPORT, APPLE_WITH_ALARMS,
                                  BIRTHDAY_SERIES])).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "cut", "junk"]))
        if action == "drop":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            lines[i] = lines[i] + draw(st.text(max_size=5))
        if not lines:
            break
    return "\n".join(lines)


@settings(max_examples=200, deadline=None)
@given(damaged())
def test_damaged_text_gives_an_item_or_malformed_item(text: str) -> None:
    try:
        items = parse_calendar(text)
    except MalformedItem as exc:
        assert str(exc)
        return
    for item in items:  # whatever was accepted is normalized: it survives a round trip
        assert parse_item(to_ics(item)) == item


def test_regression_attendee_name_ending_in_a_backslash_survives_a_round_trip() -> None:
    # icalendar writes CN=\ unquoted, and reading it back the backslash escapes the next ';'
    # (found by test_parse_of_written_item_is_the_item): the trailing backslash is dropped
    item = parse_item(event("DTSTART:20260301T100000Z",
                            'ATTENDEE;CN="Doe\\";PARTSTAT=ACCEPTED:mailto:d@example.com'))
    assert item.get("attendees")[0]["name"] == "Doe"
    assert item.get("attendees")[0]["partstat"] == "ACCEPTED"
    fresh = item.with_source(None)
    assert parse_item(to_ics(fresh)) == fresh
    hand_made = Item("u", {"start": {"utc": "2026-03-01T10:00:00Z"},
                           "end": {"utc": "2026-03-01T10:00:00Z"},
                           "attendees": [{"email": "d@example.com", "name": "Doe",
                                          "role": "REQ-PARTICIPANT", "partstat": "ACCEPTED"}]})
    assert parse_item(to_ics(hand_made)) == hand_made


def test_regression_summary_spaces_kept_as_written() -> None:
    """Readers show a SUMMARY's spaces (the reference's occurrences carry them): the model
    stripped them, so every copy written from the model (EWS, a CalDAV server that refused
    the source text) had another summary. The fingerprint still compares it stripped, so a
    spoke that trims subjects causes no rewrite."""
    from cirahub.core.fingerprint import fingerprint

    item = parse_item(event("DTSTART:20260301T090000Z", "SUMMARY: Lunch  "))
    assert item.get("summary") == " Lunch  "
    written = to_ics(item.with_source(None), dtstamp=datetime(2026, 1, 1, tzinfo=UTC))
    assert "SUMMARY: Lunch  \r\n" in written
    trimmed = Item(item.uid, {**item.fields, "summary": "Lunch"}, item.overrides)
    assert fingerprint(trimmed) == fingerprint(item)


def test_regression_all_day_dtend_equal_to_dtstart_is_zero_length() -> None:
    """``DTSTART;VALUE=DATE:20220101`` with ``DTEND;VALUE=DATE:20220101`` (icalendar's own
    example calendar): the reference expands it as a zero-length occurrence; the model made it
    cover the day, so a copy written from the model said DTEND:20220102. Without DTEND (or
    DURATION) an all-day item still covers its day."""
    same = parse_item(event("DTSTART;VALUE=DATE:20220101", "DTEND;VALUE=DATE:20220101"))
    assert same.get("end") == {"date": "2022-01-01"}
    written = to_ics(same.with_source(None), dtstamp=datetime(2026, 1, 1, tzinfo=UTC))
    assert "DTEND;VALUE=DATE:20220101\r\n" in written
    bare = parse_item(event("DTSTART;VALUE=DATE:20220101"))
    assert bare.get("end") == {"date": "2022-01-02"}


def test_regression_several_rrules_are_one_series() -> None:
    """RFC 5545 lets a series have several RRULEs (the reference expands their union); the
    model read only the first, so a copy written from the model lost every occurrence of the
    others, and the window filter (core/filters.py) placed the series by the first alone."""
    from cirahub.core.filters import in_window
    from cirahub.core.options import SyncOptions
    from cirahub.core.recurrence import series_starts

    item = parse_item(event("DTSTART:20300103T100000Z", "DTEND:20300103T110000Z",
                            "RRULE:FREQ=WEEKLY;COUNT=2", "RRULE:FREQ=YEARLY;COUNT=3"))
    assert item.get("rrule") == "FREQ=WEEKLY;COUNT=2"
    assert item.get("more_rrules") == ["FREQ=YEARLY;COUNT=3"]
    assert [k for k, _ in series_starts(item.fields)] == [
        "20300103T100000Z", "20300110T100000Z", "20310103T100000Z", "20320103T100000Z"]
    written = to_ics(item.with_source(None), dtstamp=datetime(2026, 1, 1, tzinfo=UTC))
    assert written.count("RRULE:") == 2
    assert parse_item(written).with_source(None) == item.with_source(None)
    # the last occurrence (2032) is in a window of 2031-2032, which the first rule alone ends before
    options = SyncOptions(days_back=10, days_ahead=400)
    assert in_window(item, options, datetime(2031, 6, 1, tzinfo=UTC))
