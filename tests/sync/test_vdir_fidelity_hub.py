"""Issue 9 through the whole cycle and the store: what one program wrote into one folder
arrives in the other folders of the hub as it was written (byte for byte while the hub did
not change it), and a hub change patches it field by field."""

from __future__ import annotations

from pathlib import Path

from cirahub.connectors.registry import open_connector
from cirahub.core.ical import parse_item
from tests.sync.harness import Loop

THUNDERBIRD = (
    "BEGIN:VCALENDAR\r\nPRODID:-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN\r\n"
    "VERSION:2.0\r\nBEGIN:VEVENT\r\nCREATED:20260301T080000Z\r\n"
    "LAST-MODIFIED:20260301T080000Z\r\nDTSTAMP:20260301T080000Z\r\n"
    "UID:tb-weekly@example.com\r\nSUMMARY:Jour fixe\r\n"
    "ORGANIZER;CN=Anna Smith:mailto:anna@example.com\r\n"
    "ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;CUTYPE=INDIVIDUAL:mailto"
    ":bob@example.com\r\nRRULE:FREQ=WEEKLY;COUNT=30\r\n"
    "DTSTART;TZID=/mozilla.org/20070129_1/Europe/Berlin:20260302T100000\r\n"
    "DTEND;TZID=/mozilla.org/20070129_1/Europe/Berlin:20260302T110000\r\n"
    "SEQUENCE:1\r\nSTATUS:CONFIRMED\r\nTRANSP:OPAQUE\r\nX-MOZ-GENERATION:2\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
EXPORT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Export//EN\r\n"
    "BEGIN:VEVENT\r\nUID:exp-1@example.com\r\nDTSTAMP:20260101T000000Z\r\n"
    "DTSTART:20260410T090000Z\r\nDTEND:20260410T080000Z\r\nSUMMARY:backwards\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260411T090000Z\r\n"
    "SUMMARY:no uid\r\nEND:VEVENT\r\n"
    "BEGIN:VTODO\r\nUID:exp-todo@example.com\r\nDTSTAMP:20260101T000000Z\r\n"
    "SUMMARY:a task\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
)


def _texts(folder: Path) -> dict[str, str]:
    return {f.name: f.read_bytes().decode() for f in sorted(folder.glob("*.ics"))}


def test_regression_vdir_copies_through_the_hub_are_verbatim(store, tmp_path: Path) -> None:
    folders = [tmp_path / n for n in ("thunderbird", "khal")]
    loop = Loop(store)
    for folder in folders:
        folder.mkdir()
        config = {"path": str(folder)}
        loop.add(folder.name, open_connector("vdir", config), kind="vdir", config=config)
    (folders[0] / "jourfixe.ics").write_bytes(THUNDERBIRD.encode())
    (folders[0] / "export.ics").write_bytes(EXPORT.encode())
    loop.sync_all(rounds=2)
    copies = _texts(folders[1])
    # every item of the export is carried: the backwards event, the UID-less one, the task
    assert len(copies) == 4, sorted(copies)
    assert THUNDERBIRD in copies.values()  # unchanged by the hub: byte-identical
    assert _texts(folders[0])["export.ics"] == EXPORT  # the export is left as it is
    # a hub change (from the other folder) patches the source field by field
    name = next(n for n, t in copies.items() if "tb-weekly" in t)
    edited = copies[name].replace("SUMMARY:Jour fixe", "SUMMARY:Jour fixe (Room 4)")
    (folders[1] / name).write_bytes(edited.encode())
    loop.sync_all(rounds=2)
    back = _texts(folders[0])["jourfixe.ics"]
    assert "SUMMARY:Jour fixe (Room 4)" in back
    unfolded = back.replace("\r\n ", "")
    for kept in ("X-MOZ-GENERATION:2", "RSVP=TRUE", "CUTYPE=INDIVIDUAL", "CN=Anna Smith",
                 "CREATED:20260301T080000Z", "SEQUENCE:1", "STATUS:CONFIRMED"):
        assert kept in unfolded, kept
    assert parse_item(back).get("start")["tz"] == "Europe/Berlin"
    # and it stays put: another round writes nothing
    before = {str(f): f.stat().st_mtime_ns for d in folders for f in d.glob("*.ics")}
    loop.sync_all(rounds=1)
    assert before == {str(f): f.stat().st_mtime_ns for d in folders for f in d.glob("*.ics")}


def test_regression_tasks_reach_ical_spokes_only(store, tmp_path: Path) -> None:
    from cirahub.connectors.memory import MemoryCalendar, MemoryConnector

    folders = [tmp_path / n for n in ("a", "b")]
    loop = Loop(store)
    for folder in folders:
        folder.mkdir()
        config = {"path": str(folder)}
        loop.add(folder.name, open_connector("vdir", config), kind="vdir", config=config)
    calendar = MemoryCalendar(seed=9)  # stands for a kind that holds events only (EWS, Graph)
    loop.add("events-only", MemoryConnector(calendar))
    (folders[0] / "export.ics").write_bytes(EXPORT.encode())
    loop.sync_all(rounds=2)
    assert any("BEGIN:VTODO" in t for t in _texts(folders[1]).values())
    assert sorted(i.uid for i in calendar.items().values()) == sorted(
        parse_item(t).uid for t in _texts(folders[1]).values() if "BEGIN:VTODO" not in t)
