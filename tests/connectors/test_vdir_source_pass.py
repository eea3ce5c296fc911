"""An item written as it was read passes its source text through without a digest of it
(issue 15): the source cache keeps what the parser made of the most recent texts, and
"means exactly what its source says" is then a comparison of the item's mappings with the
parsed ones — Item's own equality, the test ``ical_patch.unchanged`` makes the slow way — not
a JSON encoding and SHA-256 of the item per write. Same texts written as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cirahub.connectors.vdir import VdirConnector
from cirahub.core import ical_patch, source_cache
from cirahub.core.ical import parse_item, to_ics
from cirahub.core.item import Item
from cirahub.store.rows import json_text

STAMP = datetime(2027, 1, 1, tzinfo=UTC)


def _text(i: int, extra: str = "") -> str:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//other//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:pass-{i}@example.com\r\nDTSTAMP:20260101T000000Z\r\n"
            f"DTSTART;TZID=Europe/Berlin:2027010{1 + i % 9}T090000\r\n"
            f"DTEND;TZID=Europe/Berlin:2027010{1 + i % 9}T100000\r\n"
            f"SUMMARY:Event {i}\r\nX-OTHER-PROP:kept as written\r\n{extra}"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


def _stored(item: Item) -> Item:
    """``item`` as the store gives it back (its content's JSON text, parsed again)."""
    return Item.from_json(json.loads(json_text(item.to_json())))


def _variants(i: int) -> list[Item]:
    back = _stored(parse_item(_text(i, "CATEGORIES:Work\r\n" if i % 2 else "")))
    return [back, back.replace(summary="Changed"), back.replace(categories=["Other"]),
            Item(back.uid, back.fields, back.overrides, _text(i + 1))]


def test_the_same_texts_as_the_exact_check(monkeypatch: pytest.MonkeyPatch) -> None:
    source_cache.clear()
    items = [v for i in range(20) for v in _variants(i)]
    fast = [to_ics(x, dtstamp=STAMP) for x in items]
    # the exact way: nothing known, every item's source parsed again and compared
    monkeypatch.setattr(ical_patch, "known_unchanged", lambda item: False)
    assert [to_ics(x, dtstamp=STAMP) for x in items] == fast
    assert [x.source == t for x, t in zip(items, fast, strict=True)].count(True) == 20


def test_a_written_parse_makes_no_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    source_cache.clear()
    items = [_stored(parse_item(_text(i))) for i in range(20)]
    calls: list[Item] = []
    real = source_cache.meaning

    def counting(item: Item) -> str:
        calls.append(item)
        return real(item)

    monkeypatch.setattr(source_cache, "meaning", counting)
    assert all(to_ics(x, dtstamp=STAMP) == x.source for x in items)
    assert calls == []
    # a changed item still goes the exact way (its source patched)
    changed = items[0].replace(summary="Changed")
    assert to_ics(changed, dtstamp=STAMP) != changed.source


def test_texts_read_by_the_parse_pool_pass_through_without_a_digest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source_cache.clear()
    n = 300  # more than the pool's MIN_FILES: read by the workers
    for i in range(n):
        (tmp_path / f"pass-{i}.ics").write_text(_text(i), newline="")
    delta = VdirConnector(tmp_path).delta(None, {})
    items = [_stored(r.item) for r in delta.changed if r.item is not None]
    assert len(items) == n
    monkeypatch.setattr(source_cache, "meaning", lambda item: pytest.fail("a digest made"))
    assert all(to_ics(x, dtstamp=STAMP) == x.source for x in items)


def test_the_parsed_items_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    source_cache.clear()
    monkeypatch.setattr(source_cache, "PARSED_MAX", 5)
    for i in range(8):
        parse_item(_text(i))
    assert len(source_cache._parsed) == 5
    # a text whose parse was dropped is still known by its digest: passed through
    old = _stored(parse_item(_text(0)))
    source_cache._parsed.clear()
    assert source_cache.known_unchanged(old)
