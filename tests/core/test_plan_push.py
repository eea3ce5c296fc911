"""plan_push: one named test per row of the push decision table, and option combinations."""

from __future__ import annotations

from datetime import UTC, datetime

from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, HubItem, Link
from cirahub.core.ops import BumpLink, CreateInSpoke, DeleteInSpoke, UpdateInSpoke
from cirahub.core.options import NONE, Permissions, PrivateMode, SyncOptions
from cirahub.core.plan import SpokeContext
from cirahub.core.projection import project_for_spoke, spoke_fingerprint
from cirahub.core.push import plan_push

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CAPS = Capabilities()


def ev(uid: str = "u1", summary: str = "Standup", day: int = 2, month: int = 3,
       year: int = 2026, **extra: object) -> Item:
    stamp = f"{year}-{month:02d}-{day:02d}"
    return Item(uid, {"summary": summary, "start": {"utc": f"{stamp}T09:00:00Z", "tz": "UTC"},
                      "end": {"utc": f"{stamp}T10:00:00Z", "tz": "UTC"}, **extra})


def ctx(caps: Capabilities = CAPS, **options: object) -> SpokeContext:
    return SpokeContext("spoke-1", SyncOptions(**options), caps, False)  # type: ignore[arg-type]


def hub(hid: str, item: Item | None, version: int, uid: str = "u1") -> HubItem:
    return HubItem(hid, item.uid if item else uid, version, item,
                   fingerprint(item) if item else None)


def link(c: SpokeContext, h: HubItem, content: Item, version: int, rid: str = "r1") -> Link:
    fp = spoke_fingerprint(project_for_spoke(content, c.options, c.capabilities), c.options,
                           c.capabilities)
    return Link(c.spoke_id, h.id, h.uid, rid, "v1", fp, version)


def push(c: SpokeContext, *pairs: tuple[HubItem, Link | None]):  # type: ignore[no-untyped-def]
    links = {h.id: ln for h, ln in pairs if ln is not None}
    return plan_push(c, [h for h, _ in pairs], links, NOW)


def test_tombstone_with_link_deletes_in_the_spoke() -> None:
    """A meeting deleted in one calendar is deleted in every other one."""
    c = ctx()
    h = hub("h1", None, 3)
    plan = push(c, (h, link(c, h, ev(), 2)))
    assert plan.ops == (DeleteInSpoke("h1", 3, "r1", "v1", "deleted"),)
    assert plan.stats["delete_in_spoke"] == 1


def test_tombstone_without_link_or_without_delete_right_is_nothing() -> None:
    """Never-synced items need no delete; a spoke the hub may not delete from keeps it."""
    c = ctx()
    assert push(c, (hub("h1", None, 3), None)).ops == ()
    keep = ctx(hub_writes=Permissions(True, True, False))
    h = hub("h1", None, 3)
    assert push(keep, (h, link(keep, h, ev(), 2))).ops == ()


def test_item_leaving_a_filter_is_removed_from_the_spoke_as_filtered() -> None:
    """A meeting marked private leaves a skip-private spoke; the hub item stays alive."""
    c = ctx(private=PrivateMode.SKIP)
    h = hub("h1", ev(privacy="PRIVATE"), 4)
    plan = push(c, (h, link(c, h, ev(), 3)))
    assert plan.ops == (DeleteInSpoke("h1", 4, "r1", "v1", "filtered"),)
    # unlinked and filtered: not created
    assert push(c, (hub("h2", ev("u2", privacy="PRIVATE"), 1), None)).ops == ()
    # filtered but no delete right: left as it was (not updated with private content)
    no_del = ctx(private=PrivateMode.SKIP, hub_writes=Permissions(True, True, False))
    assert push(no_del, (h, link(no_del, h, ev(), 3))).ops == ()


def test_new_hub_item_is_created_projected() -> None:
    """A meeting added elsewhere appears here, tagged, with the written fingerprint."""
    c = ctx(tag_category="Hub")
    h = hub("h1", ev(), 1)
    (op,) = push(c, (h, None)).ops
    assert isinstance(op, CreateInSpoke) and op.hub_version == 1
    assert op.item.get("categories") == ["Hub"]
    assert op.fingerprint == spoke_fingerprint(op.item, c.options, CAPS)


