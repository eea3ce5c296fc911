"""plan_push asks :func:`~cirahub.core.filters.content_filter` nothing when the spoke has no
content filter (issue 15: it would pass every item, a category set made per item for
nothing); the plans are the ones asking it per item gives, over option combinations and
items."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cirahub.core import push
from cirahub.core.filters import content_filter, filters_content
from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, HubItem
from cirahub.core.options import PrivateMode, SyncOptions
from cirahub.core.plan import SpokeContext

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _items() -> list[Item]:
    out = []
    for n, (privacy, cats, status) in enumerate(itertools.product(
            (None, "PRIVATE", "CONFIDENTIAL", "PUBLIC"), ((), ("Work",), (" work ", "Home")),
            (None, "TENTATIVE", "CONFIRMED"))):
        fields: dict[str, Any] = {"summary": f"e{n}",
                                  "start": {"utc": "2026-03-02T09:00:00Z", "tz": "UTC"},
                                  "end": {"utc": "2026-03-02T10:00:00Z", "tz": "UTC"}}
        if privacy:
            fields["privacy"] = privacy
        if cats:
            fields["categories"] = list(cats)
        if status:
            fields["status"] = status
        out.append(Item(f"u{n}@t", fields))
    return out


def _options() -> Iterator[SyncOptions]:
    for private, include, exclude, tentative in itertools.product(
            PrivateMode, (frozenset(), frozenset({"work"})), (frozenset(), frozenset({"home"})),
            (True, False)):
        yield SyncOptions(private=private, categories_include=include,
                          categories_exclude=exclude, tentative=tentative)


def test_without_a_content_filter_every_item_passes() -> None:
    items = _items()
    for options in _options():
        if not filters_content(options):
            assert all(content_filter(i, options) is None for i in items), options
    assert not filters_content(SyncOptions())


def test_plans_equal_asking_the_filter_per_item() -> None:
    hub = [HubItem(f"h{n}", i.uid, n + 1, i, fingerprint(i)) for n, i in enumerate(_items())]
    for options in _options():
        ctx = SpokeContext("s", options, Capabilities())
        asked = [op for h in sorted(hub, key=lambda h: h.id)
                 if (op := push._push_one(ctx, h, None, NOW, push.identity_projection(ctx),
                                          True)) is not None]
        assert list(push.plan_push(ctx, hub, {}, NOW).ops) == asked, options


def test_no_filter_is_asked_per_item_without_one(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def counting(item: Item, options: SyncOptions) -> str | None:
        calls.append(item.uid)
        return content_filter(item, options)

    monkeypatch.setattr(push, "content_filter", counting)
    hub = [HubItem(f"h{n}", i.uid, n + 1, i, fingerprint(i)) for n, i in enumerate(_items())]
    push.plan_push(SpokeContext("s", SyncOptions(), Capabilities()), hub, {}, NOW)
    assert calls == []
    push.plan_push(SpokeContext("s", SyncOptions(tentative=False), Capabilities()), hub, {}, NOW)
    assert len(calls) == len(hub)
