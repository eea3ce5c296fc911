"""An edit of what the semantic model does not hold (X- properties, an attendee's RSVP, an
organizer's CN...) spreads between iCalendar spokes like any other edit, and a server's own
re-serialization of what it stores (Radicale's vobject, Xandikos) is no edit: a second round
writes nothing. Through the real vdir connector, Radicale and Xandikos (issue 9, class 6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cirahub.core.counts import Count
from cirahub.store import Store
from tests.corpus import corpus

from .conftest import LazyServers
from .paths import Spokes, place

_EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//test//unmodelled//EN\r
BEGIN:VEVENT\r
UID:unmodelled-1@example.com\r
DTSTAMP:20260101T000000Z\r
DTSTART;TZID=Europe/Berlin:20260302T100000\r
DTEND;TZID=Europe/Berlin:20260302T110000\r
RRULE:FREQ=WEEKLY;COUNT=5\r
SUMMARY:Weekly review\r
ORGANIZER;CN=Ann:mailto:ann@example.com\r
ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:bob@example.com\r
X-CIRAHUB-TEST:{x}\r
END:VEVENT\r
END:VCALENDAR\r
"""



def _chain(path: str, spokes: Spokes, work: Path, servers: LazyServers) -> list[str]:
    """The spokes of ``path`` in sync order: source vdir → (hub, middle server, hub) → dest."""
    hub_a = spokes.hub("a")
    source = spokes.add(hub_a, "source", "vdir", {"path": str(work / "source")})
    if path == "vdir":
        return [source, spokes.add(hub_a, "dest", "vdir", {"path": str(work / "dest")})]
    server = servers.radicale() if path == "caldav-radicale" else servers.xandikos()
    from tests.caldav.servers import PASSWORD, USER

    config = {"url": server.base + server.mkcalendar("unmodelled"), "username": USER}
    hub_b = spokes.hub("b")
    return [source, spokes.add(hub_a, "middle", "caldav", config, PASSWORD),
            spokes.add(hub_b, "middle", "caldav", config, PASSWORD),
            spokes.add(hub_b, "dest", "vdir", {"path": str(work / "dest")})]


def _round(spokes: Spokes, order: list[str]) -> int:
    """One pass along the path; the number of spoke writes and hub changes it made."""
    made = 0
    for spoke_id in order:
        counts = spokes.run(spoke_id).counts
        made += sum(counts.get(c, 0) for c in (
            Count.PUSHED, Count.CREATE_HUB_ITEM, Count.UPDATE_HUB_ITEM))
    assert not spokes.errors, spokes.errors
    return made


def _edit(file: Path, text: str) -> None:
    """Rewrite ``file`` as a user's program would (a new mtime, the vdir's change signal)."""
    stat = file.stat()
    file.write_text(text, encoding="utf-8", newline="")
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", ["vdir", "caldav-radicale", "caldav-xandikos"])
def test_regression_edit_of_unmodelled_property_spreads(
        path: str, fresh_store: Store, servers: LazyServers, tmp_path: Path) -> None:
    """Only X-CIRAHUB-TEST, the attendee's RSVP and the organizer's CN change: the change
    detection compared the model's fingerprint only, so the edit stayed in the source."""
    (tmp_path / "source").mkdir()
    file = tmp_path / "source" / "event.ics"
    file.write_text(_EVENT.format(x="one"), encoding="utf-8", newline="")
    spokes = Spokes(fresh_store, "unmodelled")
    order = _chain(path, spokes, tmp_path, servers)
    for _ in range(2):
        _round(spokes, order)
    [copy] = (tmp_path / "dest").glob("*.ics")
    assert "X-CIRAHUB-TEST:one" in copy.read_text(encoding="utf-8")
    edited = (_EVENT.format(x="two").replace("RSVP=TRUE", "RSVP=FALSE")
              .replace("CN=Ann", "CN=Ann Smith"))
    _edit(file, edited)
    for _ in range(2):
        _round(spokes, order)
    text = copy.read_text(encoding="utf-8").replace("\r\n ", "")
    assert "X-CIRAHUB-TEST:two" in text
    assert "RSVP=FALSE" in text and "RSVP=TRUE" not in text
    assert "Ann Smith" in text
    if path == "vdir":
        assert copy.read_bytes() == edited.encode()  # unchanged by the hub: byte-identical
    assert _round(spokes, order) == 0  # settled: nothing more to write
    spokes.close()


#: corpus files Radicale's vobject re-serializes on store (VALUE=DATE, CREATED, DURATION,
#: folded DESCRIPTION: its "projected" files), and ones with X- properties and attendees
_REWRITTEN = ["icalendar.calendars.example", "rie.issue_97_simple_todo",
              "icalendar.events.issue_53_description_parsed_properly",
              "rie.issue_201_mixed_datetime_and_date", "rie.Germany_Holidays"]


@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", ["caldav-radicale", "caldav-xandikos"])
def test_regression_server_rewrite_causes_no_write_loop(
        path: str, fresh_store: Store, servers: LazyServers, tmp_path: Path) -> None:
    """Files the server stores in its own serialization: once every copy is written (the
    first pass), the second pass writes nothing anywhere."""
    files = [f for f in corpus() if f.id in _REWRITTEN]
    assert len(files) == len(_REWRITTEN)
    place(files, tmp_path / "source")
    spokes = Spokes(fresh_store, "rewrite")
    order = _chain(path, spokes, tmp_path, servers)
    assert _round(spokes, order) > 0
    assert _round(spokes, order) == 0
    spokes.close()


_CONFIRMED = _EVENT.format(x="one").replace(
    "SUMMARY:Weekly review", "SUMMARY;LANGUAGE=en:Weekly review\r\nSTATUS:CONFIRMED")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", ["vdir", "caldav-radicale", "caldav-xandikos"])
def test_regression_status_or_language_edit_spreads(
        path: str, fresh_store: Store, servers: LazyServers, tmp_path: Path) -> None:
    """Only STATUS:CONFIRMED (the model's "no status") goes and the SUMMARY's LANGUAGE
    changes: neither was part of the fingerprint, so the edit stayed in the source (fingerprint
    version 2, docs/sync.md); the servers' own serialization of them is no edit either."""
    (tmp_path / "source").mkdir()
    file = tmp_path / "source" / "event.ics"
    file.write_text(_CONFIRMED, encoding="utf-8", newline="")
    spokes = Spokes(fresh_store, "status")
    order = _chain(path, spokes, tmp_path, servers)
    for _ in range(2):
        _round(spokes, order)
    [copy] = (tmp_path / "dest").glob("*.ics")
    text = copy.read_text(encoding="utf-8").replace("\r\n ", "")
    assert "STATUS:CONFIRMED" in text and "LANGUAGE=en" in text
    assert _round(spokes, order) == 0
    edited = _CONFIRMED.replace("STATUS:CONFIRMED\r\n", "").replace("LANGUAGE=en", "LANGUAGE=en-GB")
    _edit(file, edited)
    for _ in range(2):
        _round(spokes, order)
    text = copy.read_text(encoding="utf-8").replace("\r\n ", "")
    assert "STATUS:" not in text
    assert "LANGUAGE=en-GB" in text
    assert _round(spokes, order) == 0  # settled: nothing more to write
    spokes.close()
