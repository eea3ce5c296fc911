"""Real-world fidelity through vdir folders (issue 9): what a program wrote into one folder
arrives in another with the same occurrences (``recurring-ical-events`` is the reference).

Each test copies a file the way the hub does — read by one :class:`VdirConnector`, created
through another — and compares the two files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cirahub.connectors.vdir import VdirConnector
from cirahub.core.item import Item

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from occurrences import occurrences


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
    return item, (b / made.remote_id).read_text(encoding="utf-8")


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
