"""A big initial pull is merged in a few transactions, not one per item."""

from __future__ import annotations

from sqlalchemy import event as sa_event

from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.ops import CreateHubItem

from .helpers import hub_and_spokes

N = 10_000


def test_ten_thousand_creates_take_few_transactions(store):
    hub, (spoke,) = hub_and_spokes(store)
    epoch = store.acquire_writer(hub.id)
    ops = []
    for i in range(N):
        item = Item(f"uid-{i}", {"summary": f"Event {i}",
                                 "start": {"date": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}"},
                                 "end": {"date": f"2026-{1 + i % 12:02d}-{2 + i % 27:02d}"}})
        ops.append(CreateHubItem(f"remote-{i}", "v1", item, fingerprint(item)))
    commits = []
    listener = lambda conn: commits.append(1)  # noqa: E731
    sa_event.listen(store.engine, "commit", listener)
    try:
        res = store.apply_hub_ops(hub.id, spoke.id, epoch, ops)
    finally:
        sa_event.remove(store.engine, "commit", listener)
    assert 20 <= len(commits) <= 22, len(commits)  # 20 batches of 500 (+ nothing per item)
    assert len(res.created) == N and len(set(res.created.values())) == N
    assert res.version == N == store.hub_version(hub.id)
    assert store.count_items(hub.id) == N
    links = store.links(spoke.id)
    assert len(links) == N and links["remote-9999"].hub_item_id == res.created["remote-9999"]
    changed = store.hub_items_changed_since(hub.id, N - 600)
    assert [h.version for h in changed] == list(range(N - 599, N + 1))
    # big planning reads are chunked under the hood
    assert len(store.hub_items_by_uid(hub.id, [f"uid-{i}" for i in range(N)])) == N
    pairs = {(hid, 0) for hid in res.created.values()} | {(res.created["remote-1"], N + 5)}
    assert store.item_versions(pairs) == {}
    assert len(store.item_versions({(h, i + 1) for i, h in enumerate(res.created.values())})) == N
