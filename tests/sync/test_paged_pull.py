"""A first pull merges its pages while its listing reads on (:mod:`cirahub.actors.paged_pull`)
and decides what one plan of the complete listing decides."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from cirahub.connectors import vdir
from cirahub.connectors.registry import open_connector
from cirahub.core.errors import StoreError
from cirahub.core.options import SyncOptions
from tests.sync.harness import Loop, event

#: files per slice of a paged listing in these tests (12 files: three slices)
SLICE = 4


def _text(uid: str, summary: str, hour: int = 9, category: str = "") -> str:
    categories = f"CATEGORIES:{category}\r\n" if category else ""
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20261101T080000Z\r\nDTSTART:20261203T{hour:02d}0000Z\r\n"
            f"DTEND:20261203T{hour:02d}3000Z\r\nSUMMARY:{summary}\r\n{categories}"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


def _fill(folder: Path, special: dict[int, str] | None = None) -> None:
    """e00.ics .. e11.ics, one event each (``special``: other texts of some of them)."""
    folder.mkdir()
    for i in range(12):
        text = (special or {}).get(i) or _text(f"u{i:02d}", f"Event {i}", hour=8 + i % 10)
        (folder / f"e{i:02d}.ics").write_text(text)


def _vdir_loop(store: Any, folder: Path, name: str = "team",
               options: SyncOptions | None = None) -> Loop:
    loop = Loop(store, hub_name=name)
    config = {"path": str(folder)}
    loop.add("a", open_connector("vdir", config), options, kind="vdir", config=config)
    return loop


@pytest.fixture
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vdir, "SLICE", SLICE)


def test_regression_a_first_pull_merges_its_first_pages_before_the_listing_ends(
        store: Any, tmp_path: Path, small_slices: None) -> None:
    """Before: a listing was parsed whole, then planned and merged on one core. Now the read
    of the third slice waits (bounded) for the first page's merge, which comes meanwhile."""
    _fill(tmp_path / "a")
    loop = _vdir_loop(store, tmp_path / "a")
    connector = loop.spokes["a"].connector
    merged = threading.Event()
    seen: list[bool] = []
    read, merge = connector.read_items, loop.merger.merge  # type: ignore[attr-defined]

    def reading(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "e08.ics":
            seen.append(merged.wait(timeout=20))
        return read(name, *args, **kwargs)

    def merging(*args: Any, **kwargs: Any) -> Any:
        out = merge(*args, **kwargs)
        merged.set()
        return out

    connector.read_items = reading  # type: ignore[attr-defined]
    loop.merger.merge = merging  # type: ignore[method-assign]
    summary = loop.sync("a")
    assert summary.ok and summary.counts.get("create_hub_item") == 12
    assert summary.counts.get("pulled") == 12
    assert seen == [True]
    assert sorted(loop.hub_items()) == [f"u{i:02d}" for i in range(12)]
    assert loop.store.get_spoke(loop.spokes["a"].id).pull_cursor is not None
    again = loop.sync("a")  # nothing left to do
    assert again.ok and not again.counts.get("pulled")


def _outcome(loop: Loop) -> tuple[Any, ...]:
    quarantine = sorted((q.remote_id, q.reason, q.detail)
                        for q in loop.store.list_quarantine(loop.spokes["a"].id))
    hub = {uid: item.get("summary") for uid, item in loop.hub_items().items()}
    return quarantine, hub


def test_pages_decide_what_one_plan_of_the_listing_decides(store: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          ) -> None:
    """Duplicate UIDs across pages (the first file keeps the UID, also when a filter left it
    out), items alike in content but not in UID on different pages (both are new)."""
    special = {
        5: _text("u01", "Copy of 1"),  # page 2 holds page 1's UID
        3: _text("u03", "Skipped", category="Skip"),  # left out by a filter...
        9: _text("u03", "Copy of 3"),  # ...and its UID again on page 3
        2: _text("u02", "Lunch", hour=12), 10: _text("other", "Lunch", hour=12),  # alike
        11: "BEGIN:VCALENDAR\r\nnot an event\r\n",  # malformed, on the last page
    }
    options = SyncOptions(categories_exclude=frozenset({"Skip"}))
    outcomes = []
    for slice_, name in ((SLICE, "paged"), (10**6, "whole")):
        monkeypatch.setattr(vdir, "SLICE", slice_)
        _fill(tmp_path / name, special)
        loop = _vdir_loop(store, tmp_path / name, name, options)
        summary = loop.sync("a")
        assert summary.status == "partial" or summary.ok, summary
        outcomes.append(_outcome(loop))
        counts = {k: v for k, v in summary.counts.items() if k != "duration"}
        outcomes.append(counts)
    paged, paged_counts, whole, whole_counts = outcomes
    assert paged == whole
    assert paged_counts == whole_counts
    quarantined = {rid: reason for rid, reason, _ in paged[0]}
    assert quarantined == {"e05.ics": "duplicate-uid", "e09.ics": "duplicate-uid",
                           "e11.ics": quarantined["e11.ics"]}
    assert {"u02", "other"} <= set(paged[1]) and "u03" not in paged[1]


def test_a_listing_failing_after_merged_pages_deletes_nothing_and_the_next_run_goes_on(
        store: Any, tmp_path: Path, small_slices: None) -> None:
    _fill(tmp_path / "a")
    loop = _vdir_loop(store, tmp_path / "a")
    connector = loop.spokes["a"].connector
    read = connector.read_items  # type: ignore[attr-defined]
    fail = [True]

    def reading(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "e06.ics" and fail[0]:
            fail[0] = False
            raise RuntimeError("the disk went away")
        return read(name, *args, **kwargs)

    connector.read_items = reading  # type: ignore[attr-defined]
    failed = loop.sync("a")
    assert failed.status == "error"
    record = loop.store.get_spoke(loop.spokes["a"].id)
    assert record.pull_cursor is None  # the cursor moves only after the last merge
    assert set(loop.hub_items()) == {"u00", "u01", "u02", "u03"}  # the first page merged
    summary = loop.sync("a")
    assert summary.ok and summary.counts.get("create_hub_item") == 8
    assert not summary.counts.get("tombstone_hub_item")
    assert sorted(loop.hub_items()) == [f"u{i:02d}" for i in range(12)]
    assert loop.store.get_spoke(loop.spokes["a"].id).pull_cursor is not None


def test_a_failed_merge_stops_the_listing(store: Any, tmp_path: Path, small_slices: None
                                          ) -> None:
    _fill(tmp_path / "a")
    loop = _vdir_loop(store, tmp_path / "a")

    def merging(*args: Any, **kwargs: Any) -> Any:
        raise StoreError("the store went away")

    loop.merger.merge = merging  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        loop.sync("a")
    assert not [t for t in threading.enumerate() if t.name == "paged-pull"]
    assert loop.store.get_spoke(loop.spokes["a"].id).pull_cursor is None


def test_a_spoke_with_links_pulls_in_one_piece(store: Any, tmp_path: Path,
                                               small_slices: None) -> None:
    """Deletions and the mass-delete check need the complete listing: a spoke that holds
    links never merges pages before it is complete."""
    _fill(tmp_path / "a")
    loop = _vdir_loop(store, tmp_path / "a")
    assert loop.sync("a").ok
    for i in range(11):  # more than half and more than 10 deleted: halts, nothing merged
        (tmp_path / "a" / f"e{i:02d}.ics").unlink()
    for i in range(12, 20):
        (tmp_path / "a" / f"e{i:02d}.ics").write_text(_text(f"u{i:02d}", f"New {i}"))
    calls: list[Any] = []
    merge = loop.merger.merge

    def merging(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return merge(*args, **kwargs)

    loop.merger.merge = merging  # type: ignore[method-assign]
    summary = loop.sync("a")
    assert summary.status == "halted" and not calls
    assert len(loop.hub_items()) == 12


def test_a_paged_memory_spoke_converges_with_the_others(store: Any) -> None:
    loop = Loop(store)
    a = loop.add_memory("a", paged=True)
    b = loop.add_memory("b")
    assert a.calendar is not None and b.calendar is not None
    for i in range(5):
        a.calendar.user_create(event(f"u{i}", f"Event {i}", day=i + 1))
    loop.sync_all()
    assert {i.uid for i in b.calendar.items().values()} == {f"u{i}" for i in range(5)}
    assert a.connector.pages_handed == 3  # type: ignore[attr-defined]


def test_a_paged_vdir_listing_hands_over_exactly_its_changed_items_in_order(
        tmp_path: Path, small_slices: None) -> None:
    _fill(tmp_path / "a")
    (tmp_path / "a" / "e12.ics").write_text("BEGIN:VCALENDAR\r\nnot an event\r\n")
    connector = open_connector("vdir", {"path": str(tmp_path / "a")})
    pages: list[list[str]] = []
    delta = connector.paged_delta(None, {}, lambda page: pages.append(  # type: ignore[attr-defined]
        [r.remote_id for r in page]))
    assert [len(p) for p in pages] == [4, 4, 5]  # no last slice shorter than half of one
    assert [rid for p in pages for rid in p] == [r.remote_id for r in delta.changed]
    assert delta == connector.delta(None, {})
    assert [len(s) for s in vdir._slices(list(range(17)), True)] == [4, 4, 4, 5]
    assert [len(s) for s in vdir._slices(list(range(5)), True)] == [5]
    assert [len(s) for s in vdir._slices(list(range(17)), False)] == [17]
