"""The fidelity judge itself: what counts as lost, duplicated and identical, on small
hand-made rounds (a source file and the destination folder a path left)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .outcome import Destination, Outcome, judge_round


@dataclass(frozen=True)
class _File:
    id: str
    text: str

    def read(self) -> bytes:
        return self.text.encode()


def _cal(*events: str) -> str:
    return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n" + "".join(events) + \
        "END:VCALENDAR\r\n"


def _event(summary: str, uid: str | None = None, extra: str = "",
           start: str = "20240101T100000Z") -> str:
    return ("BEGIN:VEVENT\r\n" + (f"UID:{uid}\r\n" if uid else "") +
            f"DTSTAMP:20240101T000000Z\r\nDTSTART:{start}\r\nDTEND:{start[:-5]}3000Z\r\n"
            f"SUMMARY:{summary}\r\n{extra}END:VEVENT\r\n")


def _round(tmp_path: Path, sources: list[_File], dest_files: dict[str, str],
           ) -> dict[str, Outcome]:
    folder = tmp_path / "dest"
    folder.mkdir(parents=True)
    for name, text in dest_files.items():
        (folder / name).write_text(text)
    uids = {line[4:] for f in sources for line in f.text.split("\r\n") if line.startswith("UID:")}
    return judge_round(sources, Destination.read(folder), {}, uids, True)


TWO_MASTERS = _cal(_event("first", "u1"), _event("second", "u1", start="20240102T100000Z"))


def test_regression_judge_two_masters_of_one_uid_carried_are_identical(tmp_path: Path) -> None:
    out = _round(tmp_path, [_File("two", TWO_MASTERS)], {"u1.ics": TWO_MASTERS})
    assert out["two"].status == "identical"
    assert out["two"].byte_identical


def test_judge_one_master_of_two_is_lost_and_a_third_is_a_duplicate(tmp_path: Path) -> None:
    src = _File("two", TWO_MASTERS)
    out = _round(tmp_path, [src], {"u1.ics": _cal(_event("first", "u1"))})
    assert out["two"].status == "lost"
    assert "1 of 2 components" in out["two"].detail
    three = _cal(_event("first", "u1"), _event("second", "u1", start="20240102T100000Z"),
                 _event("first", "u1"))
    out = _round(tmp_path / "b", [src], {"u1.ics": three})
    assert out["two"].status == "duplicated"


def test_regression_judge_uidless_copies_claimed_once(tmp_path: Path) -> None:
    """Three UID-less events of one file, and a second file holding the same event as the
    first: each source component claims its own copy (given UIDs by the hub)."""
    a = _File("a", _cal(_event("x"), _event("y"), _event("z")))
    b = _File("b", _cal(_event("x")))
    dest = {f"cirahub-{n}.ics": _cal(_event(s, f"cirahub-{n}"))
            for n, s in enumerate(["x", "y", "z", "x"])}
    out = _round(tmp_path, [a, b], dest)
    assert {o.status for o in out.values()} == {"identical"}


def test_judge_uidless_extra_copy_is_a_duplicate_and_missing_one_is_lost(
        tmp_path: Path) -> None:
    a = _File("a", _cal(_event("x")))
    dest = {"cirahub-1.ics": _cal(_event("x", "cirahub-1")),
            "cirahub-2.ics": _cal(_event("x", "cirahub-2"))}
    assert _round(tmp_path, [a], dest)["a"].status == "duplicated"
    b = _File("b", _cal(_event("x")))
    out = _round(tmp_path / "b", [a, b], {"cirahub-1.ics": dest["cirahub-1.ics"]})
    assert sorted(o.status for o in out.values()) == ["identical", "lost"]


def test_judge_uidless_copy_prefers_the_one_with_the_same_properties(tmp_path: Path) -> None:
    """Two files with the same summary and start but different descriptions: each is
    identical to its own copy, whichever order the folder lists them in."""
    a = _File("a", _cal(_event("x", extra="DESCRIPTION:from b\r\n")))
    b = _File("b", _cal(_event("x", extra="DESCRIPTION:from a\r\n")))
    dest = {"cirahub-1.ics": _cal(_event("x", "cirahub-1", "DESCRIPTION:from a\r\n")),
            "cirahub-2.ics": _cal(_event("x", "cirahub-2", "DESCRIPTION:from b\r\n"))}
    out = _round(tmp_path, [a, b], dest)
    assert {o.status for o in out.values()} == {"identical"}


def test_regression_judge_uid_less_copy_in_another_zone_is_found(tmp_path: Path) -> None:
    """A copy of a UID-less event whose DTSTART the path wrote in a zone (the same instant)
    stands for it: the judge compared the start's text and called the file lost."""
    src = _File("z", _cal(_event("news")))
    moved = _cal(_event("news", "given-1", start="20240101T100000Z").replace(
        "DTSTART:20240101T100000Z", "DTSTART;TZID=Europe/Berlin:20240101T110000"))
    out = _round(tmp_path, [src], {"given-1.ics": moved})
    assert out["z"].status != "lost", out["z"]


