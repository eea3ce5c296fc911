"""A first attach plans and merges each item with one match key (computed once per item per run,
:attr:`cirahub.core.plan_types.HubView.match_keys`, ``CreateHubItem/UpdateHubItem.hub_match_key``),
and the hub stores exactly the key of the content it stores."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text

import cirahub.actors.pulling
import cirahub.core.plan
import cirahub.store.batch  # noqa: F401  (their match_key is counted)
from cirahub.core import fingerprint
from cirahub.core.item import Item
from cirahub.core.options import SyncOptions
from tests.sync.harness import Loop, event


def _counting(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Calls of match_key by UID, wherever a module of ours imported it."""
    calls: Counter[str] = Counter()
    real = fingerprint.match_key

    def counting(item: Item) -> str | None:
        calls[item.uid] += 1
        return real(item)

    for name, module in list(sys.modules.items()):
        if name.startswith("cirahub") and getattr(module, "match_key", None) is real:
            monkeypatch.setattr(module, "match_key", counting)
    return calls


def _stored_keys(loop: Loop) -> dict[str, tuple[str | None, str | None]]:
    """UID -> (stored match key, match key of the stored content), of the alive hub items."""
    with loop.store.engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT uid, match_key FROM hub_items")).all())
    return {uid: (stored[uid], fingerprint.match_key(item))
            for uid, item in loop.hub_items().items()}


@pytest.mark.parametrize("paged", [True, False])
def test_regression_a_first_attach_computes_each_match_key_once(
        store: Any, monkeypatch: pytest.MonkeyPatch, paged: bool) -> None:
    """Before: _hub_view keyed each unlinked item, the plan keyed it again to match it and
    the merge keyed the content it stored (3 calls per item); now once."""
    loop = Loop(store)
    a = loop.add_memory("a", paged=paged)
    assert a.calendar is not None
    for i in range(7):
        a.calendar.user_create(event(f"u{i}", f"Event {i}", day=i + 1))
    calls = _counting(monkeypatch)
    assert loop.sync("a").ok
    assert calls == {f"u{i}": 1 for i in range(7)}
    keys = _stored_keys(loop)
    assert len(keys) == 7 and all(s == k and s is not None for s, k in keys.values())


def test_the_stored_match_key_is_that_of_the_stored_content(
        store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tagging spoke (the content is not what was keyed: categories differ), a spoke that
    cannot carry the summary (the content has no key), and a second spoke's first attach
    matching by UID and by content with a merge: what is stored is what the content keys to."""
    loop = Loop(store)
    a = loop.add_memory("a", SyncOptions(tag_category="From A"))
    b = loop.add_memory("b", unsupported_fields=["summary"])
    c = loop.add_memory("c")
    assert a.calendar is not None and b.calendar is not None and c.calendar is not None
    for i in range(4):
        a.calendar.user_create(event(f"a{i}", f"Event {i}", day=i + 1,
                                     categories=["From A", "Work"]))
        b.calendar.user_create(event(f"b{i}", f"Other {i}", day=i + 10))
    c.calendar.user_create(event("a0", "Event 0", day=1, description="Agenda"))  # by UID, merged
    c.calendar.user_create(event("c-copy", "Event 1", day=2))  # by content
    c.calendar.user_create(event("c-new", "New in c", day=20))
    for name in ("a", "b"):
        assert loop.sync(name).ok
    summary = loop.sync("c")
    assert summary.ok and summary.counts.get("update_hub_item") == 2, summary.counts
    keys = _stored_keys(loop)
    assert {"a0", "a1", "b0", "c-new"} <= set(keys) and "c-copy" not in keys
    assert keys["b0"] == (None, None)
    assert all(s == k for s, k in keys.values()), keys
