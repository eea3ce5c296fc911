"""Three local .ics folders on one hub, edited by hand as a person (or khal) would."""

from __future__ import annotations

import os
from pathlib import Path

from cirahub.connectors.registry import open_connector
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_item
from tests.sync.harness import Loop

BERLIN_WEEKLY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example Corp//Outlook 16.0//EN
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
UID:weekly-standup@example.com
DTSTAMP:20261101T080000Z
DTSTART;TZID=W. Europe Standard Time:20261102T093000
DTEND;TZID=W. Europe Standard Time:20261102T094500
RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR
SUMMARY:Standup
LOCATION:Room Kepler
X-MICROSOFT-CDO-BUSYSTATUS:BUSY
END:VEVENT
END:VCALENDAR
"""

OFFSITE = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Apple Inc.//macOS 15//EN
BEGIN:VEVENT
UID:offsite-2026@example.com
DTSTAMP:20261101T080000Z
DTSTART;VALUE=DATE:20261210
DTEND;VALUE=DATE:20261212
SUMMARY:Team offsite
CATEGORIES:Team,Travel
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Reminder
TRIGGER:-P1D
END:VALARM
END:VEVENT
END:VCALENDAR
"""

DENTIST = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Google Inc//Google Calendar 70.9054//EN
BEGIN:VEVENT
UID:dentist@google.com
DTSTAMP:20261101T080000Z
DTSTART:20261203T150000Z
DTEND:20261203T160000Z
SUMMARY:Dentist
END:VEVENT
END:VCALENDAR
"""


def _folder_items(path: Path) -> dict[str, str]:
    """uid -> fingerprint of every .ics file in the folder."""
    out: dict[str, str] = {}
    for f in sorted(path.glob("*.ics")):
        item = parse_item(f.read_text())
        assert item.uid not in out, f"duplicate {item.uid} in {path.name}"
        out[item.uid] = fingerprint(item)
    return out


def _stat(paths: list[Path]) -> dict[str, tuple[int, int]]:
    return {
        str(f): (f.stat().st_mtime_ns, f.stat().st_ino)
        for p in paths for f in p.glob("*.ics")
    }


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    # make sure the listing sees a new version even on coarse-mtime file systems
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def _file_with(folder: Path, uid: str) -> Path:
    for f in folder.glob("*.ics"):
        if parse_item(f.read_text()).uid == uid:
            return f
    raise AssertionError(f"{uid} not in {folder}")


def _loop_of(store, folders: list[Path]) -> Loop:
    """A hub with a vdir spoke on each of these (new) folders, named after it."""
    loop = Loop(store)
    for folder in folders:
        folder.mkdir()
        config = {"path": str(folder)}
        loop.add(folder.name, open_connector("vdir", config), kind="vdir", config=config)
    return loop


def test_three_vdir_folders_converge_and_second_sync_is_a_noop(store, tmp_path):
    folders = [tmp_path / n for n in ("work", "home", "shared")]
    loop = _loop_of(store, folders)
    (folders[0] / "standup.ics").write_text(BERLIN_WEEKLY)
    (folders[1] / "offsite.ics").write_text(OFFSITE)
    (folders[2] / "dentist.ics").write_text(DENTIST)
    loop.sync_all(rounds=2)
    first = [_folder_items(f) for f in folders]
    assert set(first[0]) == {"weekly-standup@example.com", "offsite-2026@example.com",
                             "dentist@google.com"}
    assert first[0] == first[1] == first[2]

    # Edits in each folder, by hand.
    _edit(_file_with(folders[1], "weekly-standup@example.com"), "Room Kepler", "Room Galilei")
    _edit(_file_with(folders[2], "offsite-2026@example.com"), "SUMMARY:Team offsite",
          "SUMMARY:Team offsite (Lisbon)")
    _file_with(folders[0], "dentist@google.com").unlink()
    loop.sync_all(rounds=2)
    after = [_folder_items(f) for f in folders]
    assert after[0] == after[1] == after[2]
    assert set(after[0]) == {"weekly-standup@example.com", "offsite-2026@example.com"}
    standup = parse_item(_file_with(folders[2], "weekly-standup@example.com").read_text())
    assert standup.get("location") == "Room Galilei"
    assert standup.get("start") == {"utc": "2026-11-02T08:30:00Z", "tz": "Europe/Berlin"}
    offsite = parse_item(_file_with(folders[0], "offsite-2026@example.com").read_text())
    assert offsite.get("summary") == "Team offsite (Lisbon)"
    assert offsite.get("start") == {"date": "2026-12-10"}

    # A further sync is a no-op: no file is rewritten, the hub does not move.
    stats = _stat(folders)
    version = store.hub_version(loop.hub.id)
    loop.sync_all(rounds=2)
    assert _stat(folders) == stats
    assert store.hub_version(loop.hub.id) == version


AUCKLAND_ALL_DAY = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Google Inc//Google Calendar 70.9054//EN
X-WR-TIMEZONE:Pacific/Auckland
BEGIN:VEVENT
UID:holiday-nz@example.com
DTSTAMP:20261101T080000Z
DTSTART;VALUE=DATE:20261225
DTEND;VALUE=DATE:20261226
SUMMARY:Christmas Day (office closed)
END:VEVENT
END:VCALENDAR
"""


