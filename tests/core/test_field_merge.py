"""Field-level three-way merge: one-sided changes win, conflicts follow the policy and are
recorded, and the result never depends on argument or key order."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from cirahub.core.field_merge import canonical, merge_fields
from cirahub.core.item import Item
from cirahub.core.options import ConflictPolicy

ALL = frozenset(
    {"summary", "location", "description", "categories", "alarms", "start", "end", "privacy",
     "rrule", "exdates", "override:20260308T090000Z", "override:20260315T090000Z"}
)
START = {"utc": "2026-03-01T09:00:00Z", "tz": "UTC"}
END = {"utc": "2026-03-01T10:00:00Z", "tz": "UTC"}


def ev(uid: str = "u", lm: str | None = None, **fields: object) -> Item:
    base = {"summary": "Standup", "start": START, "end": END, **fields}
    if lm is not None:
        base["last_modified"] = lm
    return Item(uid, {k: v for k, v in base.items() if v is not None})


def merge(base, hub, spoke, policy=ConflictPolicy.LATEST, carried=ALL):  # type: ignore[no-untyped-def]
    return merge_fields(base, hub, spoke, carried=carried, policy=policy)


def test_concurrent_edits_of_different_fields_are_both_kept() -> None:
    """Hub moved the room, the spoke renamed the meeting: both edits survive, no conflict."""
    base = ev()
    result = merge(base, ev(location="Room 2"), ev(summary="Daily standup"))
    assert result.item == ev(summary="Daily standup", location="Room 2")
    assert result.conflicts == ()


def test_same_field_latest_last_modified_wins_and_loser_is_recorded() -> None:
    """Both renamed the meeting; the later edit wins, the other title is in the log."""
    base = ev(lm="2026-03-01T08:00:00Z")
    hub = ev(summary="Hub title", lm="2026-03-01T10:00:00Z")
    spoke = ev(summary="Spoke title", lm="2026-03-01T11:00:00Z")
    result = merge(base, hub, spoke)
    assert result.item.get("summary") == "Spoke title"
    assert result.item.get("last_modified") == "2026-03-01T11:00:00Z"
    (conflict,) = result.conflicts
    assert (conflict.field, conflict.base, conflict.hub_value, conflict.spoke_value) == (
        "summary", "Standup", "Hub title", "Spoke title")
    assert conflict.winner == "spoke" and conflict.reason == "latest last_modified"
    assert merge(base, hub, ev(summary="Spoke title", lm="2026-03-01T09:00:00Z")).item.get(
        "summary") == "Hub title"


def test_regression_a_one_sided_edit_keeps_its_own_last_modified_even_an_earlier_one() -> None:
    """Before: the merge carried the later of the hub's and the spoke's LAST-MODIFIED, so an
    edit made with an older clock (a second edit of one item, from another calendar) reached
    every copy with the hub's later stamp: the copies differed from what the user wrote in
    that one property. Now the stamp goes with its edit: the side that changed it against
    the base gives it (the later of the two only when both changed it, or with no base)."""
    base = ev(lm="2026-03-01T10:00:00Z")
    spoke = ev(summary="Renamed", lm="2026-03-01T09:00:00Z")  # the edit, an earlier clock
    result = merge(base, base, spoke)
    assert result.item == spoke and result.conflicts == ()
    hub = ev(location="Room 2", lm="2026-03-01T09:30:00Z")  # the hub's edit, an earlier clock
    assert merge(base, hub, base).item == hub
    both = merge(base, hub, spoke)  # both changed it: the later of the two
    assert both.item.get("last_modified") == "2026-03-01T09:30:00Z"
    assert both.item.get("summary") == "Renamed" and both.item.get("location") == "Room 2"
    assert merge(None, hub, spoke).item.get("last_modified") == "2026-03-01T09:30:00Z"


def test_policies_hub_and_spoke() -> None:
    """An operator can make the hub (or the spoke) always win a conflict."""
    base, hub, spoke = ev(), ev(summary="H", lm="2026-03-02T00:00:00Z"), ev(summary="S")
    assert merge(base, hub, spoke, ConflictPolicy.HUB).item.get("summary") == "H"
    result = merge(base, hub, spoke, ConflictPolicy.SPOKE)
    assert result.item.get("summary") == "S" and result.conflicts[0].reason == "policy spoke"


def test_tie_break_is_symmetric_and_deterministic() -> None:
    """Equal timestamps: the same value wins whichever side holds it."""
    base = ev(lm="2026-03-01T08:00:00Z")
    a = ev(summary="Alpha", lm="2026-03-01T09:00:00Z")
    b = ev(summary="Beta", lm="2026-03-01T09:00:00Z")
    assert merge(base, a, b).item.get("summary") == merge(base, b, a).item.get("summary")
    assert merge(base, a, b).conflicts[0].reason == "tie: larger value"
    # a missing timestamp on one side is a tie as well
    assert merge(base, ev(summary="Alpha"), b).item.get("summary") == "Beta"


def test_deletion_of_a_field_is_a_change() -> None:
    """Clearing the location in the spoke removes it from the hub."""
    result = merge(ev(location="Room"), ev(location="Room"), ev())
    assert "location" not in result.item.fields


def test_no_base_means_every_difference_conflicts() -> None:
    """First attach: the same UID with different content, no ancestor to tell who changed."""
    result = merge(None, ev(location="A"), ev(location="B", description="x"))
    assert {c.field for c in result.conflicts} == {"location", "description"}
    assert all(c.base is None for c in result.conflicts)


def test_uncarried_fields_keep_the_hub_value_without_conflict() -> None:
    """A spoke that cannot carry alarms never removes the hub's reminders."""
    carried = ALL - {"alarms"}
    result = merge(ev(alarms=[15]), ev(alarms=[15]), ev(), carried=carried)
    assert result.item.get("alarms") == [15] and result.conflicts == ()
    pred = merge(ev(alarms=[15]), ev(alarms=[15]), ev(), carried=lambda k: k != "alarms")
    assert pred.item == result.item