def test_regression_judge_uid_less_twins_each_claim_their_own_copy(tmp_path: Path) -> None:
    """Two UID-less files with one summary and start but different rules: each claims the copy
    that shares most of its lines, none being exact (the judge took the first candidate,
    swapping them)."""
    a = _File("a", _cal(_event("twin", extra="RRULE:FREQ=DAILY;COUNT=3\r\nX-A:1\r\n")))
    b = _File("b", _cal(_event("twin", extra="RRULE:FREQ=WEEKLY;COUNT=2\r\nX-A:1\r\n")))
    folder = tmp_path / "dest"
    folder.mkdir()
    (folder / "x.ics").write_text(_cal(_event("twin", "x", extra="RRULE:FREQ=WEEKLY;COUNT=2\r\n")))
    (folder / "y.ics").write_text(_cal(_event("twin", "y", extra="RRULE:FREQ=DAILY;COUNT=3\r\n")))
    out = judge_round([a, b], Destination.read(folder), {}, set(), False)
    assert out["a"].status == out["b"].status == "identical", out  # X-A is not compared


def test_field_view_counts_a_field_stated_as_its_default_as_absent() -> None:
    """CLASS:PUBLIC, TRANSP:OPAQUE and PRIORITY:0 say what their absence says (RFC 5545);
    STATUS:CONFIRMED does not (STATUS has no default)."""
    from . import reference

    def view(extra: str) -> object:
        return reference.field_view(reference.carried(reference.load(_cal(_event("s", "u", extra)).encode())))

    assert view("CLASS:PUBLIC\r\nTRANSP:OPAQUE\r\nPRIORITY:0\r\n") == view("")
    assert view("STATUS:CONFIRMED\r\n") != view("")
    assert view("CLASS:PRIVATE\r\n") != view("")


def _declared_round(tmp_path: Path, sources: list[_File], dest_files: dict[str, str],
                    declared: dict[str, list[str]]) -> dict[str, Outcome]:
    folder = tmp_path / "dest"
    folder.mkdir(parents=True)
    for name, text in dest_files.items():
        (folder / name).write_text(text)
    uids = {line[4:] for f in sources for line in f.text.split("\r\n") if line.startswith("UID:")}
    return judge_round(sources, Destination.read(folder), {}, uids, True, declared=declared)


def test_regression_a_declared_projection_with_other_occurrences_is_distorted(
        tmp_path: Path) -> None:
    """Before: a file whose spoke declared any projection was "projected" even when the
    copy's occurrences differed (a declaration of one thing excused a moved occurrence).
    Now only a copy with the same occurrences is projected; the declaration is shown."""
    source = _File("a", _cal(_event("Standup", "u1")))
    moved = _cal(_event("Standup", "u1", start="20240101T110000Z"))
    out = _declared_round(tmp_path, [source], {"u1.ics": moved},
                          {"a": ["alarm: clamped"]})
    assert out["a"].status == "distorted"
    assert "declared: alarm: clamped" in out["a"].detail


def test_a_declared_projection_with_the_same_occurrences_is_projected(tmp_path: Path) -> None:
    source = _File("a", _cal(_event("Standup", "u1", extra="X-A:1\r\n")))
    copy = _cal(_event("Standup", "u1"))
    out = _declared_round(tmp_path, [source], {"u1.ics": copy}, {"a": ["X-A: not carried"]})
    assert out["a"] == Outcome("a", "projected", "declared: X-A: not carried; differs: X-A")


