"""Occurrences without their series, for a server that refuses them alone (Radicale: "Main
component missing"; corpus file rie.issue_173_only_modifications_error, a Google export):
:func:`cirahub.connectors.caldav.mending.orphan_occurrences` writes them as one series that
Radicale's own check takes and that the reference reader expands to the same occurrences."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
import recurring_ical_events
import vobject
from icalendar import Calendar
from radicale import item as radicale_item

from cirahub.connectors.caldav import mending
from cirahub.connectors.registry import open_connector
from tests.sync.harness import Loop

from .conftest import make_connector
from .servers import USER, CalendarUser, Radicale

_ZONE = """BEGIN:VTIMEZONE
TZID:Europe/Paris
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
"""


def _text(*occurrences: tuple[str, str, str, str], extra: str = "") -> str:
    """A calendar of RECURRENCE-ID components: (recurrence id, start, end, summary)."""
    events = "".join(
        f"BEGIN:VEVENT\nUID:u1\nDTSTAMP:20240101T000000Z\n{extra}"
        f"RECURRENCE-ID;{rid}\nDTSTART;{start}\nDTEND;{end}\nSUMMARY:{summary}\nEND:VEVENT\n"
        for rid, start, end, summary in occurrences)
    return f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n{_ZONE}{events}END:VCALENDAR\n"


TIMED = _text(
    ("TZID=Europe/Paris:20240108T170000", "TZID=Europe/Paris:20240108T170000",
     "TZID=Europe/Paris:20240108T174000", "first"),
    ("TZID=Europe/Paris:20240115T170000", "TZID=Europe/Paris:20240116T090000",
     "TZID=Europe/Paris:20240116T100000", "moved"),
    ("TZID=Europe/Paris:20240122T170000", "TZID=Europe/Paris:20240122T180000",
     "TZID=Europe/Paris:20240122T190000", "later"),
)
DAYS = _text(
    ("VALUE=DATE:20240419", "VALUE=DATE:20240419", "VALUE=DATE:20240420", "a"),
    ("VALUE=DATE:20240607", "VALUE=DATE:20240608", "VALUE=DATE:20240609", "b"),
)


def _occurrences(text: str) -> list[tuple[object, object, str]]:
    calendar = Calendar.from_ical(text)
    found = recurring_ical_events.of(calendar).between(date(1900, 1, 1), date(2100, 1, 1))
    return sorted(((e["DTSTART"].dt, e["DTEND"].dt, str(e["SUMMARY"])) for e in found),
                  key=lambda o: str(o[0]))


def _radicale_refusal(text: str) -> str | None:
    """What Radicale's own check of a PUT says of ``text`` (None: it takes it)."""
    try:
        components = list(vobject.readComponents(text))
        radicale_item.check_and_sanitize_items(components, tag="VCALENDAR",
                                               max_vevent_rrule_occurrence=1000)
        radicale_item.Item(collection_path="c", vobject_item=components[0]).prepare()
    except Exception as exc:  # the server answers 400 with it
        return str(exc)
    return None


def _mended(text: str) -> tuple[str, list[str]]:
    calendar = Calendar.from_ical(text)
    changes: list[str] = []
    mending.orphan_occurrences(calendar, "VEVENT", changes)
    return calendar.to_ical().decode("utf-8"), changes


@pytest.mark.parametrize("text", [TIMED, DAYS], ids=["timed", "all-day"])
def test_regression_occurrences_without_their_series_are_written_as_one_series(text: str) -> None:
    assert _radicale_refusal(text) is not None  # what the server refuses today
    mended, changes = _mended(text)
    assert changes and "same occurrences" in changes[0]
    assert _radicale_refusal(mended) is None
    assert _occurrences(mended) == _occurrences(text)
    assert len(_occurrences(text)) == text.count("BEGIN:VEVENT")


def test_an_occurrence_whose_start_another_overrides_is_not_made_the_series() -> None:
    # the first one starts where the second one's original occurrence was: were it the series,
    # its own occurrence would be overridden by the second and lost
    text = _text(
        ("TZID=Europe/Paris:20240101T090000", "TZID=Europe/Paris:20240108T090000",
         "TZID=Europe/Paris:20240108T100000", "moved"),
        ("TZID=Europe/Paris:20240108T090000", "TZID=Europe/Paris:20240109T090000",
         "TZID=Europe/Paris:20240109T100000", "other"),
    )
    mended, changes = _mended(text)
    assert changes
    assert _occurrences(mended) == _occurrences(text)
    assert _radicale_refusal(mended) is None


@pytest.mark.parametrize("case", ["range", "a series", "dates beside times"])
def test_what_would_not_say_the_same_is_left_as_it_is(case: str) -> None:
    if case == "range":
        text = TIMED.replace("RECURRENCE-ID;", "RECURRENCE-ID;RANGE=THISANDFUTURE;", 1)
    elif case == "a series":
        text = TIMED.replace("RECURRENCE-ID;TZID=Europe/Paris:20240108T170000\n", "", 1)
    else:
        text = TIMED.replace("DTSTART;TZID=Europe/Paris:20240116T090000",
                             "DTSTART;VALUE=DATE:20240116", 1).replace(
                                 "DTEND;TZID=Europe/Paris:20240116T100000",
                                 "DTEND;VALUE=DATE:20240117", 1)
    calendar = Calendar.from_ical(text)
    before = calendar.to_ical()
    changes: list[str] = []
    mending.orphan_occurrences(calendar, "VEVENT", changes)
    assert changes == [] and calendar.to_ical() == before


def test_the_mended_series_keeps_every_other_property() -> None:
    mended, _ = _mended(TIMED.replace("SUMMARY:first", "SUMMARY:first\nX-KEPT:yes\nSEQUENCE:3"))
    series = [c for c in Calendar.from_ical(mended).walk("VEVENT") if "RECURRENCE-ID" not in c]
    assert len(series) == 1
    assert str(series[0]["X-KEPT"]) == "yes" and int(series[0]["SEQUENCE"]) == 3
    assert series[0]["DTSTART"].dt == datetime(2024, 1, 8, 17, 0, tzinfo=series[0]["DTSTART"].dt.tzinfo)


def test_regression_occurrences_without_their_series_reach_radicale_and_stay_put(
        store, radicale: Radicale, tmp_path: Path) -> None:
    """Through the real cycle: a folder's file of occurrences without their series reaches
    Radicale (it used to be declared not written: a calendar without them), says the same
    occurrences there, and nothing is written again afterwards (no echo back to the folder
    or the hub)."""
    loop = Loop(store)
    folder = tmp_path / "a"
    folder.mkdir()
    loop.add("a", open_connector("vdir", {"path": str(folder)}), kind="vdir",
             config={"path": str(folder)})
    path = radicale.mkcalendar()
    loop.add("dav", make_connector(radicale.base, path), kind="caldav",
             config={"url": radicale.base + path, "username": USER})
    source = folder / "orphans.ics"
    source.write_text(TIMED)
    assert all(s.ok for s in loop.sync_all(rounds=2))
    user = CalendarUser(radicale, path)
    [href] = user.hrefs()
    stored = user.get(href)
    assert _occurrences(stored.text) == _occurrences(TIMED)
    hub_before = loop.hub_items()["u1"]
    mtime, etag = source.stat().st_mtime_ns, stored.headers["ETag"]
    assert all(s.ok for s in loop.sync_all(rounds=2))
    assert source.stat().st_mtime_ns == mtime and source.read_text() == TIMED
    assert user.get(href).headers["ETag"] == etag
    assert loop.hub_items()["u1"] == hub_before
