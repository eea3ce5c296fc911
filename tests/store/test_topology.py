"""Hubs and spokes: naming rules, uniqueness, options, removal cascades."""

from __future__ import annotations

import pytest

from cirahub.core.errors import AlreadyExists, InvalidInput, NotFound
from cirahub.core.ops import Quarantine
from cirahub.core.options import ConflictPolicy, SyncOptions

from .helpers import create, event, hub_and_spokes


def test_hubs_create_get_list_delete(store):
    hub = store.create_hub("team", policy="hub")
    assert hub.policy is ConflictPolicy.HUB and hub.object_type == "calendar"
    assert hub.version == 0
    assert store.get_hub("team") == hub == store.get_hub(hub.id)
    store.create_hub("alpha")
    assert [h.name for h in store.list_hubs()] == ["alpha", "team"]
    assert store.update_hub("team", policy=ConflictPolicy.SPOKE).policy is ConflictPolicy.SPOKE
    store.delete_hub("team")
    with pytest.raises(NotFound) as err:
        store.get_hub("team")
    assert "team" in str(err.value) and err.value.fields["hub"] == "team"


def test_taken_names_raise_already_exists(store):
    store.create_hub("team")
    with pytest.raises(AlreadyExists):
        store.create_hub("team")
    store.add_spoke("team", "room-1", "caldav", {}, SyncOptions())
    with pytest.raises(AlreadyExists) as err:
        store.add_spoke("team", "room-1", "vdir", {}, SyncOptions())
    assert err.value.fields["spoke"] == "room-1"
    other = store.create_hub("other")
    assert store.add_spoke(other.id, "room-1", "vdir", {}, SyncOptions()).hub_id == other.id


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s: s.create_hub(""), "name"),
        (lambda s: s.create_hub("a" * 65), "name"),
        (lambda s: s.create_hub("has space"), "name"),
        (lambda s: s.create_hub("ok", policy="loudest"), "policy"),
        (lambda s: s.create_hub("ok", object_type="tasks"), "object_type"),
        (lambda s: s.add_spoke("team", "bad/name", "vdir", {}, SyncOptions()), "name"),
        (lambda s: s.add_spoke("team", "ok", "", {}, SyncOptions()), "kind"),
        (lambda s: s.add_spoke("team", "ok", "vdir", {"x": object()}, SyncOptions()), "config"),
    ],
)
def test_bad_input_names_the_field(store, call, field):
    store.create_hub("team")
    with pytest.raises(InvalidInput) as err:
        call(store)
    assert err.value.fields["field"] == field
    assert [s.name for s in store.list_spokes("team")] == []
    assert [h.name for h in store.list_hubs()] == ["team"]


def test_longest_valid_names_are_accepted(store):
    name = "A-z_0." + "x" * 58
    store.create_hub(name)
    assert store.add_spoke(name, name, "ews-public-folder", {}, SyncOptions()).name == name


def test_spoke_lookup_and_listing(store):
    hub, (a, b) = hub_and_spokes(store, "b-spoke", "a-spoke")
    assert store.find_spoke("team", "a-spoke") == b
    assert store.get_spoke(a.id) == a
    assert [s.name for s in store.list_spokes(hub.id)] == ["a-spoke", "b-spoke"]
    assert len(store.list_spokes()) == 2
    with pytest.raises(NotFound) as err:
        store.find_spoke("team", "nope")
    assert err.value.fields == {"hub": "team", "spoke": "nope"}
    with pytest.raises(NotFound):
        store.get_spoke("no-such-id")


def test_filter_change_resets_push_cursor_but_interval_does_not(store):
    _, (spoke,) = hub_and_spokes(store)
    store.set_cursors(spoke.id, push_cursor=42)
    same = store.update_spoke(spoke.id, options=spoke.options.with_changes(
        {"interval_seconds": 60}))
    assert same.push_cursor == 42 and same.options.interval_seconds == 60
    wider = store.update_spoke(spoke.id, options={"days_back": 30, "interval_seconds": 60})
    assert wider.options.days_back == 30 and wider.push_cursor == 0
    assert store.update_spoke(spoke.id, config={"path": "/new"}).config == {"path": "/new"}


def test_enable_disable(store):
    _, (spoke,) = hub_and_spokes(store)
    off = store.set_spoke_enabled(spoke.id, False)
    assert not off.enabled and off.state == "disabled"
    assert not store.get_spoke(spoke.id).options.enabled
    on = store.set_spoke_enabled(spoke.id, True)
    assert on.enabled and on.state == "idle"


def test_removing_a_spoke_removes_its_links_and_quarantine_not_the_items(store):
    hub, (a, b) = hub_and_spokes(store, "a", "b")
    epoch = store.acquire_writer(hub.id)
    store.apply_hub_ops(hub.id, a.id, epoch, [
        create("r1", event("u1")), Quarantine("bad", "v", "malformed", "no DTSTART")])
    res = store.apply_hub_ops(hub.id, b.id, epoch, [create("x1", event("u2"))])
    run = store.start_run(a.id, "manual")
    assert len(store.links(a.id)) == 1 and len(store.list_quarantine(spoke_id=a.id)) == 1
    store.remove_spoke(a.id)
    assert store.links(a.id) == {}
    assert store.list_quarantine(hub="team") == []
    assert store.list_runs(spoke_id=a.id) == [] and all(r.id != run for r in store.list_runs())
    assert store.count_items(hub.id) == 2
    assert list(store.links(b.id)) == ["x1"]
    assert store.links(b.id)["x1"].hub_item_id == res.created["x1"]
    with pytest.raises(NotFound):
        store.remove_spoke(a.id)


def test_deleting_a_hub_deletes_everything_under_it(store):
    hub, (a,) = hub_and_spokes(store)
    keep = store.create_hub("keep")
    epoch = store.acquire_writer(hub.id)
    res = store.apply_hub_ops(hub.id, a.id, epoch, [create("r1", event("u1"))])
    store.start_run(a.id, "poll")
    store.delete_hub("team")
    assert store.list_spokes() == [] and store.list_runs() == []
    assert store.hub_items(hub.id, res.created.values()) == {}
    with pytest.raises(NotFound):
        store.hub_item_history(res.created["r1"])
    assert store.list_hubs() == [keep]
