"""Planner properties and multi-spoke scenarios.

The scenarios drive plan_pull/plan_push through a small in-memory model of the rest of the
cycle (:class:`World`: a hub with versions and history, spokes holding what was written, links
updated exactly as ops.py documents), so they check what users see: every spoke converges,
nothing is lost, conflicts are logged.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from cirahub.core.fingerprint import fingerprint, match_key
from cirahub.core.item import Item
from cirahub.core.model import (
    Capabilities,
    ConflictRecord,
    DeletedCopy,
    Delta,
    HubItem,
    Link,
    PendingWrite,
    RemoteItem,
)
from cirahub.core.ops import (
    BumpLink,
    CreateHubItem,
    CreateInSpoke,
    DeleteInSpoke,
    DropLink,
    LinkOnly,
    Quarantine,
    TombstoneHubItem,
    UpdateHubItem,
    UpdateInSpoke,
)
from cirahub.core.options import ConflictPolicy, Permissions, PrivateMode, SyncOptions
from cirahub.core.plan import HubView, PullPlan, SpokeContext, plan_pull
from cirahub.core.projection import project_for_spoke, spoke_fingerprint
from cirahub.core.push import plan_push

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
START = {"utc": "2026-03-02T09:00:00Z", "tz": "Europe/Berlin"}
END = {"utc": "2026-03-02T10:00:00Z", "tz": "Europe/Berlin"}


def ev(uid: str, summary: str = "Standup", **extra: object) -> Item:
    return Item(uid, {"summary": summary, "start": START, "end": END, **extra})


@dataclass
class Spoke:
    ctx: SpokeContext
    items: dict[str, tuple[int, Item]] = field(default_factory=dict)  # remote id -> (ver, item)
    links: dict[str, Link] = field(default_factory=dict)
    serial: int = 0

    def put(self, rid: str, item: Item) -> None:
        old = self.items.get(rid)
        self.items[rid] = ((old[0] if old else 0) + 1, item)

    def rid_of(self, hub_item_id: str) -> str:
        return next(r for r, ln in self.links.items() if ln.hub_item_id == hub_item_id)


@dataclass
class World:
    """The hub, its history and its spokes; applies ops like the store and connectors do."""

    policy: ConflictPolicy = ConflictPolicy.LATEST
    hub: dict[str, HubItem] = field(default_factory=dict)
    history: dict[tuple[str, int], Item | None] = field(default_factory=dict)
    spokes: dict[str, Spoke] = field(default_factory=dict)
    conflicts: list[ConflictRecord] = field(default_factory=list)
    version: int = 0

    def add_spoke(self, name: str, caps: Capabilities = Capabilities(), **options: object) -> Spoke:
        ctx = SpokeContext(name, SyncOptions(**options), caps, False)  # type: ignore[arg-type]
        self.spokes[name] = Spoke(ctx)
        return self.spokes[name]

    def _write_hub(self, hid: str, uid: str, item: Item | None) -> int:
        self.version += 1
        self.hub[hid] = HubItem(hid, uid, self.version, item, fingerprint(item) if item else None)
        self.history[(hid, self.version)] = item
        return self.version

    def view(self, sp: Spoke) -> HubView:
        alive = [h for h in self.hub.values() if h.item is not None]
        return HubView(
            by_id=dict(self.hub),
            by_uid={h.uid: h for h in alive},
            by_match_key={k: h for h in alive if (k := match_key(h.item))},
            bases=dict(self.history),
            linked_in_spoke={ln.hub_item_id: r for r, ln in sp.links.items()},
        )

    def pull(self, name: str, allow: bool = False) -> PullPlan:
        sp = self.spokes[name]
        changed = tuple(
            RemoteItem(rid, str(v), item) for rid, (v, item) in sorted(sp.items.items())
            if rid not in sp.links or sp.links[rid].remote_version != str(v)
        )
        deleted = tuple(r for r in sp.links if r not in sp.items)
        delta = Delta(changed, deleted, None, True, len(sp.items))
        plan = plan_pull(sp.ctx, delta, dict(sp.links), self.view(sp), self.policy, NOW,
                         allow_mass_delete=allow)
        for op in plan.ops:
            self._apply_pull(sp, op)
        return plan

    def _apply_pull(self, sp: Spoke, op: object) -> None:
        mk = lambda rid, rv, hid, fp, hv: Link(  # noqa: E731
            sp.ctx.spoke_id, hid, self.hub[hid].uid, rid, rv, fp, hv)
        if isinstance(op, LinkOnly):
            sp.links[op.remote_id] = mk(op.remote_id, op.remote_version, op.hub_item_id,
                                        op.fingerprint, op.hub_version)
            self.conflicts += op.conflicts
        elif isinstance(op, CreateHubItem):
            hid = f"h{len(self.hub) + 1}"
            v = self._write_hub(hid, op.item.uid, op.item)
            sp.links[op.remote_id] = mk(op.remote_id, op.remote_version, hid, op.fingerprint, v)
        elif isinstance(op, UpdateHubItem):
            assert self.hub[op.hub_item_id].version == op.expected_version
            v = self._write_hub(op.hub_item_id, self.hub[op.hub_item_id].uid, op.item)
            sp.links[op.remote_id] = mk(op.remote_id, op.remote_version, op.hub_item_id,
                                        op.fingerprint, v if op.in_sync else op.base_version)
            self.conflicts += op.conflicts
        elif isinstance(op, TombstoneHubItem):
            assert self.hub[op.hub_item_id].version == op.expected_version
            self._write_hub(op.hub_item_id, self.hub[op.hub_item_id].uid, None)
            del sp.links[op.remote_id]
        elif isinstance(op, DropLink):
            del sp.links[op.remote_id]
            self.conflicts += op.conflicts
        else:
            assert isinstance(op, Quarantine)

    def push(self, name: str) -> tuple[object, ...]:
        sp = self.spokes[name]
        by_item = {ln.hub_item_id: ln for ln in sp.links.values()}
        plan = plan_push(sp.ctx, self.hub.values(), by_item, NOW)
        for op in plan.ops:
            if isinstance(op, CreateInSpoke):
                sp.serial += 1
                rid = f"{name}-{sp.serial}"
                sp.put(rid, op.item)
                sp.links[rid] = Link(name, op.hub_item_id, self.hub[op.hub_item_id].uid, rid,
                                     "1", op.fingerprint, op.hub_version)
            elif isinstance(op, UpdateInSpoke):
                assert str(sp.items[op.remote_id][0]) == op.expected_version
                sp.put(op.remote_id, op.item)
                sp.links[op.remote_id] = replace(
                    sp.links[op.remote_id], remote_version=str(sp.items[op.remote_id][0]),
                    fingerprint=op.fingerprint, hub_version=op.hub_version)
            elif isinstance(op, DeleteInSpoke):
                del sp.items[op.remote_id], sp.links[op.remote_id]
            else:
                assert isinstance(op, BumpLink)
                rid = by_item[op.hub_item_id].remote_id
                sp.links[rid] = replace(sp.links[rid], hub_version=op.hub_version)
        return plan.ops

    def sync(self, *names: str) -> None:
        for name in names or tuple(self.spokes):
            if self.pull(name).halt is None:  # a halted spoke is not pushed to
                self.push(name)

    def settle(self) -> None:
        """Sync every spoke until nothing moves (bounded)."""
        for _ in range(4):
            self.sync()
        for name in self.spokes:
            assert self.pull(name).ops == (), name
            assert self.push(name) == (), name

    def seen_in(self, name: str, hid: str) -> Item:
        sp = self.spokes[name]
        return sp.items[sp.rid_of(hid)][1]

    def assert_converged(self) -> None:
        for sp in self.spokes.values():
            o, c = sp.ctx.options, sp.ctx.capabilities
            for rid, ln in sp.links.items():
                hub_item = self.hub[ln.hub_item_id].item
                assert hub_item is not None
                assert spoke_fingerprint(sp.items[rid][1], o, c) == spoke_fingerprint(
                    project_for_spoke(hub_item, o, c), o, c)


def three_spokes(**b_options: object) -> tuple[World, str]:
    """A hub with spokes a, b, c all holding the item h1 created in a (and one more, so a
    deletion never empties a spoke)."""
    w = World()
    for name in "abc":
        w.add_spoke(name, **(b_options if name == "b" else {}))
    w.spokes["a"].put("a-0", ev("u1"))
    w.spokes["a"].put("a-1", ev("u9", "Other"))
    w.settle()
    return w, "h1"


# --- scenarios -----------------------------------------------------------------------------------


def test_scenario_new_item_fans_out_and_echoes_settle() -> None:
    """An item made in one calendar appears in all others; the next runs do nothing."""
    w, hid = three_spokes(tag_category="Hub")
    assert w.seen_in("b", hid).get("categories") == ["Hub"]
    assert w.seen_in("c", hid) == ev("u1")
    w.assert_converged()


def test_scenario_concurrent_edits_of_different_fields_both_kept() -> None:
    """Spoke a renames, spoke b changes the room before either synced: both land everywhere."""
    w, hid = three_spokes()
    w.spokes["a"].put("a-0", ev("u1", "Retro"))
    w.spokes["b"].put(w.spokes["b"].rid_of(hid), ev("u1", location="Room 7"))
    w.settle()
    assert w.hub[hid].item == ev("u1", "Retro", location="Room 7")
    assert w.conflicts == []
    w.assert_converged()


def test_scenario_same_field_conflict_latest_wins_and_loser_logged() -> None:
    """Two rival titles: the later edit wins on every spoke, the other is in the log."""
    w, hid = three_spokes()
    w.spokes["a"].put("a-0", ev("u1", "Early", last_modified="2026-03-01T10:00:00Z"))
    w.spokes["b"].put(w.spokes["b"].rid_of(hid), ev("u1", "Late",
                                                    last_modified="2026-03-01T11:00:00Z"))
    w.settle()
    assert w.hub[hid].item.get("summary") == "Late"
    assert any(f.hub_value == "Early" and f.winner == "spoke"
               for r in w.conflicts for f in r.fields)
    w.assert_converged()


def test_scenario_recurring_series_edits_on_three_spokes_all_kept() -> None:
    """Spoke a moves one occurrence, b renames another, c cancels a third: one series."""
    w = World()
    for name in "abc":
        w.add_spoke(name)
    master = {"summary": "Weekly", "start": START, "end": END, "rrule": "FREQ=WEEKLY;COUNT=10"}
    w.spokes["a"].put("a-0", Item("s", master))
    w.settle()
    occ1, occ2, occ3 = "20260309T090000Z", "20260316T090000Z", "20260323T090000Z"
    moved = {"summary": "Weekly", "start": {"utc": "2026-03-09T11:00:00Z", "tz": "Europe/Berlin"},
             "end": {"utc": "2026-03-09T12:00:00Z", "tz": "Europe/Berlin"}}
    w.spokes["a"].put("a-0", Item("s", master, {occ1: moved}))
    w.spokes["b"].put(w.spokes["b"].rid_of("h1"), Item("s", master, {occ2: {**master,
                      "summary": "Weekly (guest)"}}))
    w.spokes["c"].put(w.spokes["c"].rid_of("h1"), Item("s", {**master, "exdates": [occ3]}))
    w.settle()
    final = w.hub["h1"].item
    assert set(final.overrides) == {occ1, occ2} and final.get("exdates") == [occ3]
    assert final.overrides[occ1]["start"]["utc"] == "2026-03-09T11:00:00Z"
    assert w.conflicts == []
    w.assert_converged()


def test_scenario_one_override_edited_on_two_spokes_conflicts_once() -> None:
    """The same exception edited in two calendars: one wins, the other is logged."""
    w = World(policy=ConflictPolicy.HUB)
    for name in "ab":
        w.add_spoke(name)
    master = {"summary": "Weekly", "start": START, "end": END, "rrule": "FREQ=WEEKLY"}
    w.spokes["a"].put("a-0", Item("s", master))
    w.settle()
    occ = "20260309T090000Z"
    w.spokes["a"].put("a-0", Item("s", master, {occ: {**master, "summary": "A"}}))
    w.spokes["b"].put(w.spokes["b"].rid_of("h1"), Item("s", master, {occ: {**master,
                      "summary": "B"}}))
    w.settle()
    assert w.hub["h1"].item.overrides[occ]["summary"] == "A"
    (record,) = w.conflicts
    assert record.fields[0].field == f"override:{occ}" and record.fields[0].winner == "hub"
    w.assert_converged()


def test_scenario_hub_edit_then_spoke_delete_edit_wins() -> None:
    """Rescheduled via a, deleted in b before b synced: the meeting stays, b gets it back."""
    w, hid = three_spokes()
    w.spokes["a"].put("a-0", ev("u1", "Moved"))
    w.sync("a")
    del w.spokes["b"].items[w.spokes["b"].rid_of(hid)]
    w.settle()
    assert w.hub[hid].item == ev("u1", "Moved")
    assert w.seen_in("b", hid) == ev("u1", "Moved")
    assert [r.kind for r in w.conflicts] == ["edit-vs-delete"]
    w.assert_converged()


def test_scenario_spoke_delete_then_spoke_edit_resurrects() -> None:
    """Deleted via a first, then edited in b before b synced: the edit wins everywhere."""
    w, hid = three_spokes()
    del w.spokes["a"].items["a-0"]
    w.sync("a")
    assert w.hub[hid].item is None
    w.spokes["b"].put(w.spokes["b"].rid_of(hid), ev("u1", "Still on"))
    w.settle()
    assert w.hub[hid].item == ev("u1", "Still on")
    assert w.seen_in("a", hid) == ev("u1", "Still on")
    assert [r.kind for r in w.conflicts] == ["edit-vs-delete"]
    w.assert_converged()


def test_scenario_out_of_window_item_not_imported_but_linked_items_keep_updating() -> None:
    """A 7-day spoke ignores its own old items, yet a linked item that drifted out of the
    window still receives edits."""
    w = World()
    w.add_spoke("a")
    narrow = w.add_spoke("b", days_back=0, days_ahead=7)
    w.spokes["a"].put("a-0", ev("u1"))
    w.settle()
    later = {"utc": "2026-05-01T09:00:00Z", "tz": "UTC"}
    w.spokes["a"].put("a-0", ev("u1", "Postponed", start=later, end=later))
    narrow.put("b-old", Item("old", {"summary": "Last year",
                                     "start": {"utc": "2025-01-01T09:00:00Z", "tz": "UTC"},
                                     "end": {"utc": "2025-01-01T10:00:00Z", "tz": "UTC"}}))
    w.settle()
    assert w.seen_in("b", "h1").get("summary") == "Postponed"
    assert all(h.uid != "old" for h in w.hub.values())
    w.spokes["a"].put("a-new", ev("u2", start=later, end=later))  # new, out of b's window
    w.settle()
    (new_id,) = [h.id for h in w.hub.values() if h.uid == "u2"]
    assert not any(ln.hub_item_id == new_id for ln in narrow.links.values())


def test_scenario_mirror_and_feed_only_spokes() -> None:
    """A mirror's edits are reverted; a feed-only spoke's edits flow but it gets nothing."""
    w = World()
    w.add_spoke("a")
    mirror = w.add_spoke("m", contributes=Permissions(False, False, False))
    feed = w.add_spoke("f", hub_writes=Permissions(False, False, False))
    feed.put("f-0", ev("u1"))
    w.settle()
    assert w.seen_in("m", "h1") == ev("u1") and w.seen_in("a", "h1") == ev("u1")
    mirror.put(mirror.rid_of("h1"), ev("u1", "Vandalized"))
    w.settle()
    assert w.hub["h1"].item == ev("u1") and w.seen_in("m", "h1") == ev("u1")
    w.spokes["a"].put("a-new", ev("u2", "From a"))
    w.settle()
    assert all(item.uid != "u2" for _, item in feed.items.values())
    del mirror.items[mirror.rid_of("h1")]
    w.settle()
    assert w.seen_in("m", "h1") == ev("u1")  # re-created, not deleted in the hub


def test_scenario_mass_delete_halts_until_allowed() -> None:
    """A spoke that loses 12 of 14 items halts; confirmed, the deletes go through."""
    w = World()
    w.add_spoke("a")
    w.add_spoke("b")
    for i in range(14):
        w.spokes["a"].put(f"a-{i}", ev(f"u{i}"))
    w.settle()
    for i in range(12):
        del w.spokes["a"].items[f"a-{i}"]
    plan = w.pull("a")
    assert plan.halt and plan.ops == () and all(h.item is not None for h in w.hub.values())
    assert w.pull("a", allow=True).stats["tombstone_hub_item"] == 12
    w.settle()
    assert len(w.spokes["b"].items) == 2


# --- properties ----------------------------------------------------------------------------------

perms = st.builds(Permissions, st.booleans(), st.booleans(), st.booleans())
option_sets = st.builds(
    SyncOptions,
    hub_writes=perms,
    contributes=perms,
    days_back=st.sampled_from([None, 1]),
    days_ahead=st.sampled_from([None, 5]),
    private=st.sampled_from(list(PrivateMode)),
    categories_exclude=st.sampled_from([frozenset(), frozenset({"Skip"})]),
    tentative=st.booleans(),
    tag_category=st.sampled_from([None, "Hub"]),
    meetings_as_appointments=st.booleans(),
    reminders=st.booleans(),
)
capabilities = st.builds(
    Capabilities,
    unsupported_fields=st.sampled_from([frozenset(), frozenset({"alarms", "url"})]),
    read_only=st.booleans(),
)


@st.composite
def items(draw: st.DrawFn, uid: str | None = None) -> Item:
    day = draw(st.sampled_from([2, 20, 28]))
    start = {"utc": f"2026-0{1 + day // 15}-{day:02d}T09:00:00Z", "tz": "UTC"}
    fields: dict[str, object] = {"summary": draw(st.sampled_from(["A", "B", "Busy"])),
                                 "start": start, "end": start}
    optional = {
        "location": st.sampled_from(["R1", "R2"]),
        "privacy": st.sampled_from(["PRIVATE", "CONFIDENTIAL"]),
        "categories": st.sampled_from([["Hub"], ["Skip"], ["Team"], ["Hub", "Team"]]),
        "alarms": st.sampled_from([[5], [15]]),
        "status": st.just("TENTATIVE"),
        "attendees": st.just([{"email": "a@x.org"}]),
        "url": st.just("https://x.org"),
        "last_modified": st.sampled_from(["2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z"]),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            fields[name] = draw(strategy)
    overrides = {}
    if draw(st.booleans()):
        fields["rrule"] = "FREQ=DAILY;COUNT=3"
        overrides["20260303T090000Z"] = {"summary": draw(st.sampled_from(["O1", "O2"]))}
    return Item(uid or draw(st.sampled_from(["u1", "u2", "u3"])), fields, overrides)


@st.composite
def pull_inputs(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    ctx = SpokeContext("s", draw(option_sets), draw(capabilities), draw(st.booleans()))
    hub: dict[str, HubItem] = {}
    links: dict[str, Link] = {}
    bases: dict[tuple[str, int], Item | None] = {}
    pending: dict[str, tuple[PendingWrite, ...]] = {}
    deleted_copies: dict[str, DeletedCopy] = {}
    for i in range(draw(st.integers(0, 4))):
        hid, base = f"h{i}", draw(items(f"u{i}"))
        current = draw(st.sampled_from([base, None, draw(items(f"u{i}"))]))
        h = HubItem(hid, f"u{i}", 3, current, fingerprint(current) if current else None)
        hub[hid] = h
        bases[(hid, 2)] = base
        # sometimes writes were sent and never confirmed (rows 3a' and 4b'; unlinked: a create)
        sent = draw(st.lists(items(f"u{i}"), max_size=2))
        if sent:
            pending[hid] = tuple(PendingWrite(hid, spoke_fingerprint(project_for_spoke(
                item, ctx.options, ctx.capabilities), ctx.options, ctx.capabilities), 2 + n)
                for n, item in enumerate(sent))
        # sometimes the item is deleted and the push deleted this spoke's copy (row 4b'')
        if current is None and draw(st.booleans()):
            gone = draw(st.sampled_from([base, draw(items(f"u{i}"))]))
            deleted_copies[hid] = DeletedCopy(hid, spoke_fingerprint(project_for_spoke(
                gone, ctx.options, ctx.capabilities), ctx.options, ctx.capabilities), 2)
        if draw(st.booleans()):
            fp = spoke_fingerprint(project_for_spoke(base, ctx.options, ctx.capabilities),
                                   ctx.options, ctx.capabilities)
            links[f"r{i}"] = Link("s", hid, f"u{i}", f"r{i}", "v1", fp, 2)
    changed = [RemoteItem(f"r{i}", "v2", draw(st.one_of(st.none(), items())))
               for i in draw(st.lists(st.integers(0, 6), unique=True, max_size=5))]
    deleted = draw(st.lists(st.sampled_from([f"r{i}" for i in range(7)]), unique=True))
    alive = [h for h in hub.values() if h.item is not None]
    view = HubView(hub, {h.uid: h for h in alive},
                   {k: h for h in alive if (k := match_key(h.item))}, bases,
                   {ln.hub_item_id: r for r, ln in links.items()}, pending=pending,
                   deleted_copies=deleted_copies)
    delta = Delta(tuple(changed), tuple(deleted), None, draw(st.booleans()), len(changed))
    return ctx, delta, links, view, draw(st.sampled_from(list(ConflictPolicy)))


@settings(max_examples=300, deadline=None)
@given(pull_inputs())
def test_property_pull_never_makes_a_hub_change_contributes_forbids(inputs) -> None:  # type: ignore[no-untyped-def]
    ctx, delta, links, view, policy = inputs
    plan = plan_pull(ctx, delta, links, view, policy, NOW, allow_mass_delete=True)
    allowed = ctx.options.contributes
    for op in plan.ops:
        assert not isinstance(op, CreateHubItem) or allowed.create
        assert not isinstance(op, UpdateHubItem) or allowed.update
        assert not isinstance(op, TombstoneHubItem) or allowed.delete
    # each remote id gets at most one op, and each hub item at most one new link
    assert len({getattr(op, "remote_id", None) for op in plan.ops}) == len(plan.ops)


@settings(max_examples=200, deadline=None)
@given(pull_inputs(), st.randoms())
def test_property_pull_is_deterministic_under_input_order(inputs, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    ctx, delta, links, view, policy = inputs
    changed, deleted, link_items = list(delta.changed), list(delta.deleted), list(links.items())
    rnd.shuffle(changed), rnd.shuffle(deleted), rnd.shuffle(link_items)
    shuffled = replace(delta, changed=tuple(changed), deleted=tuple(deleted))
    first = plan_pull(ctx, delta, links, view, policy, NOW)
    assert plan_pull(ctx, shuffled, dict(link_items), view, policy, NOW) == first


@settings(max_examples=300, deadline=None)
@given(items("u1"), items("u1"), st.one_of(st.none(), items("u1")), option_sets, capabilities,
       st.booleans())
def test_property_read_back_of_a_pending_write_is_no_edit(
        base: Item, sent: Item, now: Item | None, options: SyncOptions, caps: Capabilities,
        linked: bool) -> None:
    """Rows 3a' and 4b': the spoke holds what the push sent (v2: an update of the linked v1,
    or a create, so no link) but never heard back about, and the hub has moved on (v3, maybe
    a delete): whatever the contents, no hub change and no conflict; the copy is linked at
    the version sent (or at v3 when it already means v3) and the push looks at it again."""
    ctx = SpokeContext("s", options, caps)

    def fp(item: Item) -> str:
        return spoke_fingerprint(project_for_spoke(item, options, caps), options, caps)

    links = {"r1": Link("s", "h1", "u1", "r1", "v1", fp(base), 1)} if linked else {}
    hub = HubItem("h1", "u1", 3, now, fingerprint(now) if now else None)
    view = HubView({"h1": hub}, {"u1": hub} if now else {}, {},
                   {("h1", 1): base, ("h1", 2): sent, ("h1", 3): now},
                   {"h1": "r1"} if linked else {}, pending={"h1": (PendingWrite("h1", fp(sent), 2),)})
    remote = RemoteItem("r1", "v2", project_for_spoke(sent, options, caps))
    plan = plan_pull(ctx, Delta((remote,), (), None, False, None), links, view,
                     ConflictPolicy.LATEST, NOW)
    assert plan.conflicts == ()
    assert not any(isinstance(op, UpdateHubItem | CreateHubItem | TombstoneHubItem) for op in plan.ops)
    if linked and fp(sent) != fp(base):
        assert plan.ops == (LinkOnly("r1", "v2", "h1", fp(sent), 2),) and plan.touched == {"h1"}
    elif not linked and plan.ops:  # (nothing when the copy is outside the window or filters)
        at = 3 if now is not None and fp(now) == fp(sent) else 2
        assert plan.ops == (LinkOnly("r1", "v2", "h1", fp(sent), at),)



@settings(max_examples=300, deadline=None)
@given(items("u1"), items("u1"), st.booleans(), option_sets, capabilities, st.booleans())
def test_property_late_copy_of_a_deleted_item_is_deleted_again_never_revived(
        gone: Item, other: Item, back_as_it_was: bool, options: SyncOptions, caps: Capabilities,
        sent_too: bool) -> None:
    """Row 4b'': the hub item is deleted (v3) and the push deleted this spoke's copy (v2);
    then an unlinked copy with the item's UID appears. Exactly the deleted copy's content (a
    create of ours delivered late) is linked to the tombstone, so the push deletes it again:
    whatever the options, no hub change and no conflict. Any other content is the spoke's own
    new item and is never linked to the tombstone. A pending write of other content (row 4b')
    changes neither answer."""
    ctx = SpokeContext("s", options, caps)

    def fp(item: Item) -> str:
        return spoke_fingerprint(project_for_spoke(item, options, caps), options, caps)

    content = gone if back_as_it_was else other
    pending = {"h1": (PendingWrite("h1", fp(other), 1),)} if sent_too and fp(other) != fp(gone) else {}
    hub = HubItem("h1", "u1", 3, None, None)
    view = HubView({"h1": hub}, {}, {}, {("h1", 2): gone}, {}, pending=pending,
                   deleted_copies={"h1": DeletedCopy("h1", fp(gone), 2)})
    remote = RemoteItem("r1", "v9", project_for_spoke(content, options, caps))
    plan = plan_pull(ctx, Delta((remote,), (), None, False, None), {}, view,
                     ConflictPolicy.LATEST, NOW)
    linked = [op for op in plan.ops if isinstance(op, LinkOnly) and op.hub_item_id == "h1"]
    if fp(content) == fp(gone):
        assert plan.conflicts == ()
        assert not any(isinstance(op, UpdateHubItem | CreateHubItem | TombstoneHubItem)
                       for op in plan.ops)
        # (nothing at all when the copy is outside the window or the filters)
        assert plan.ops in ((), (LinkOnly("r1", "v9", "h1", fp(gone), 2),))
    elif not pending:
        assert linked == []


@st.composite
def push_inputs(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    ctx = SpokeContext("s", draw(option_sets), draw(capabilities), False)
    candidates, links = [], {}
    for i in range(draw(st.integers(0, 5))):
        item = draw(st.one_of(st.none(), items(f"u{i}")))
        candidates.append(HubItem(f"h{i}", f"u{i}", 5, item, fingerprint(item) if item else None))
        if draw(st.booleans()):
            seen = draw(items(f"u{i}"))
            fp = spoke_fingerprint(seen, ctx.options, ctx.capabilities)
            links[f"h{i}"] = Link("s", f"h{i}", f"u{i}", f"r{i}", "v1", fp, draw(st.integers(3, 5)))
    return ctx, candidates, links


@settings(max_examples=300, deadline=None)
@given(push_inputs())
def test_property_push_never_writes_what_hub_writes_forbids(inputs) -> None:  # type: ignore[no-untyped-def]
    ctx, candidates, links = inputs
    plan = plan_push(ctx, candidates, links, NOW)
    allowed = ctx.options.hub_writes
    for op in plan.ops:
        if isinstance(op, BumpLink):
            continue
        assert not ctx.capabilities.read_only
        assert not isinstance(op, CreateInSpoke) or allowed.create
        assert not isinstance(op, UpdateInSpoke) or allowed.update
        assert not isinstance(op, DeleteInSpoke) or allowed.delete
    rnd = random.Random(len(candidates))
    reordered = list(candidates)
    rnd.shuffle(reordered)
    assert plan_push(ctx, reordered, links, NOW) == plan


@settings(max_examples=300, deadline=None)
@given(items(), option_sets, capabilities)
def test_property_echo_of_a_push_is_a_no_op(item: Item, options: SyncOptions,
                                            caps: Capabilities) -> None:
    """Whatever the options, reading back exactly what the push wrote changes nothing."""
    ctx = SpokeContext("s", replace(options, hub_writes=Permissions()), replace(caps,
                       read_only=False), False)
    hub_item = HubItem("h1", item.uid, 7, item, fingerprint(item))
    plan = plan_push(ctx, [hub_item], {}, NOW)
    creates = [op for op in plan.ops if isinstance(op, CreateInSpoke)]
    if not creates:
        return  # filtered or out of window: nothing written, nothing to echo
    (op,) = creates
    ln = Link("s", "h1", item.uid, "r1", "v1", op.fingerprint, op.hub_version)
    view = HubView({"h1": hub_item}, {item.uid: hub_item}, {}, {("h1", 7): item}, {"h1": "r1"})
    delta = Delta((RemoteItem("r1", "v1", op.item),))
    pulled = plan_pull(ctx, delta, {"r1": ln}, view, ConflictPolicy.LATEST, NOW)
    assert pulled.ops == () and pulled.touched == frozenset() and pulled.halt is None
    # and the push after it has nothing left to do
    assert plan_push(ctx, [hub_item], {"h1": ln}, NOW).ops == ()
