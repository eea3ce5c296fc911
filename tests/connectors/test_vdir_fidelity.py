"""Real-world fidelity through vdir folders (issue 9): what a program wrote into one folder
arrives in another with the same occurrences (``recurring-ical-events`` is the reference).

Each test copies a file the way the hub does — read by one :class:`VdirConnector`, created
through another — and compares the two files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cirahub.connectors.base import Write
from cirahub.connectors.vdir import VdirConnector
from cirahub.core.errors import CirahubError
from cirahub.core.ical import derived_uid, parse_item
from cirahub.core.item import Item

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from occurrences import occurrences

pytestmark = pytest.mark.filterwarnings("ignore::icalendar.GloballyUniqueTZIDGuessed")


def _calendar(*body: str, vtimezone: str = "") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Fidelity//EN\r\n" + vtimezone
        + "".join(body) + "END:VCALENDAR\r\n"
    )


def _weekly(tzid: str, uid: str = "weekly@example.com") -> str:
    return (
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;TZID={tzid}:20260302T100000\r\nDTEND;TZID={tzid}:20260302T110000\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=40\r\nSUMMARY:Weekly across DST\r\nEND:VEVENT\r\n"
    )


def copy_file(tmp_path: Path, text: str, name: str = "source.ics") -> tuple[Item, str]:
    """``text`` put into folder a, read there, created in folder b: (item, b's file text)."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(exist_ok=True)
    b.mkdir(exist_ok=True)
    (a / name).write_text(text, encoding="utf-8", newline="")
    source = VdirConnector(a).delta(None, {})
    assert len(source.changed) == 1 and source.changed[0].item is not None, source.changed
    item = source.changed[0].item
    made = VdirConnector(b).create(item, "hub-1")
    return item, (b / made.remote_id).read_bytes().decode("utf-8")


VENDOR_TZIDS = [
    "/mozilla.org/20070129_1/Europe/Berlin",
    "/Europe/Stockholm",
    "/freeassociation.sourceforge.net/Tzfile/Europe/London",
    "/softwarestudio.org/Olson_20011030_5/America/New_York",
    "/citadel.org/20190914_1/Europe/Paris",
    "W. Europe Standard Time",
]


@pytest.mark.parametrize("tzid", VENDOR_TZIDS)
def test_regression_series_keeps_its_zone_with_a_vendor_tzid(tmp_path: Path, tzid: str) -> None:
    text = _calendar(_weekly(tzid))
    item, written = copy_file(tmp_path, text)
    assert "tz" in item.get("start") and "vtimezone" not in item.get("start")
    assert occurrences(written) == occurrences(text)  # not an hour off after the DST change


#: Outlook's "Customized Time Zone": EU rules under a name no zone database knows
CUSTOM_EU = (
    "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\n"
    "BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)
#: rules no IANA zone has (+03:30/+04:30, May to September)
CUSTOM_ODD = (
    "BEGIN:VTIMEZONE\r\nTZID:Odd Time\r\n"
    "BEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0430\r\nTZOFFSETTO:+0330\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=9\r\nEND:STANDARD\r\n"
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0330\r\nTZOFFSETTO:+0430\r\n"
    "RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=5\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
)


def test_regression_vtimezone_matched_by_its_rules_gets_the_iana_zone(tmp_path: Path) -> None:
    text = _calendar(_weekly("Customized Time Zone"), vtimezone=CUSTOM_EU)
    item, written = copy_file(tmp_path, text)
    assert item.get("start")["tz"] == "Europe/Berlin"
    assert occurrences(written) == occurrences(text)


def test_regression_unresolvable_vtimezone_is_kept_and_expands_by_its_rules(
    tmp_path: Path,
) -> None:
    text = _calendar(_weekly("Odd Time"), vtimezone=CUSTOM_ODD)
    item, written = copy_file(tmp_path, text)
    assert item.get("start")["tz"] == "Odd Time" and "vtimezone" in item.get("start")
    assert "TZID:Odd Time" in written
    assert occurrences(written) == occurrences(text)


# --- class 5: what every calendar program shows is carried -----------------------------------


def _event(uid: str | None, *lines: str) -> str:
    head = f"UID:{uid}\r\n" if uid else ""
    return "BEGIN:VEVENT\r\n" + head + "DTSTAMP:20260101T000000Z\r\n" + "".join(
        line + "\r\n" for line in lines) + "END:VEVENT\r\n"


ODD_BUT_SHOWN = {
    "end-before-start.ics": _calendar(_event(
        "ebs@x", "DTSTART:20260310T100000Z", "DTEND:20260310T090000Z", "SUMMARY:backwards")),
    "negative-duration.ics": _calendar(_event(
        "neg@x", "DTSTART:20260311T100000Z", "DURATION:-PT30M", "SUMMARY:negative")),
    "zero-duration.ics": _calendar(_event(
        "zero@x", "DTSTART:20260312T100000Z", "DURATION:PT0S", "SUMMARY:zero")),
    "no-uid.ics": _calendar(_event(None, "DTSTART:20260313T100000Z", "SUMMARY:no uid")),
    "unknown-props.ics": _calendar(_event(
        "unk@x", "DTSTART:20260314T100000Z", "X-FOO;X-P=1:bar", "COLOR:turquoise",
        "CONFERENCE;VALUE=URI:https://meet.example.com/x", "SUMMARY:unknown props")),
    "todo.ics": _calendar("BEGIN:VTODO\r\nUID:todo@x\r\nDTSTAMP:20260101T000000Z\r\n"
                          "SUMMARY:buy milk\r\nDUE:20260315T100000Z\r\nEND:VTODO\r\n"),
    "journal.ics": _calendar("BEGIN:VJOURNAL\r\nUID:journal@x\r\nDTSTAMP:20260101T000000Z"
                             "\r\nSUMMARY:notes\r\nEND:VJOURNAL\r\n"),
}


@pytest.mark.parametrize("name", sorted(ODD_BUT_SHOWN))
def test_regression_items_every_program_shows_are_carried(tmp_path: Path, name: str) -> None:
    text = ODD_BUT_SHOWN[name]
    item, written = copy_file(tmp_path, text, name)
    assert occurrences(written) == occurrences(text)
    assert parse_item(written) == item
    if name == "no-uid.ics":
        assert item.uid == derived_uid("vdir:no-uid.ics#0")
        assert (tmp_path / "a" / name).read_bytes().decode() == text  # not written back on read
    else:
        assert written == text  # nothing changed: the copy is the file, byte for byte


def _export() -> str:
    return _calendar(
        _event("first@x", "DTSTART:20260401T090000Z", "DTEND:20260401T100000Z",
               "SUMMARY:first", "X-KEEP:1"),
        _event("second@x", "DTSTART:20260402T090000Z", "DTEND:20260402T100000Z",
               "SUMMARY:second", "X-KEEP:2"),
        "BEGIN:VTODO\r\nUID:third@x\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:third\r\n"
        "END:VTODO\r\n",
    )


def test_regression_multi_event_file_is_read_as_its_events(tmp_path: Path) -> None:
    (tmp_path / "export.ics").write_text(_export(), newline="")
    conn = VdirConnector(tmp_path)
    delta = conn.delta(None, {})
    ids = [r.remote_id for r in delta.changed]
    assert ids == ["export.ics#first@x", "export.ics#second@x", "export.ics#third@x"]
    assert [r.item.uid for r in delta.changed if r.item] == ["first@x", "second@x", "third@x"]
    known = {r.remote_id: r.remote_version for r in delta.changed}
    assert conn.delta("c", known).changed == ()  # unchanged file: nothing read again
    # the hub changes two of them in one batch: the file is rewritten in place, twice
    first, second = (r.item for r in delta.changed[:2])
    assert first is not None and second is not None
    results = conn.write_many([
        Write("update", "h2", second.replace(summary="second (edited)"), ids[1], known[ids[1]]),
        Write("update", "h1", first.replace(summary="first (edited)"), ids[0], known[ids[0]]),
    ])
    assert not [r for r in results if isinstance(r, CirahubError)], results
    text = (tmp_path / "export.ics").read_text()
    assert "SUMMARY:first (edited)" in text and "SUMMARY:second (edited)" in text
    assert "X-KEEP:1" in text and "X-KEEP:2" in text and "BEGIN:VTODO" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.ics"]
    again = conn.delta("c", known)
    assert {r.remote_id for r in again.changed} == set(ids) and again.deleted == ()
    # deleting items removes them from the file (the others keep their ids); the last one
    # removes the file
    known = {r.remote_id: r.remote_version for r in again.changed}
    for n, rid in enumerate(ids):
        conn.delete(rid, known.pop(rid))
        left = conn.delta("c", known)
        assert left.deleted == () and sorted(r.remote_id for r in left.changed) == ids[n + 1:]
        known = {r.remote_id: r.remote_version for r in left.changed}
    assert list(tmp_path.iterdir()) == []


# --- class 6 / 7: copies keep everything, what we write is what a careful client writes ------

CAREFUL = _calendar(_event(
    "careful@x", "DTSTART;TZID=Europe/Berlin:20260401T090000",
    "DTEND;TZID=Europe/Berlin:20260401T100000", "RRULE:FREQ=WEEKLY;COUNT=10", "SEQUENCE:1",
    "STATUS:CONFIRMED", "TRANSP:OPAQUE", "CREATED:20260301T080000Z",
    "ORGANIZER;CN=Anna Smith:mailto:anna@example.com",
    "ATTENDEE;CN=Bob;RSVP=TRUE;PARTSTAT=ACCEPTED;ROLE=OPT-PARTICIPANT:mailto:bob@example.com",
    "X-MOZ-GENERATION:3", "SUMMARY:Careful"))


def test_regression_copy_between_folders_keeps_every_property(tmp_path: Path) -> None:
    item, written = copy_file(tmp_path, CAREFUL, "careful.ics")
    assert written == CAREFUL  # the hub did not change it: byte-identical, as vdirsyncer
    b = VdirConnector(tmp_path / "b")
    [remote] = b.delta(None, {}).changed
    moved = item.replace(start={"utc": "2026-04-01T08:30:00Z", "tz": "Europe/Berlin"},
                         end={"utc": "2026-04-01T09:30:00Z", "tz": "Europe/Berlin"})
    b.update(remote.remote_id, remote.remote_version, moved, "h")
    text = (tmp_path / "b" / remote.remote_id).read_text()
    for kept in ("STATUS:CONFIRMED", "TRANSP:OPAQUE", "CREATED:20260301T080000Z",
                 "ORGANIZER;CN=", "Anna Smith", "RSVP=TRUE", "X-MOZ-GENERATION:3"):
        assert kept in text, kept
    assert "SEQUENCE:2" in text  # the time moved (RFC 5546)
    assert "DTSTAMP:2026" in text or "DTSTAMP:20" in text
    assert "DTSTAMP:20260101T000000Z" not in text  # a real write time, not the source's
    assert parse_item(text) == moved


def test_regression_written_files_have_a_real_dtstamp(tmp_path: Path) -> None:
    conn = VdirConnector(tmp_path)
    item = Item("stamp@x", {"summary": "s", "start": {"utc": "2026-04-01T09:00:00Z"},
                            "end": {"utc": "2026-04-01T10:00:00Z"}})
    made = conn.create(item, "h")
    text = (tmp_path / made.remote_id).read_text()
    assert "DTSTAMP:1970" not in text and "DTSTAMP:" in text
