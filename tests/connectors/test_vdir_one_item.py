"""The vdir writer replaces a one-item file whole without parsing it first
(:func:`cirahub.connectors.vdir_files.holds_one_item`): the text check must never call a file
"one item" that the reader (:func:`read_file`) would find several entries in."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import cirahub.connectors.vdir as vdir_mod
from bench.calendars import event_text
from cirahub.connectors.vdir import VdirConnector
from cirahub.connectors.vdir_files import holds_one_item, read_file
from cirahub.core.ical import parse_item, to_ics
from cirahub.core.item import Item
from tests.corpus import corpus

VTODO = "BEGIN:VTODO\r\nUID:todo-1\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Do\r\nEND:VTODO\r\n"


def _agrees(text: str) -> bool:
    """The check's answer, held to the reader's: "one item" only when read_file finds one
    entry (under a bare name and under a '#' id alike)."""
    answer = holds_one_item(text)
    if answer:
        for known in ([], ["x.ics"], ["x.ics#other"]):
            assert len(read_file("x.ics", text, known)) == 1, text[:400]
    return answer


def _insert_before_end(text: str, block: str) -> str:
    at = text.rindex("END:VCALENDAR")
    return text[:at] + block + text[at:]


def test_the_benchmark_events_are_one_item_files() -> None:
    assert all(_agrees(event_text(f"b-{i}@example.com", i)) for i in range(60))


def test_what_the_writer_writes_is_a_one_item_file() -> None:
    item = Item("w-1@example.com", {
        "summary": "Review", "start": {"utc": "2026-03-02T08:00:00Z", "tz": "Europe/Berlin"},
        "end": {"utc": "2026-03-02T09:00:00Z", "tz": "Europe/Berlin"}})
    assert _agrees(to_ics(item))


@pytest.mark.parametrize("change", [
    lambda t: _insert_before_end(t, t[t.index("BEGIN:VEVENT"):t.index("END:VEVENT") + 12]
                                 .replace("UID:a@x", "UID:b@x")),  # a second UID
    lambda t: _insert_before_end(t, "BEGIN:VEVENT\r\nDTSTART:20270101T000000Z\r\n"
                                    "SUMMARY:no uid\r\nEND:VEVENT\r\n"),  # an event without
    lambda t: t.replace("UID:a@x\r\n", ""),  # no UID at all (a derived one)
    lambda t: t.replace("UID:a@x", "UID;X-P=1:a@x"),  # a UID with parameters
    lambda t: t.replace("TRIGGER:-PT15M", "TRIGGER:-PT15M\r\nUID:a@x"),  # a UID in the alarm
    lambda t: _insert_before_end(t, VTODO),  # another kind of item
    lambda t: t.replace("BEGIN:VEVENT", "begin:vevent"),  # spelled in lower case
    lambda t: t.replace("END:VEVENT", "END:VEVENT \r\nX-A:1"),  # a name with a blank
    lambda t: t + t,  # two calendars
    lambda t: t.replace("END:VCALENDAR\r\n", ""),  # not terminated
    lambda t: t.replace("BEGIN:VALARM", "BEGIN:VFREEBUSY"),  # a component of another kind
])
def test_texts_the_check_cannot_tell_go_to_the_reader(change: object) -> None:
    text = change(event_text("a@x", 10))  # type: ignore[operator]
    assert not _agrees(text)


def test_the_check_agrees_with_the_reader_on_the_corpus() -> None:
    told = 0
    for f in corpus():
        try:
            text = f.read().decode("utf-8")
        except UnicodeDecodeError:
            continue
        told += _agrees(text)
    assert told >= 40  # the fast path is taken for the common files, not only for ours


def test_the_check_agrees_with_the_reader_on_random_texts() -> None:
    rng = random.Random(15)
    pieces = ["UID:a@x", "UID:b@x", "UID:", "BEGIN:VEVENT", "END:VEVENT", "BEGIN:VALARM",
              "END:VALARM", "DTSTART:20270101T000000Z", "RECURRENCE-ID:20270108T000000Z",
              "BEGIN:VTODO", "END:VTODO", " folded", "SUMMARY:x"]
    told = 0
    for _ in range(400):
        lines = event_text("a@x", rng.randrange(40)).split("\r\n")
        for _ in range(rng.randrange(4)):
            lines.insert(rng.randrange(1, len(lines) - 1), rng.choice(pieces))
        told += _agrees("\r\n".join(lines))
    assert told > 0


def test_an_update_of_a_one_item_file_does_not_read_the_old_file_as_icalendar(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: every update and delete parsed the file it replaced (about 0.5 ms a file: a
    tenth of a push run writing edits into a folder)."""
    folder = tmp_path / "cal"
    folder.mkdir()
    conn = VdirConnector(folder)
    text = event_text("a@x", 3)
    (folder / "a@x.ics").write_text(text, encoding="utf-8", newline="")
    [item] = conn.delta(None, {}).changed
    assert item.item is not None
    edited = item.item.with_source(None).replace(summary="Edited")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the old file was parsed")

    monkeypatch.setattr(vdir_mod, "read_file", refuse)
    result = conn.update(item.remote_id, item.remote_version, edited, "h1")
    assert parse_item((folder / "a@x.ics").read_text()).fields["summary"] == "Edited"
    conn.delete(result.remote_id, result.remote_version)
    assert not (folder / "a@x.ics").exists()
