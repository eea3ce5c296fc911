"""apply_hub_ops: op semantics, strictly increasing versions, fencing, idempotency, staleness."""

from __future__ import annotations

import threading

import pytest

from cirahub.core.errors import NotFound, WriterFenced
from cirahub.core.fingerprint import fingerprint
from cirahub.core.model import ConflictRecord, FieldConflict
from cirahub.core.ops import DropLink, LinkOnly, Quarantine, TombstoneHubItem

from .helpers import create, event, hub_and_spokes, update


def _all_versions(store, hub_id):
    return [h.version for h in store.hub_items_changed_since(hub_id, 0)]


def test_create_makes_item_version_row_and_link(store):
    hub, (spoke,) = hub_and_spokes(store)
    epoch = store.acquire_writer(hub.id)
    item = event("u1")
    res = store.apply_hub_ops(hub.id, spoke.id, epoch, [create("r1", item)])
    hid = res.created["r1"]
    assert res.version == 1 == store.hub_version(hub.id)
    h = store.hub_items(hub.id, [hid])[hid]
    assert (h.uid, h.version, h.created_version, h.item) == ("u1", 1, 1, item)
    assert h.fingerprint == fingerprint(item)
    assert store.hub_items_by_uid(hub.id, ["u1", "zz"]) == {"u1": h}
    link = store.links(spoke.id)["r1"]
    assert (link.hub_item_id, link.uid, link.remote_version, link.hub_version) == (
        hid, "u1", "v1", 1)
    assert store.links_by_item(spoke.id, [hid]) == {hid: link}
    assert store.item_versions({(hid, 1), (hid, 7)}) == {(hid, 1): item}


def test_versions_strictly_increase_across_batches_and_writers(store, make_store):
    hub, (a, b) = hub_and_spokes(store, "a", "b")
    other = make_store()
    seen = []
    for round_ in range(3):
        for s, spoke in ((store, a), (other, b)):
            epoch = s.acquire_writer(hub.id)  # writers take turns, each fencing the last
            ops = [create(f"{spoke.name}-{round_}-{i}", event(f"{spoke.name}{round_}{i}"))
                   for i in range(7)]
            res = s.apply_hub_ops(hub.id, spoke.id, epoch, ops, batch_size=3)
            seen.append(res.version)
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    versions = _all_versions(store, hub.id)
    assert versions == list(range(1, 43))
    assert store.hub_version(hub.id) == 42 == store.get_hub(hub.id).version


def test_concurrent_threads_of_one_writer_get_distinct_versions(store):
    hub, (a, b) = hub_and_spokes(store, "a", "b")
    epoch = store.acquire_writer(hub.id)
    errors = []

    def work(spoke):
        try:
            for i in range(5):
                store.apply_hub_ops(hub.id, spoke.id, epoch,
                                    [create(f"r{i}-{j}", event(f"{spoke.name}{i}{j}"))
                                     for j in range(4)], batch_size=2)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert _all_versions(store, hub.id) == list(range(1, 41))


def test_fenced_writer_cannot_commit(store, make_store):
    hub, (spoke,) = hub_and_spokes(store)
    old = store.acquire_writer(hub.id)
    store.apply_hub_ops(hub.id, spoke.id, old, [create("r1", event("u1"))])
    newer_store = make_store()
    new = newer_store.acquire_writer(hub.id)
    assert new > old
    with pytest.raises(WriterFenced) as err:
        store.apply_hub_ops(hub.id, spoke.id, old, [create("r2", event("u2"))])
    assert err.value.fields["current_epoch"] == new
    assert set(store.links(spoke.id)) == {"r1"} and store.hub_version(hub.id) == 1
    newer_store.apply_hub_ops(hub.id, spoke.id, new, [create("r2", event("u2"))])
    assert set(store.links(spoke.id)) == {"r1", "r2"}


