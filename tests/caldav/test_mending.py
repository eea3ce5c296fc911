"""The text check that lets a write skip parsing for zones nothing defines
(:func:`cirahub.connectors.caldav.mending.without_unknown_zones`): it may only answer "nothing
to mend" where the reader-based mending changes nothing, on every corpus file and on random
texts (zones defined, known, unknown; quoted, folded)."""

from __future__ import annotations

import warnings

from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from cirahub.connectors.caldav import mending
from tests.core.fast_texts import calendar_texts
from tests.corpus import corpus


def _mended_by_the_reader(text: str) -> bool | None:
    """Whether :func:`mending.unknown_zones` changes ``text`` (None: it cannot be read)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calendar = Calendar.from_ical(text)
    except Exception:
        return None
    changes: list[str] = []
    mending.unknown_zones(calendar, changes)
    return bool(changes)


def _agrees(text: str) -> None:
    if mending._zones_known(text):
        assert _mended_by_the_reader(text) in (False, None), text


def test_the_text_check_agrees_with_the_reader_on_the_corpus() -> None:
    skipped = 0
    for f in corpus():
        try:
            text = f.read().decode("utf-8")
        except UnicodeDecodeError:
            continue
        _agrees(text)
        skipped += "TZID" in text.upper() and mending._zones_known(text)
    assert skipped > 20  # the check does spare the reader on real zoned calendars


_UNKNOWN = ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:w@test\r\nDTSTAMP:20260101T000000Z\r\n"
            'DTSTART;TZID="Western/Central Europe":20211101T160000\r\nSUMMARY:w\r\n'
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


def test_a_zone_nothing_defines_is_left_to_the_reader_however_spelled() -> None:
    folded = _UNKNOWN.replace('TZID="Western/', 'TZID="Western\r\n /')
    unquoted = _UNKNOWN.replace('"Western/Central Europe"', "Nowhere/Zone")
    for text in (_UNKNOWN, folded, unquoted):
        assert not mending._zones_known(text)
        assert mending.without_unknown_zones(text)[1] is not None


@settings(max_examples=300, deadline=None)
@given(calendar_texts(), st.sampled_from(["Europe/Berlin", "Nowhere/Zone", "W. Europe Standard Time"]))
def test_the_text_check_agrees_with_the_reader_on_random_texts(text: str, zone: str) -> None:
    _agrees(text)
    _agrees(text.replace("DTSTART:", f"DTSTART;TZID={zone}:", 1))
