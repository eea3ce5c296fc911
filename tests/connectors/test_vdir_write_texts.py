"""The vdir write path makes an item's text once per item object (connectors/vdir_write.py):
the spokes of a wave that share a plan write the same Item objects, each to its folder."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from cirahub.connectors import vdir_write
from cirahub.connectors.base import Write
from cirahub.connectors.vdir import VdirConnector
from cirahub.core.ical import parse_item
from cirahub.core.item import Item


def _event(i: int) -> Item:
    return Item(f"text-{i:04d}@example.com", {
        "summary": f"Event {i}",
        "start": {"utc": f"2027-01-{1 + i % 28:02d}T09:00:00Z", "tz": "Europe/Berlin"},
        "end": {"utc": f"2027-01-{1 + i % 28:02d}T10:00:00Z", "tz": "Europe/Berlin"},
    })


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The UIDs of the items whose text was made (serialized)."""
    out: list[str] = []
    real = vdir_write.to_ics

    def counted(item: Item, **kwargs: object) -> str:
        out.append(item.uid)
        return real(item, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(vdir_write, "to_ics", counted)
    return out


def _folders(tmp_path: Path, n: int) -> list[VdirConnector]:
    out = []
    for i in range(n):
        (tmp_path / f"f{i}").mkdir()
        out.append(VdirConnector(tmp_path / f"f{i}"))
    return out


def test_the_same_item_written_to_three_folders_is_made_once(tmp_path: Path, made) -> None:
    items = [_event(i) for i in range(5)]
    connectors = _folders(tmp_path, 3)
    for connector in connectors:
        outcomes = connector.write_many([Write("create", f"h{i}", item=item)
                                         for i, item in enumerate(items)])
        assert all(not isinstance(o, Exception) for o in outcomes), outcomes
    assert sorted(made) == sorted(i.uid for i in items)  # once each, not three times
    texts = [{p.name: p.read_bytes() for p in (tmp_path / f"f{i}").glob("*.ics")}
             for i in range(3)]
    assert texts[0] == texts[1] == texts[2] and len(texts[0]) == 5
    for text in texts[0].values():
        assert parse_item(text.decode()).uid in {i.uid for i in items}


def test_an_equal_item_of_another_object_is_made_again_and_a_dead_ones_entry_goes(
        tmp_path: Path, made) -> None:
    first, second = _folders(tmp_path, 2)
    first.create(_event(1), "h1")  # the item dies after the write
    gc.collect()
    assert not any(ref() is not None for ref, _ in vdir_write._texts.values())
    second.create(_event(1), "h1")  # equal, not the same object: made again
    assert made == [_event(1).uid, _event(1).uid]