def test_reapplying_the_same_ops_is_harmless(store):
    hub, (spoke,) = hub_and_spokes(store)
    epoch = store.acquire_writer(hub.id)
    first = store.apply_hub_ops(hub.id, spoke.id, epoch, [create("r1", event("u1")),
                                                          create("r2", event("u2"))])
    h1, h2 = first.created["r1"], first.created["r2"]
    ops = [create("r1", event("u1")), create("r3", event("u3")),
           update(h1, 1, event("u1", "Renamed"), "r1"), TombstoneHubItem(h2, 2, "r2")]
    once = store.apply_hub_ops(hub.id, spoke.id, epoch, ops)
    assert (once.updated, once.tombstoned, once.unchanged, once.stale) == (1, 1, 1, ())
    links_after, version_after = store.links(spoke.id), store.hub_version(hub.id)
    again = store.apply_hub_ops(hub.id, spoke.id, epoch, ops)  # e.g. Ray re-ran the merge
    assert again.created == once.created and again.stale == ()
    assert (again.updated, again.tombstoned, again.unchanged) == (0, 0, 4)
    assert store.hub_version(hub.id) == version_after
    assert store.links(spoke.id) == links_after
    assert store.count_items(hub.id) == 2
    assert store.count_links(spoke.id) == len(links_after) == 2
    assert [v.version for v in store.hub_item_history(h1)] == [1, 4]


def test_stale_update_is_skipped_and_the_rest_commits(store):
    hub, (a, b) = hub_and_spokes(store, "a", "b")
    epoch = store.acquire_writer(hub.id)
    hid = store.apply_hub_ops(hub.id, a.id, epoch, [create("r1", event("u1"))]).created["r1"]
    store.apply_hub_ops(hub.id, b.id, epoch, [LinkOnly("x1", "e1", hid, "fp", 1)])
    # spoke b changes the item first; spoke a's update was planned against version 1
    store.apply_hub_ops(hub.id, b.id, epoch, [update(hid, 1, event("u1", "From B"), "x1")])
    res = store.apply_hub_ops(hub.id, a.id, epoch, [
        update(hid, 1, event("u1", "From A"), "r1"),
        TombstoneHubItem(hid, 1, "r1"),
        create("r2", event("u2")),
    ])
    assert res.stale == ("r1", "r1") and set(res.created) == {"r2"}
    assert store.hub_items(hub.id, [hid])[hid].item.get("summary") == "From B"
    assert store.links(a.id)["r1"].hub_version == 1  # untouched baseline: re-plan from here
    assert store.count_items(hub.id) == 2


def test_update_link_baseline_conflicts_and_resurrect(store):
    hub, (spoke,) = hub_and_spokes(store)
    epoch = store.acquire_writer(hub.id)
    hid = store.apply_hub_ops(hub.id, spoke.id, epoch, [create("r1", event("u1"))]).created["r1"]
    loser = event("u1", "Hub title")
    conflict = ConflictRecord(hid, "u1", spoke.id, (
        FieldConflict("summary", "Meeting", "Hub title", "Spoke title", "spoke", "latest"),),
        losing_item=loser.to_json())
    res = store.apply_hub_ops(hub.id, spoke.id, epoch, [
        update(hid, 1, event("u1", "Spoke title"), "r1", in_sync=False, base=1,
               conflicts=(conflict,))])
    assert (res.updated, res.conflicts) == (1, 1)
    link = store.links(spoke.id)["r1"]
    assert (link.hub_version, link.remote_version) == (1, "v2")  # merged content goes back
    (entry,) = store.list_conflicts("team")
    assert entry.fields[0]["spoke_value"] == "Spoke title" and entry.losing_item == (
        loser.to_json() | {"overrides": {}})
    store.apply_hub_ops(hub.id, spoke.id, epoch, [TombstoneHubItem(hid, 2, "r1")])
    assert store.hub_items(hub.id, [hid])[hid].deleted and store.links(spoke.id) == {}
    assert store.hub_items_by_uid(hub.id, ["u1"]) == {}
    revived = event("u1", "Back")
    store.apply_hub_ops(hub.id, spoke.id, epoch, [
        update(hid, 3, revived, "r9", resurrect=True)])
    h = store.hub_items(hub.id, [hid])[hid]
    assert (h.item, h.version) == (revived, 4) and store.links(spoke.id)["r9"].hub_version == 4


