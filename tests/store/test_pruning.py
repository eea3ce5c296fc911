"""Issue 10 leftover: ``hub_item_versions`` grew by one row per change of an item, forever.
Versions no link needs as its merge base, beyond the newest ``KEEP_VERSIONS`` (the history
``item show`` shows), are pruned by the merge (SQLite and PostgreSQL)."""

from __future__ import annotations

from cirahub.core.ops import TombstoneHubItem
from cirahub.store.pruning import KEEP_VERSIONS

from .helpers import create, event, hub_and_spokes, update

CHANGES = KEEP_VERSIONS + 30


def _history(store, hid):  # type: ignore[no-untyped-def]
    return [v.version for v in store.hub_item_history(hid)]


def test_regression_item_versions_are_pruned(store):  # type: ignore[no-untyped-def]
    hub, (a, b) = hub_and_spokes(store, "a", "b")
    epoch = store.acquire_writer(hub.id)
    first = event("u1", "v1")
    hid = store.apply_hub_ops(hub.id, a.id, epoch, [create("ra", first)]).created["ra"]
    # spoke b edits the item again and again; spoke a never syncs again: its link's merge
    # base stays version 1
    for version in range(1, CHANGES + 1):
        store.apply_hub_ops(hub.id, b.id, epoch, [
            update(hid, version, event("u1", f"v{version + 1}"), "rb",
                   remote_version=f"b{version}")])
    newest = CHANGES + 1
    assert store.links(a.id)["ra"].hub_version == 1
    assert store.links(b.id)["rb"].hub_version == newest
    # the old code kept all CHANGES + 1 rows
    assert _history(store, hid) == [1, *range(newest - KEEP_VERSIONS + 1, newest + 1)]
    assert store.item_versions([(hid, 1)]) == {(hid, 1): first}  # a's merge base is served
    versions, total = store.recent_versions(hid, KEEP_VERSIONS - 1)
    assert total == KEEP_VERSIONS + 1 and versions[0].version == newest

    # a syncs the newest version: its old base is no longer needed, and goes at the next merge
    store.apply_hub_ops(hub.id, a.id, epoch, [
        update(hid, newest, event("u1", "from a"), "ra", remote_version="a2")])
    assert _history(store, hid) == list(range(newest + 2 - KEEP_VERSIONS, newest + 2))

    # a delete keeps the last content (what an edit of a spoke would revive)
    store.apply_hub_ops(hub.id, a.id, epoch, [TombstoneHubItem(hid, newest + 1, "ra")])
    kept = store.hub_item_history(hid)
    assert kept[-1].item is None and kept[-2].item == event("u1", "from a")
    assert len(kept) == KEEP_VERSIONS


def test_items_below_the_limit_keep_every_version(store):  # type: ignore[no-untyped-def]
    hub, (a,) = hub_and_spokes(store, "a")
    epoch = store.acquire_writer(hub.id)
    hid = store.apply_hub_ops(hub.id, a.id, epoch, [create("ra", event("u1"))]).created["ra"]
    for version in range(1, 6):
        store.apply_hub_ops(hub.id, a.id, epoch, [
            update(hid, version, event("u1", f"s{version}"), "ra")])
    assert _history(store, hid) == [1, 2, 3, 4, 5, 6]