def test_regression_a_declaration_does_not_hide_other_property_losses(tmp_path: Path) -> None:
    """Before: a file whose spoke declared anything was "projected" with the notes alone, its
    properties never compared: a declared server rewrite of one property hid the loss of any
    other (LANGUAGE, STATUS...). Now what differs is listed beside the notes."""
    source = _File("a", _cal(_event("Standup", "u1", extra=(
        "X-A:1\r\nSTATUS:CONFIRMED\r\nDESCRIPTION;LANGUAGE=de;ALTREP=\"cid:x\":Text\r\n"))))
    copy = _cal(_event("Standup", "u1", extra="X-A:2\r\nDESCRIPTION:Text\r\n"))
    out = _declared_round(tmp_path, [source], {"u1.ics": copy},
                          {"a": ["the server rewrote what it stores (X-A: changed)"]})
    assert out["a"].status == "projected"
    assert out["a"].detail.endswith("; differs: DESCRIPTION, STATUS, X-A"), out["a"].detail


def test_regression_the_reference_reads_each_text_on_its_own() -> None:
    """icalendar caches every parsed VTIMEZONE by TZID for the whole process: once a corpus
    file defined ``Western/Central Europe``, another file using that TZID without a VTIMEZONE
    read as zoned instead of floating, so its copy was "distorted" on the EWS path (the
    issue_526 files) or not, depending on the order the files were read in."""
    from . import reference

    zone = ("BEGIN:VTIMEZONE\r\nTZID:Western/Central Europe\r\nBEGIN:STANDARD\r\n"
            "DTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
            "END:STANDARD\r\nEND:VTIMEZONE\r\n")
    event = ('BEGIN:VEVENT\r\nUID:u-w\r\nDTSTAMP:20240101T000000Z\r\n'
             'DTSTART;TZID="Western/Central Europe":20211101T160000\r\nSUMMARY:w\r\n'
             'END:VEVENT\r\n')
    defined = _cal(zone, _event("z", "u-z", start="20211101T100000Z"))
    reference.read(defined.replace("u-z", "u-z2").encode())  # a file that defines the zone
    [(_, start, _, _)] = reference.read(_cal(event).encode()).occurrences
    assert start == "F:2021-11-01T16:00:00"


def test_regression_the_calendar_properties_are_compared_too(tmp_path: Path) -> None:
    """The judge compared the components only: a copy that lost the calendar's own
    properties (X-WR-CALNAME, METHOD...) was "identical"."""
    source = _File("a", _cal(_event("Standup", "u1")).replace(
        "PRODID:-//t//t//EN\r\n", "PRODID:-//t//t//EN\r\nX-WR-CALNAME:Team\r\n"))
    out = _declared_round(tmp_path, [source], {"u1.ics": _cal(_event("Standup", "u1"))}, {})
    assert out["a"] == Outcome("a", "projected", "VCALENDAR/X-WR-CALNAME")


_ALL_DAY = ("BEGIN:VEVENT\r\nUID:d1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20200907\r\n"
            "DTEND;VALUE=DATE:20200908\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Base\r\n"
            "END:VEVENT\r\n")


def _moved(rid: str) -> str:
    return ("BEGIN:VEVENT\r\nUID:d1\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20200921"
            f"\r\nDTEND;VALUE=DATE:20200922\r\nRECURRENCE-ID{rid}\r\nSUMMARY:Moved\r\n"
            "END:VEVENT\r\n")


def test_regression_an_occurrence_matched_by_its_date_is_compared_with_its_source(
        tmp_path: Path) -> None:
    """An all-day series' occurrence whose RECURRENCE-ID the source gives as a UTC midnight
    and the copy as its date is one component (matched so): its fields were compared under
    the two keys, so its SUMMARY was 'different' on the EWS path (issue_36)."""
    source = _File("s", _cal(_ALL_DAY, _moved(":20200921T000000Z")))
    copy = _cal(_ALL_DAY, _moved(";VALUE=DATE:20200921"))
    folder = tmp_path / "dest"
    folder.mkdir()
    (folder / "d1.ics").write_text(copy)
    out = judge_round([source], Destination.read(folder), {}, {"d1"}, False)
    assert out["s"].status == "identical", out["s"].detail
    # iCalendar paths still see the RECURRENCE-ID itself written otherwise
    full = judge_round([source], Destination.read(folder), {}, {"d1"}, True)
    assert full["s"].detail == "RECURRENCE-ID", full["s"].detail