def test_version_history_serves_merge_bases(store):
    hub, (spoke,) = hub_and_spokes(store)
    epoch = store.acquire_writer(hub.id)
    v1 = event("u1", "One")
    hid = store.apply_hub_ops(hub.id, spoke.id, epoch, [create("r1", v1)]).created["r1"]
    v2 = event("u1", "Two")
    store.apply_hub_ops(hub.id, spoke.id, epoch, [update(hid, 1, v2, "r1")])
    store.apply_hub_ops(hub.id, spoke.id, epoch, [TombstoneHubItem(hid, 2, "r1")])
    assert store.item_versions([(hid, 1), (hid, 2), (hid, 3)]) == {
        (hid, 1): v1, (hid, 2): v2, (hid, 3): None}
    history = store.hub_item_history(hid)
    assert [(v.version, v.item, v.spoke_id) for v in history] == [
        (1, v1, spoke.id), (2, v2, spoke.id), (3, None, spoke.id)]


def test_link_only_drop_link_and_quarantine(store):
    hub, (a, b) = hub_and_spokes(store, "a", "b")
    epoch = store.acquire_writer(hub.id)
    hid = store.apply_hub_ops(hub.id, a.id, epoch, [create("r1", event("u1"))]).created["r1"]
    res = store.apply_hub_ops(hub.id, b.id, epoch, [
        Quarantine("x1", "e0", "malformed", "bad DTSTART", uid="u1", raw="BEGIN:VEVENT"),
        Quarantine("x2", "e0", "duplicate-uid", "u1 twice"),
    ])
    assert res.quarantined == 2 and res.version == 1
    first = {q.remote_id: q for q in store.list_quarantine(hub="team")}
    assert first["x1"].raw == "BEGIN:VEVENT" and first["x1"].reason == "malformed"
    store.apply_hub_ops(hub.id, b.id, epoch, [
        Quarantine("x2", "e1", "duplicate-uid", "still twice")])
    again = {q.remote_id: q for q in store.list_quarantine(spoke_id=b.id)}
    assert again["x2"].first_seen == first["x2"].first_seen
    assert again["x2"].last_seen >= first["x2"].last_seen and again["x2"].detail == "still twice"
    # a successful op on a quarantined remote id clears its row
    res = store.apply_hub_ops(hub.id, b.id, epoch, [LinkOnly("x1", "e1", hid, "fp", 1)])
    assert res.linked == 1 and [q.remote_id for q in store.list_quarantine()] == ["x2"]
    assert store.links(b.id)["x1"].hub_item_id == hid and store.hub_version(hub.id) == 1
    # re-linking the item to another remote id replaces the link (one link per item)
    store.apply_hub_ops(hub.id, b.id, epoch, [LinkOnly("x3", "e1", hid, "fp", 1)])
    assert list(store.links(b.id)) == ["x3"]
    res = store.apply_hub_ops(hub.id, b.id, epoch, [DropLink("x3", hid)])
    assert res.unlinked == 1 and store.links(b.id) == {}
    assert store.count_items(hub.id) == 1 and list(store.links(a.id)) == ["r1"]


def test_ops_on_missing_items_are_stale_and_wrong_spoke_is_not_found(store):
    hub, (spoke,) = hub_and_spokes(store)
    other = store.create_hub("other")
    stranger = store.add_spoke("other", "s", "vdir", {}, {})
    epoch = store.acquire_writer(hub.id)
    res = store.apply_hub_ops(hub.id, spoke.id, epoch, [
        LinkOnly("r1", "v", "no-such-item", "fp", 1),
        update("no-such-item", 1, event("u"), "r2"),
        TombstoneHubItem("no-such-item", 1, "r3")])
    assert res.stale == ("r1", "r2", "r3") and store.hub_version(hub.id) == 0
    with pytest.raises(NotFound):
        store.apply_hub_ops(hub.id, stranger.id, epoch, [create("r", event("u"))])
    with pytest.raises(NotFound):
        store.apply_hub_ops("no-such-hub", spoke.id, epoch, [create("r", event("u"))])
    assert store.acquire_writer(other.id) == 1
