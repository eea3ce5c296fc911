"""The fast reader (core/ical_fast.py) against icalendar, at run time: for every text either
"not mine" or exactly icalendar's tree, and so exactly the items of the full path.

Differential: random events (escapes, folding, parameters, zones, recurrence, alarms, the
odd spellings the reader must refuse) and every file of the real-world corpus go through
both readers; the full path is the same parser with the fast reader switched off, so a
change of the normalization (or of icalendar) shows up here as a mismatch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from icalendar import Calendar, Component

from bench.calendars import event_text
from cirahub.core import ical, source_cache
from cirahub.core.errors import MalformedItem
from cirahub.core.ical_fast import read_tree
from tests.core.fast_texts import COMMON_SHAPES, calendar_texts, plain_event
from tests.corpus import corpus


@contextmanager
def _full_path() -> Iterator[None]:
    with mock.patch.object(ical, "read_plain", lambda text: None):
        yield


def _outcome(parse: Any, text: str) -> tuple[str, Any]:
    try:
        items = parse(text)
    except MalformedItem as exc:
        return "error", str(exc)
    return "items", [(i, i.source) for i in items]


def _both(text: str) -> tuple[tuple[str, Any], tuple[str, Any]]:
    with _full_path():
        full = _outcome(lambda t: ical.parse_calendar(t, identity="vdir:x.ics"), text)
    fast = _outcome(lambda t: ical.parse_calendar(t, identity="vdir:x.ics"), text)
    return full, fast


def _props(component: Component) -> list[tuple[str, Any]]:
    """Every property as comparable data: value type, value and parameters."""
    out = []
    for name, values in component.items():
        for value in values if isinstance(values, list) else [values]:
            out.append((name, type(value).__name__, _data(value),
                        dict(getattr(value, "params", {}))))
    return out


def _data(value: Any) -> Any:
    if hasattr(value, "dts"):
        return [(e.dt, dict(e.params)) for e in value.dts]
    if hasattr(value, "cats"):
        return [(type(c).__name__, str(c), dict(c.params)) for c in value.cats]
    if hasattr(value, "dt"):
        return value.dt
    if isinstance(value, dict):
        return dict(value)
    return (str(value), getattr(value, "encoding", None))


def _tree(component: Component) -> tuple[Any, ...]:
    return (type(component).__name__, component.name, _props(component), component.errors,
            [_tree(c) for c in component.subcomponents])


def assert_same_tree(text: str) -> bool:
    """True when the fast reader took ``text``; its tree is then icalendar's."""
    fast = read_tree(text)
    if fast is None:
        return False
    roots = Calendar.from_ical(text, multiple=True)
    assert len(roots) == 1
    assert _tree(fast[0]) == _tree(roots[0])
    assert [e.name for e in fast[1]] == [c.name for c in roots[0].walk("VEVENT")]
    return True


def assert_same_items(text: str) -> None:
    full, fast = _both(text)
    assert fast == full
    if full[0] == "items":  # a whole text read fast is remembered as the full path does
        for item, source in fast[1]:
            if source == text and read_tree(text) is not None:
                source_cache.clear()
                ical.parse_calendar(text)
                assert source_cache.known_unchanged(item)


# --- the common texts are the fast reader's --------------------------------------------


def test_the_benchmark_events_are_read_fast_and_identically() -> None:
    for i in range(40):
        text = event_text(f"bench-{i}@example.com", i)
        assert assert_same_tree(text), f"event {i} fell back"
        assert_same_items(text)


@pytest.mark.parametrize("case", COMMON_SHAPES)
def test_common_shapes_are_read_fast(case: str) -> None:
    text = plain_event(case)
    assert assert_same_tree(text), f"{case} fell back"
    assert_same_items(text)


@pytest.mark.parametrize("text", [
    "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nUID:t\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nX-WR-TIMEZONE:Europe/Berlin\r\nBEGIN:VEVENT\r\nUID:a\r\n"
    "DTSTART:20270101T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20270101T090000\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:b\r\nDTSTART:20270101T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20271301T090000\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20270101T090000\r\n"
    "RDATE;VALUE=PERIOD:20270102T090000Z/PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID= Europe/Berlin:20270101T090000"
    "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20270101T090000\r\n",
])
def test_what_the_fast_reader_leaves_to_icalendar(text: str) -> None:
    """Other components, calendar zones, several UIDs, refused values, periods, white space
    icalendar strips, truncated text: not mine (and the full path's answer stands)."""
    assert read_tree(text) is None
    assert_same_items(text)


# --- differential: random texts --------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar_texts(odd=False))
def test_fast_reader_takes_clean_texts_identically(text: str) -> None:
    """Random clean texts (escapes, folding, parameters, zones, recurrence, alarms,
    overrides): always the fast reader's, its tree icalendar's, its items the full path's
    (or both refuse the text with the same error)."""
    assert assert_same_tree(text), "fell back"
    assert_same_items(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar_texts(odd=True))
def test_fast_reader_differential(text: str) -> None:
    """Random texts with odd spellings mixed in: the fast reader's tree is icalendar's
    whenever it takes one, and the items are always the full path's."""
    assert_same_tree(text)
    assert_same_items(text)


# --- the corpus --------------------------------------------------------------------------


@pytest.mark.parametrize("entry", corpus(), ids=lambda e: e.id)
def test_corpus_file_fast_or_fallback(entry: Any) -> None:
    """Every real-world file: identical tree and items, or the full path alone."""
    text = entry.read().decode("utf-8", errors="replace")
    assert_same_tree(text)
    assert_same_items(text)


def test_corpus_share_read_fast() -> None:
    """How many corpus files the fast reader takes (they are mostly the odd ones; the
    number guards against a reader that quietly refuses everything)."""
    taken = [read_tree(e.read().decode("utf-8", errors="replace")) is not None
             for e in corpus()]
    assert sum(taken) >= 10