def test_all_day_events_stay_dates_across_time_zones(store, tmp_path):
    """An all-day holiday made in Auckland (UTC+13) reaches a Los Angeles calendar (UTC-8) on
    the same date, and moving it by a day in LA moves it by exactly a day in Auckland."""
    folders = {name: tmp_path / name for name in ("auckland", "los-angeles")}
    loop = Loop(store)
    for name, folder in folders.items():
        folder.mkdir()
        config = {"path": str(folder)}
        loop.add(name, open_connector("vdir", config), kind="vdir", config=config)
    (folders["auckland"] / "holiday.ics").write_text(AUCKLAND_ALL_DAY)
    loop.sync_all()
    la_file = _file_with(folders["los-angeles"], "holiday-nz@example.com")
    text = la_file.read_text()
    assert "DTSTART;VALUE=DATE:20261225" in text and "DTEND;VALUE=DATE:20261226" in text
    # an LA user moves it to Boxing Day, written as a date in an LA-zoned calendar
    _edit(la_file, "DTSTART;VALUE=DATE:20261225", "DTSTART;VALUE=DATE:20261226")
    _edit(la_file, "DTEND;VALUE=DATE:20261226", "DTEND;VALUE=DATE:20261227")
    loop.sync_all()
    item = parse_item(_file_with(folders["auckland"], "holiday-nz@example.com").read_text())
    assert item.get("start") == {"date": "2026-12-26"}
    assert item.get("end") == {"date": "2026-12-27"}


def test_regression_an_edit_with_an_older_clock_reaches_the_copies_as_written(store, tmp_path):
    """Before: an item edited in one folder (LAST-MODIFIED 10:00), then again in the other
    folder by a program whose clock is behind (LAST-MODIFIED 09:00), reached the first folder
    with the new title but the hub's later 10:00 stamp: the copy differed from what the user
    wrote in that one property. Now every copy holds the second edit as written."""
    folders = [tmp_path / n for n in ("laptop", "phone")]
    loop = _loop_of(store, folders)
    (folders[0] / "dentist.ics").write_text(DENTIST.replace(
        "SUMMARY:Dentist", "SUMMARY:Dentist\nLAST-MODIFIED:20261101T080000Z"))
    loop.sync_all()
    _edit(_file_with(folders[0], "dentist@google.com"), "LAST-MODIFIED:20261101T080000Z",
          "LAST-MODIFIED:20261202T100000Z\nLOCATION:Main street 1")
    loop.sync_all()
    phone = _file_with(folders[1], "dentist@google.com")
    assert "LAST-MODIFIED:20261202T100000Z" in phone.read_text()
    _edit(phone, "SUMMARY:Dentist", "SUMMARY:Dentist (moved)")
    _edit(phone, "LAST-MODIFIED:20261202T100000Z", "LAST-MODIFIED:20261202T090000Z")
    loop.sync_all()
    laptop = parse_item(_file_with(folders[0], "dentist@google.com").read_text())
    assert laptop.get("summary") == "Dentist (moved)"
    assert laptop.get("location") == "Main street 1"
    assert laptop.get("last_modified") == parse_item(phone.read_text()).get("last_modified")
    assert "LAST-MODIFIED:20261202T090000Z" in _file_with(folders[0],
                                                          "dentist@google.com").read_text()
