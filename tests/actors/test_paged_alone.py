"""A first pull into an empty hub plans its pages without reads (:class:`cirahub.actors.paged_pull.Alone`),
and decides what the pages decided when they read (and what one plan of the listing decides)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from cirahub.actors import sync_pass
from cirahub.core.options import SyncOptions
from tests.sync.harness import Loop, event

#: what planning a page would read: links and hub items (and what hangs on hub items)
READS = ("links_for", "links_by_item", "count_links", "hub_items", "hub_items_by_uid",
         "hub_items_by_match_key", "pending_writes", "deleted_copies", "item_versions",
         "hub_item_history")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """The store reads made while pages merge (inside merge_pages), by method name."""
    counts: Counter[str] = Counter()
    inside = [False]
    merge_pages = sync_pass.merge_pages

    def paging(store: Any, *args: Any, **kwargs: Any) -> Any:
        for name in READS:
            real = getattr(store, name)

            def counted(*a: Any, _name: str = name, _real: Any = real, **k: Any) -> Any:
                if inside[0]:
                    counts[_name] += 1
                return _real(*a, **k)

            monkeypatch.setattr(store, name, counted)
        inside[0] = True
        try:
            return merge_pages(store, *args, **kwargs)
        finally:
            inside[0] = False

    monkeypatch.setattr(sync_pass, "merge_pages", paging)
    yield counts


def _fill(loop: Loop, name: str, n: int = 9, **kwargs: Any) -> Any:
    spoke = loop.add_memory(name, paged=True, **kwargs)
    assert spoke.calendar is not None
    for i in range(n):
        spoke.calendar.user_create(event(f"u{i}", f"Event {i}", day=i + 1))
    return spoke


def test_regression_pages_into_an_empty_hub_read_no_links_and_no_hub_items(
        store: Any, reads: Counter[str]) -> None:
    """Before: each of the 5 pages read the links of its remote ids and UIDs, the hub items of
    its UIDs and match keys, pending writes and deleted copies of its UIDs."""
    loop = Loop(store)
    a = _fill(loop, "a")
    summary = loop.sync("a")
    assert summary.ok and summary.counts.get("create_hub_item") == 9
    assert a.connector.pages_handed == 5  # type: ignore[attr-defined]
    assert reads == Counter()
    assert sorted(loop.hub_items()) == [f"u{i}" for i in range(9)]
    again = loop.sync("a")
    assert again.ok and not again.counts.get("create_hub_item")


def test_pages_into_a_hub_that_holds_items_read_as_before(store: Any, reads: Counter[str]
                                                          ) -> None:
    loop = Loop(store)
    b = loop.add_memory("b")
    assert b.calendar is not None
    b.calendar.user_create(event("u1", "Event 1", day=2))  # a's u1: by UID
    b.calendar.user_create(event("other", "Event 2", day=3))  # a's u2: by content
    assert loop.sync("b").ok
    _fill(loop, "a")
    summary = loop.sync("a")
    assert summary.ok and summary.counts.get("create_hub_item") == 7
    assert reads["links_for"] == 5 and reads["hub_items_by_match_key"] == 5
    assert sorted(loop.hub_items()) == ["other"] + [f"u{i}" for i in range(9) if i != 2]


@pytest.mark.parametrize("page", [2, 10**6])
def test_an_empty_hub_paged_decides_what_one_plan_decides(store: Any, page: int) -> None:
    """Items alike in content on different pages are both new, as in one plan (page 10**6:
    one page); duplicate UIDs across pages: tests/sync/test_paged_pull.py (an empty hub)."""
    loop = Loop(store, hub_name=f"h{page}")
    a = loop.add_memory("a", SyncOptions(categories_exclude=frozenset({"Skip"})), paged=True,
                        page=page)
    assert a.calendar is not None
    for i in range(6):
        a.calendar.user_create(event(f"u{i}", f"Event {i}", day=i + 1))
    a.calendar.user_create(event("alike", "Event 3", day=4))  # an earlier page's content
    a.calendar.user_create(event("s", "Skipped", day=10, categories=["Skip"]))
    summary = loop.sync("a")
    assert summary.ok, summary
    assert not loop.store.list_quarantine()
    assert set(loop.hub_items()) == {f"u{i}" for i in range(6)} | {"alike"}
    assert summary.counts.get("create_hub_item") == 7 and summary.counts.get("ignored") == 1


def test_another_writer_between_pages_ends_planning_alone(store: Any, reads: Counter[str]
                                                          ) -> None:
    """Another spoke's merge after the first page (it creates a UID a later page holds): the
    later pages read again, the UID is linked, not created twice."""
    loop = Loop(store)
    a = _fill(loop, "a")
    b = loop.add_memory("b")
    assert b.calendar is not None
    b.calendar.user_create(event("u6", "Event 6", day=7))
    merge, done = loop.merger.merge, []

    def merging(*args: Any, **kwargs: Any) -> Any:
        out = merge(*args, **kwargs)
        if not done:
            done.append(True)
            assert loop.sync("b").ok
        return out

    loop.merger.merge = merging  # type: ignore[method-assign]
    summary = loop.sync("a")
    assert summary.ok, summary
    assert reads["links_for"] == 4 + 1  # pages 2..5 read again (and b's own run)
    assert sorted(loop.hub_items()) == [f"u{i}" for i in range(9)]
    assert summary.counts.get("create_hub_item") == 8 and summary.counts.get("link_only") == 1
    assert a.connector.pages_handed == 5  # type: ignore[attr-defined]