def test_recurring_series_overrides_merge_per_occurrence() -> None:
    """Two spokes edit two different occurrences and a third adds an EXDATE: all kept."""
    occ1, occ2 = "20260308T090000Z", "20260315T090000Z"
    master = {"summary": "Weekly", "start": START, "end": END, "rrule": "FREQ=WEEKLY"}
    base = Item("s", master)
    one = Item("s", master, {occ1: {"summary": "Weekly (moved)", "start": START, "end": END}})
    two = Item("s", master, {occ2: {"summary": "Weekly (cancelled)", "status": "CANCELLED"}})
    first = merge(base, base, one).item  # hub takes spoke 1
    second = merge(base, first, two).item  # spoke 2 still has base
    third = merge(base, second, Item("s", {**master, "exdates": ["20260322T090000Z"]})).item
    assert set(third.overrides) == {occ1, occ2}
    assert third.get("exdates") == ["20260322T090000Z"]


def test_override_last_modified_alone_is_no_change() -> None:
    """A server touching an exception's timestamp is not an edit of that exception."""
    occ = "override:20260308T090000Z"
    base = Item.from_flat("s", {"summary": "W", occ: {"summary": "x", "last_modified": "1"}})
    hub = Item.from_flat("s", {"summary": "W", occ: {"summary": "y", "last_modified": "1"}})
    spoke = Item.from_flat("s", {"summary": "W", occ: {"summary": "x", "last_modified": "2"}})
    result = merge(base, hub, spoke)
    assert result.conflicts == () and result.item.flat()[occ]["summary"] == "y"


def test_result_uid_is_the_hubs() -> None:
    """A spoke copy matched by content keeps the hub's identity."""
    assert merge(None, ev("hub-uid"), ev("spoke-uid", location="x")).item.uid == "hub-uid"


# --- properties ------------------------------------------------------------------------------

values = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]), st.lists(st.sampled_from("xyz"),
                   max_size=2, unique=True).map(sorted))
keys = st.sampled_from(["summary", "location", "description", "categories",
                        "override:20260308T090000Z"])
stamps = st.one_of(st.none(), st.sampled_from(["2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z"]))


@st.composite
def items(draw: st.DrawFn, uid: str = "u") -> Item:
    flat = {}
    for key in draw(st.lists(keys, unique=True, max_size=5)):
        value = draw(values)
        if value is not None:
            flat[key] = {"summary": str(value)} if key.startswith("override:") else value
    lm = draw(stamps)
    if lm is not None:
        flat["last_modified"] = lm
    return Item.from_flat(uid, flat)


def _v(item: Item | None, key: str) -> str:
    return canonical(None if item is None else item.flat().get(key))


policies = st.sampled_from(list(ConflictPolicy))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), items()), items(), items(), policies)
def test_property_each_value_comes_from_base_hub_or_spoke(base, hub, spoke, policy) -> None:  # type: ignore[no-untyped-def]
    result = merge(base, hub, spoke, policy)
    for key in set(hub.flat()) | set(spoke.flat()) | set(result.item.flat()):
        if key == "last_modified":
            continue
        assert _v(result.item, key) in {_v(base, key), _v(hub, key), _v(spoke, key)}


@settings(max_examples=200, deadline=None)
@given(items(), items(), policies)
def test_property_one_sided_change_always_wins(base, changed, policy) -> None:  # type: ignore[no-untyped-def]
    hub_side = merge(base, changed, base, policy)
    spoke_side = merge(base, base, changed, policy)
    for result in (hub_side, spoke_side):
        assert result.conflicts == ()
        assert result.item.replace(last_modified=None) == Item(
            "u", changed.fields, changed.overrides).replace(last_modified=None)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), items()), items(), items(), policies)
def test_property_conflict_iff_both_sides_changed_differently(base, hub, spoke, policy) -> None:  # type: ignore[no-untyped-def]
    result = merge(base, hub, spoke, policy)
    expected = set()
    for key in (set(hub.flat()) | set(spoke.flat()) | (set(base.flat()) if base else set())):
        if key == "last_modified":
            continue
        h, s = _v(hub, key), _v(spoke, key)
        b = _v(base, key) if base is not None else None
        if h != s and h != b and s != b:
            expected.add(key)
    assert {c.field for c in result.conflicts} == expected
    for c in result.conflicts:
        assert canonical(result.item.flat().get(c.field)) == canonical(
            c.hub_value if c.winner == "hub" else c.spoke_value)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.none(), items()), items(), items(), policies, st.randoms())
def test_property_deterministic_under_reordering(base, hub, spoke, policy, rnd) -> None:  # type: ignore[no-untyped-def]
    def shuffled(item: Item | None) -> Item | None:
        if item is None:
            return None
        pairs = list(item.flat().items())
        rnd.shuffle(pairs)
        return Item.from_flat(item.uid, dict(pairs))

    first = merge(base, hub, spoke, policy)
    again = merge(shuffled(base), shuffled(hub), shuffled(spoke), policy)
    assert again == first
    assert again.item.to_json() == first.item.to_json()


def test_property_latest_tie_break_does_not_depend_on_side() -> None:
    """Exhaustive over small values: a LATEST tie picks the same value from either side."""
    for a, b in itertools.permutations(["x", "y", None, ["p"]], 2):
        left = merge(ev(), ev(summary=a), ev(summary=b)).item.get("summary")
        right = merge(ev(), ev(summary=b), ev(summary=a)).item.get("summary")
        assert left == right


@settings(max_examples=200, deadline=None)
@given(items(), items(), policies)
def test_property_one_sided_change_keeps_its_last_modified(base, changed, policy) -> None:  # type: ignore[no-untyped-def]
    for result in (merge(base, changed, base, policy), merge(base, base, changed, policy)):
        assert result.item.get("last_modified") == changed.get("last_modified")
