"""The plain reading (issue 15's parse round) against the path it replaced, field by field.

Production reads the common texts with :func:`cirahub.core.ical_fast.read_plain` (plain
dicts for the VCALENDAR and VEVENTs), the plain date forms without icalendar's string
handling (``ical_fast_values._moment``) and the digests through encoders built once. The
reference is the path before that round, kept here: icalendar's component tree from
:func:`~cirahub.core.ical_fast.read_tree`, every date through ``vDDDTypes.from_ical``
(``ical_fast_values._icalendar_moment``) and the digests through ``json.dumps`` as they were
written. Both read every text; the outcomes must be equal: the same error, or the same
items with the same fields, overrides, fingerprints, source text and the same entry in the
source cache. ``test_the_differential_catches_a_seeded_bug`` shows that the comparison
fails when the new path is wrong.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings

from bench.calendars import event_text
from cirahub.core import ical, ical_fast, ical_fast_values, ical_verbatim, source_cache
from cirahub.core.errors import MalformedItem
from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from tests.core.fast_texts import COMMON_SHAPES, calendar_texts, plain_event
from tests.corpus import corpus

# --- the reference: the code as it was before the round ----------------------------------


def _old_digest(entries: list[Any]) -> str:
    data = json.dumps(sorted(entries, key=lambda e: json.dumps(e, ensure_ascii=False)),
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _old_value_tag(value: Any) -> str:
    data = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _old_meaning(item: Item) -> str:
    data = json.dumps(
        [item.uid, dict(item.fields), {k: dict(v) for k, v in item.overrides.items()}],
        sort_keys=True, separators=(",", ":"), default=repr,
    )
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


@contextmanager
def _reference() -> Iterator[None]:
    with mock.patch.object(ical, "read_plain", ical_fast.read_tree), \
            mock.patch.object(ical_fast_values, "_moment", ical_fast_values._icalendar_moment), \
            mock.patch.object(ical_verbatim, "_digest", _old_digest), \
            mock.patch.object(ical_verbatim, "value_tag", _old_value_tag), \
            mock.patch.object(source_cache, "meaning", _old_meaning):
        yield


# --- the comparison ----------------------------------------------------------------------


def _outcome(text: str) -> tuple[str, Any]:
    """Everything a reading gives: the error, or per item its UID, fields, overrides,
    fingerprint, source and the source cache's entry for that source."""
    source_cache.clear()
    try:
        items = ical.parse_calendar(text, identity="vdir:x.ics")
    except MalformedItem as exc:
        return "error", str(exc)
    return "items", [
        (i.uid, dict(i.fields), {k: dict(v) for k, v in i.overrides.items()}, fingerprint(i),
         i.source, source_cache.recorded(i.source) if i.source is not None else None)
        for i in items
    ]


def assert_same_outcome(text: str) -> None:
    with _reference():
        old = _outcome(text)
    new = _outcome(text)
    assert new[0] == old[0], (new, old)
    if new[0] == "error":
        assert new == old
        return
    assert len(new[1]) == len(old[1])
    for got, want in zip(new[1], old[1], strict=True):
        uid, fields, overrides, print_, source, recorded = got
        assert uid == want[0]
        for name in sorted(set(fields) | set(want[1])):  # field by field: the first named
            assert (name, fields.get(name)) == (name, want[1].get(name))
        assert overrides == want[2]
        assert (print_, source, recorded) == want[3:]


# --- the texts ---------------------------------------------------------------------------


def test_the_benchmark_events_are_read_plain_and_identically() -> None:
    for i in range(60):
        text = event_text(f"bench-{i}@example.com", i)
        assert ical_fast.read_plain(text) is not None, f"event {i} fell back"
        assert_same_outcome(text)


@pytest.mark.parametrize("case", COMMON_SHAPES)
def test_common_shapes_are_read_plain_and_identically(case: str) -> None:
    text = plain_event(case)
    assert ical_fast.read_plain(text) is not None
    assert_same_outcome(text)


@pytest.mark.parametrize("stamp", [
    "20270105T090000", "20270105T090000Z", "20270105", "20271305T090000", "20270105T250000",
    "20270230", "2027010５", "2027-01-05", "20270105T0900", "20270105T090000z", "00000105",
    "+2027105T090000", "20270105X090000", "PT1H", "20270105T090000/PT1H", "",
])
@pytest.mark.parametrize("tzid", ["", ";TZID=Europe/Berlin", ";TZID=Nowhere/Else",
                                  ";TZID=/freeassociation.sourceforge.net/Europe/Berlin",
                                  ";VALUE=DATE", ";TZID=UTC"])
def test_date_forms_read_as_icalendar_reads_them(stamp: str, tzid: str) -> None:
    """The forms ``_moment`` reads itself, next to the ones it leaves to icalendar."""
    text = plain_event("plain").replace(
        "DTSTART;TZID=Europe/Berlin:20270105T090000", f"DTSTART{tzid}:{stamp}")
    assert_same_outcome(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar_texts(odd=False))
def test_plain_reading_of_clean_texts(text: str) -> None:
    """The plain reader takes exactly the texts the tree reader takes."""
    assert (ical_fast.read_plain(text) is None) == (ical_fast.read_tree(text) is None)
    assert_same_outcome(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar_texts(odd=True))
def test_plain_reading_differential(text: str) -> None:
    assert_same_outcome(text)


@pytest.mark.parametrize("entry", corpus(), ids=lambda e: e.id)
def test_corpus_file_read_identically(entry: Any) -> None:
    assert_same_outcome(entry.read().decode("utf-8", errors="replace"))


# --- the comparison can fail ---------------------------------------------------------------


def test_the_differential_catches_a_seeded_bug() -> None:
    """A plain date-time read one hour late (a bug the new date reading could have): the
    comparison names the first field it changes (the end)."""
    right = ical_fast_values._moment

    def late(text: str, tzid: str | None) -> Any:
        moment = right(text, tzid)
        return moment + timedelta(hours=1) if len(text) == 15 else moment

    with mock.patch.object(ical_fast_values, "_moment", late), \
            pytest.raises(AssertionError, match="'end'"):
        assert_same_outcome(event_text("bench-1@example.com", 1))
