"""Fingerprints a run computes once: the merge stores the hub fingerprint the plan already
made (when the spoke's projection is the identity), and what it stores is always exactly
the fingerprint of the hub content."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cirahub.connectors.registry import open_connector
from cirahub.core.fingerprint import fingerprint
from cirahub.core.options import SyncOptions
from cirahub.store import batch
from tests.sync.harness import Loop


def _event(uid: str, summary: str, tag: str = "") -> str:
    categories = f"CATEGORIES:{tag}\r\n" if tag else ""
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20261101T080000Z\r\nDTSTART:20261203T150000Z\r\n"
            f"DTEND:20261203T160000Z\r\nSUMMARY:{summary}\r\n{categories}"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


def _write(path: Path, text: str) -> None:
    existed = path.exists()
    path.write_text(text)
    if existed:  # a new version even on coarse-mtime file systems
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = batch.fingerprint

    def counted(*args: Any, **kwargs: Any) -> str:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(batch, "fingerprint", counted)
    return calls


def _loop(store: Any, tmp_path: Path, options: SyncOptions | None = None) -> tuple[Loop, Path]:
    loop = Loop(store)
    folder = tmp_path / "a"
    folder.mkdir()
    config = {"path": str(folder)}
    loop.add("a", open_connector("vdir", config), options, kind="vdir", config=config)
    return loop, folder


def _stored_fingerprints_are_right(loop: Loop) -> None:
    items = loop.store.hub_items_changed_since(loop.hub.id, 0)
    assert items
    for h in items:
        assert h.item is not None and h.fingerprint == fingerprint(h.item)


def test_regression_the_merge_stores_the_fingerprint_the_plan_made(store: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   ) -> None:
    """Before: the merge computed every created or updated item's fingerprint again (the
    plan had just made the same one as the spoke's: a vdir spoke's projection drops
    nothing), a third of the fingerprints of an initial sync."""
    loop, folder = _loop(store, tmp_path)
    for i in range(3):
        _write(folder / f"e{i}.ics", _event(f"u{i}", f"Meeting {i}"))
    calls = _counting(monkeypatch)
    summary = loop.sync("a")
    assert summary.ok and summary.counts.get("create_hub_item") == 3
    assert calls[0] == 0
    _write(folder / "e1.ics", _event("u1", "Meeting 1, moved"))
    summary = loop.sync("a")
    assert summary.ok and summary.counts.get("update_hub_item") == 1
    assert calls[0] == 0
    _stored_fingerprints_are_right(loop)
    assert loop.hub_items()["u1"].get("summary") == "Meeting 1, moved"


def test_a_spoke_whose_projection_changes_content_leaves_the_fingerprint_to_the_merge(
        store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A spoke tagging what it gets: what it holds is not the hub content (the tag is taken
    off on the way in), so the merge fingerprints the hub content itself."""
    loop, folder = _loop(store, tmp_path, SyncOptions(tag_category="From A"))
    _write(folder / "e0.ics", _event("u0", "Tagged", tag="From A"))
    _write(folder / "e1.ics", _event("u1", "Plain"))
    calls = _counting(monkeypatch)
    assert loop.sync("a").ok
    assert calls[0] == 2
    _stored_fingerprints_are_right(loop)
    assert not loop.hub_items()["u0"].get("categories")