def test_creation_is_windowed_but_linked_copies_stay_current() -> None:
    """Old items are not copied into a 30-day spoke, but a linked one still gets edits."""
    c = ctx(days_back=10, days_ahead=30)
    old = hub("h1", ev(year=2025, month=1, day=5), 2)
    assert push(c, (old, None)).ops == ()
    edited = hub("h1", ev(summary="Renamed", year=2025, month=1, day=5), 3)
    (op,) = push(c, (edited, link(c, edited, ev(year=2025, month=1, day=5), 2))).ops
    assert isinstance(op, UpdateInSpoke) and op.item.get("summary") == "Renamed"


def test_changed_hub_item_updates_the_spoke_conditionally() -> None:
    """A renamed meeting is written with If-Match on the last known version."""
    c = ctx()
    h = hub("h1", ev(summary="Retro"), 5)
    plan = push(c, (h, link(c, h, ev(), 4)))
    projected = project_for_spoke(ev(summary="Retro"), c.options, CAPS)
    assert plan.ops == (UpdateInSpoke("h1", 5, "r1", "v1", projected,
                                      spoke_fingerprint(projected, c.options, CAPS)),)


def test_change_the_spoke_cannot_see_only_bumps_the_link() -> None:
    """The hub changed an alarm; a spoke without reminders has nothing to write."""
    c = ctx(reminders=False)
    h = hub("h1", ev(alarms=[30]), 5)
    assert push(c, (h, link(c, h, ev(alarms=[15]), 4))).ops == (BumpLink("h1", 5),)
    # and a link already at that version needs nothing at all
    assert push(c, (h, link(c, h, ev(alarms=[15]), 5))).ops == ()


def test_feed_only_spoke_receives_nothing() -> None:
    """hub_writes none: the spoke only feeds the hub."""
    c = ctx(hub_writes=NONE)
    h_new, h_upd, h_del = hub("a", ev("a"), 2), hub("b", ev("b", summary="x"), 2), hub("c", None, 2)
    plan = push(c, (h_new, None), (h_upd, link(c, h_upd, ev("b"), 1, "rb")),
                (h_del, link(c, h_del, ev("c"), 1, "rc")))
    assert plan.ops == ()


def test_read_only_spoke_kind_receives_nothing_even_if_allowed() -> None:
    """An ics-url feed cannot be written whatever its options say."""
    c = ctx(caps=Capabilities(read_only=True))
    assert push(c, (hub("a", ev("a"), 2), None)).ops == ()


def test_create_only_spoke() -> None:
    """hub_writes create: new items are copied, but never rewritten or deleted there."""
    c = ctx(hub_writes=Permissions(True, False, False))
    h_new, h_upd = hub("a", ev("a"), 2), hub("b", ev("b", summary="x"), 2)
    plan = push(c, (h_upd, link(c, h_upd, ev("b"), 1, "rb")), (h_new, None), (hub("c", None, 3),
                link(c, hub("c", None, 3), ev("c"), 1, "rc")))
    assert [type(op) for op in plan.ops] == [CreateInSpoke]


def test_busy_mode_writes_a_busy_block() -> None:
    """A private item reaches a shared calendar only as a busy block."""
    c = ctx(private=PrivateMode.BUSY)
    (op,) = push(c, (hub("h1", ev(summary="Doctor", privacy="PRIVATE"), 1), None)).ops
    assert op.item.get("summary") == "Busy"


def test_push_is_sorted_and_takes_the_newest_candidate() -> None:
    """The same hub item listed twice is planned once at its newest version."""
    c = ctx()
    plan = plan_push(c, [hub("b", ev("b"), 1), hub("a", ev("a"), 1), hub("b", ev("b", "x"), 3)],
                     {}, NOW)
    assert [(op.hub_item_id, op.hub_version) for op in plan.ops] == [("a", 1), ("b", 3)]
    assert plan.stats == {"create_in_spoke": 2, "update_in_spoke": 0, "delete_in_spoke": 0,
                          "bump_link": 0}
