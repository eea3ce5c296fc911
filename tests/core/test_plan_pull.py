"""plan_pull: one named test per row of the pull decision table (DESIGN.md, step 2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime

from cirahub.core.fingerprint import fingerprint, match_key
from cirahub.core.item import Item
from cirahub.core.model import (
    Capabilities,
    DeletedCopy,
    Delta,
    HubItem,
    Link,
    PendingWrite,
    RemoteItem,
)
from cirahub.core.ops import (
    CreateHubItem,
    DropLink,
    LinkOnly,
    Quarantine,
    TombstoneHubItem,
    UpdateHubItem,
)
from cirahub.core.options import ConflictPolicy, Permissions, PrivateMode, SyncOptions
from cirahub.core.plan import HubView, PullPlan, SpokeContext, plan_pull
from cirahub.core.projection import project_for_spoke, spoke_fingerprint

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CAPS = Capabilities()
MIRROR = Permissions(False, False, False)


def ev(uid: str = "u1", summary: str = "Standup", day: int = 2, **extra: object) -> Item:
    fields = {
        "summary": summary,
        "start": {"utc": f"2026-03-{day:02d}T09:00:00Z", "tz": "UTC"},
        "end": {"utc": f"2026-03-{day:02d}T10:00:00Z", "tz": "UTC"},
        **extra,
    }
    return Item(uid, {k: v for k, v in fields.items() if v is not None})


def ctx(first_attach: bool = False, caps: Capabilities = CAPS, **options: object) -> SpokeContext:
    return SpokeContext("spoke-1", SyncOptions(**options), caps, first_attach)  # type: ignore[arg-type]


def hub(hid: str, item: Item | None, version: int, uid: str | None = None) -> HubItem:
    uid = uid or (item.uid if item else "?")
    return HubItem(hid, uid, version, item, fingerprint(item) if item else None)


def link(c: SpokeContext, rid: str, h: HubItem, content: Item, version: int | None = None,
         rv: str = "v1") -> Link:
    """The link the cycle stores after writing ``content`` (hub content) to the spoke."""
    written = project_for_spoke(content, c.options, c.capabilities)
    fp = spoke_fingerprint(written, c.options, c.capabilities)
    return Link(c.spoke_id, h.id, h.uid, rid, rv, fp, h.version if version is None else version)


def written(c: SpokeContext, item: Item) -> Item:
    return project_for_spoke(item, c.options, c.capabilities)


def view(items: Iterable[HubItem] = (), links: Iterable[Link] = (),
         bases: dict[tuple[str, int], Item | None] | None = None, first_attach: bool = False,
         pending: Iterable[PendingWrite] = (),
         deleted_copies: Iterable[DeletedCopy] = ()) -> HubView:
    items = list(items)
    alive = [h for h in items if h.item is not None]
    return HubView(
        by_id={h.id: h for h in items},
        by_uid={h.uid: h for h in alive},
        by_match_key={k: h for h in alive if (k := match_key(h.item)) is not None} if first_attach
        else {},
        bases=bases or {},
        linked_in_spoke={ln.hub_item_id: ln.remote_id for ln in links},
        pending={p.hub_item_id: tuple(w for w in pending if w.hub_item_id == p.hub_item_id)
                 for p in pending},
        deleted_copies={d.hub_item_id: d for d in deleted_copies},
    )


def pull(c: SpokeContext, changed: Iterable[RemoteItem] = (), deleted: Iterable[str] = (),
         links: Iterable[Link] = (), hub_view: HubView | None = None,
         policy: ConflictPolicy = ConflictPolicy.LATEST, complete: bool = False,
         size: int | None = None, allow: bool = False) -> PullPlan:
    links = list(links)
    delta = Delta(tuple(changed), tuple(deleted), None, complete, size)
    return plan_pull(c, delta, {ln.remote_id: ln for ln in links}, hub_view or view(links=links),
                     policy, NOW, allow_mass_delete=allow)


def synced(c: SpokeContext, hid: str, item: Item, version: int = 1, rid: str = "r1"):  # type: ignore[no-untyped-def]
    """A hub item in sync with its spoke copy: (hub item, link, bases)."""
    h = hub(hid, item, version)
    return h, link(c, rid, h, item), {(hid, version): item}


# --- row 1: malformed ---------------------------------------------------------------------------


def test_row1_malformed_item_is_quarantined_and_its_link_untouched() -> None:
    """An Exchange item that fails to parse is reported with its raw text, never deleted."""
    c = ctx()
    h, ln, bases = synced(c, "h1", ev())
    plan = pull(c, [RemoteItem("r1", "v2", None, error="bad DTSTART", raw="BEGIN:VEVENT")],
                links=[ln], hub_view=view([h], [ln], bases))
    assert plan.ops == (Quarantine("r1", "v2", "malformed", "bad DTSTART", raw="BEGIN:VEVENT"),)
    assert plan.touched == frozenset() and plan.stats["quarantine"] == 1


# --- row 2: duplicate UIDs ----------------------------------------------------------------------


def test_row2_new_item_with_a_linked_items_uid_is_quarantined() -> None:
    """Someone copy-pasted an event in a public folder: the copy is not fanned out."""
    c = ctx()
    h, ln, bases = synced(c, "h1", ev())
    plan = pull(c, [RemoteItem("r9", "v1", ev(summary="Copy"))], links=[ln],
                hub_view=view([h], [ln], bases))
    (op,) = plan.ops
    assert isinstance(op, Quarantine) and op.reason == "duplicate-uid" and op.uid == "u1"
    assert "r1" in op.detail


def test_row2_two_new_items_with_one_uid_keep_the_smallest_remote_id() -> None:
    """Two new copies arrive in one delta: the smaller remote id is imported."""
    plan = pull(ctx(), [RemoteItem("r2", "v1", ev()), RemoteItem("r1", "v1", ev())])
    assert [type(op).__name__ for op in plan.ops] == ["CreateHubItem", "Quarantine"]
    assert plan.ops[0].remote_id == "r1" and plan.ops[1].remote_id == "r2"


def test_row2_uid_of_a_deleted_link_is_free_again() -> None:
    """A file renamed in a vdir (delete + create, same UID) is a move, not a duplicate."""
    c = ctx()
    h, ln, bases = synced(c, "h1", ev())
    plan = pull(c, [RemoteItem("r2", "v1", written(c, ev()))], deleted=["r1"], links=[ln],
                hub_view=view([h], [ln], bases))
    assert plan.ops == (DropLink("r1", "h1"), LinkOnly("r2", "v1", "h1", ln.fingerprint, 1))


# --- row 3: linked items ------------------------------------------------------------------------


def test_row3a_echo_of_our_own_write_is_a_no_op() -> None:
    """Reading back what the push wrote (same version) changes nothing."""
    c = ctx(tag_category="Hub")
    h, ln, bases = synced(c, "h1", ev())
    plan = pull(c, [RemoteItem("r1", "v1", written(c, ev()))], links=[ln],
                hub_view=view([h], [ln], bases))
    assert plan.ops == () and plan.touched == frozenset()


def test_row3a_version_only_change_refreshes_the_remote_version() -> None:
    """Exchange bumped the ChangeKey without a change in meaning: only the link moves."""
    c = ctx()
    h, ln, bases = synced(c, "h1", ev())
    plan = pull(c, [RemoteItem("r1", "v7", written(c, ev()))], links=[ln],
                hub_view=view([h], [ln], bases))
    assert plan.ops == (LinkOnly("r1", "v7", "h1", ln.fingerprint, 1),)


def test_row3a_pending_write_read_back_is_our_echo_not_an_edit() -> None:
    """Row 3a': the push sent v2 and never heard back (answer lost), the owner renamed it
    again (hub v3). The spoke holding v2 is our own echo: the link moves to v2, no hub change,
    no conflict, and the push looks at the item (it writes v3)."""
    c = ctx()
    _h, ln, _ = synced(c, "h1", ev())
    sent, now = ev(summary="v2"), ev(summary="v3", last_modified="2026-03-01T09:00:00Z")
    fp_sent = spoke_fingerprint(written(c, sent), c.options, CAPS)
    h3 = hub("h1", now, 3)
    plan = pull(c, [RemoteItem("r1", "v2", written(c, sent))], links=[ln],
                hub_view=view([h3], [ln], {("h1", 1): ev(), ("h1", 2): sent},
                              pending=[PendingWrite("h1", fp_sent, 2)]))
    assert plan.ops == (LinkOnly("r1", "v2", "h1", fp_sent, 2),)
    assert plan.touched == {"h1"} and not plan.conflicts and plan.stats["conflicts"] == 0


def test_row3a_earlier_of_two_pending_writes_read_back_is_our_echo() -> None:
    """Row 3a': the push sent v2 (answer lost, applied), then v3 before any pull (refused: the
    spoke's version had moved). The spoke holding v2 is still our own echo, though a later
    write was sent since: no conflict, the link moves to v2 and the push writes v3."""
    c = ctx()
    _h, ln, _ = synced(c, "h1", ev())
    v2, v3 = ev(summary="v2"), ev(summary="v3", last_modified="2026-03-01T09:00:00Z")
    fp2, fp3 = (spoke_fingerprint(written(c, i), c.options, CAPS) for i in (v2, v3))
    plan = pull(c, [RemoteItem("r1", "v2", written(c, v2))], links=[ln],
                hub_view=view([hub("h1", v3, 3)], [ln], {("h1", 1): ev(), ("h1", 2): v2},
                              pending=[PendingWrite("h1", fp2, 2), PendingWrite("h1", fp3, 3)]))
    assert plan.ops == (LinkOnly("r1", "v2", "h1", fp2, 2),)
    assert plan.touched == {"h1"} and not plan.conflicts and plan.stats["conflicts"] == 0


def test_row3a_pending_write_does_not_hide_a_real_spoke_edit() -> None:
    """A copy that is neither the link's nor the pending write's content is an edit (row 3d)."""
    c = ctx()
    _h, ln, bases = synced(c, "h1", ev())
    fp_sent = spoke_fingerprint(written(c, ev(summary="v2")), c.options, CAPS)
    plan = pull(c, [RemoteItem("r1", "v2", written(c, ev(summary="Retro")))], links=[ln],
                hub_view=view([hub("h1", ev(), 1)], [ln], bases,
                              pending=[PendingWrite("h1", fp_sent, 2)]))
    (op,) = plan.ops
    assert isinstance(op, UpdateHubItem) and op.item == ev(summary="Retro")


def test_row3b_mirror_edit_is_not_taken_and_the_push_reverts_it() -> None:
    """A user edits a read-only mirror: the hub keeps its content and rewrites the copy."""
    c = ctx(contributes=MIRROR)
    h, ln, bases = synced(c, "h1", ev())
    plan = pull(c, [RemoteItem("r1", "v2", ev(summary="Hacked"))], links=[ln],
                hub_view=view([h], [ln], bases))
    fp = spoke_fingerprint(ev(summary="Hacked"), c.options, CAPS)
    assert plan.ops == (LinkOnly("r1", "v2", "h1", fp, 1),)
    assert plan.touched == {"h1"}


def test_row3c_edit_in_spoke_resurrects_an_item_deleted_in_the_hub() -> None:
    """Deleted on one calendar, edited on another: the edit wins, the delete is logged."""
    c = ctx(reminders=False)
    alive = ev(alarms=[15])
    _h_alive, ln, bases = synced(c, "h1", alive)
    tomb = hub("h1", None, 2, uid="u1")
    edited = ev(summary="Standup (moved)", day=3)
    plan = pull(c, [RemoteItem("r1", "v2", edited)], links=[ln],
                hub_view=view([tomb], [ln], bases))
    (op,) = plan.ops
    assert isinstance(op, UpdateHubItem) and op.resurrect and op.expected_version == 2
    # the spoke's edit, plus what it cannot carry (alarms) from the last alive version
    assert op.item == ev(summary="Standup (moved)", day=3, alarms=[15])
    assert op.in_sync and op.base_version == 1
    assert [r.kind for r in op.conflicts] == ["edit-vs-delete"]


def test_row3c_revived_item_keeps_hub_edits_made_before_the_delete() -> None:
    """Another calendar retitled the item and a third then deleted it; this calendar (still on
    the old title) moved it. The edit wins over the delete and merges with the retitle."""
    c = ctx()
    _h, ln, bases = synced(c, "h1", ev(location="Room 1"))
    tomb = hub("h1", None, 3, uid="u1")
    before_delete = ev(summary="Standup (renamed)", location="Room 1")
    hub_view = replace(view([tomb], [ln], bases), last_alive={"h1": before_delete})
    moved = ev(location="Room 9")
    plan = pull(c, [RemoteItem("r1", "v2", moved)], links=[ln], hub_view=hub_view)
    (op,) = plan.ops
    assert isinstance(op, UpdateHubItem) and op.resurrect and op.expected_version == 3
    assert op.item == ev(summary="Standup (renamed)", location="Room 9")
    assert not op.in_sync and plan.touched == {"h1"}  # the spoke still shows the old title
    assert [r.kind for r in op.conflicts] == ["edit-vs-delete"]


def test_regression_row3c_echo_of_a_lost_write_answer_does_not_beat_a_delete() -> None:
    """The hub wrote a new version to the spoke but the answer was lost (the link still holds
    the old fingerprint); the item was then deleted elsewhere. The spoke's copy is exactly what
    the hub held before the delete: no one edited it, so the delete goes on (found by the chaos
    soak and the CalDAV fault test: a user's delete was lost to a false edit-vs-delete)."""
    c = ctx()
    _h, ln, bases = synced(c, "h1", ev())
    tomb = hub("h1", None, 3, uid="u1")
    last_written = ev(summary="Standup (renamed)")
    hub_view = replace(view([tomb], [ln], bases), last_alive={"h1": last_written})
    plan = pull(c, [RemoteItem("r1", "v2", written(c, last_written))], links=[ln],
                hub_view=hub_view)
    fp = spoke_fingerprint(written(c, last_written), c.options, CAPS)
    assert plan.ops == (LinkOnly("r1", "v2", "h1", fp, 1),)
    assert not plan.conflicts


def test_row3d_spoke_edit_with_unchanged_hub_updates_the_hub() -> None:
    """The common case: someone renames a meeting in one calendar."""
    c = ctx(tag_category="Hub")
    h, ln, bases = synced(c, "h1", ev())
    remote = written(c, ev(summary="Retro"))
    plan = pull(c, [RemoteItem("r1", "v2", remote)], links=[ln], hub_view=view([h], [ln], bases))
    (op,) = plan.ops
    assert isinstance(op, UpdateHubItem) and not op.resurrect
    assert op.item == ev(summary="Retro")  # the tag is not imported
    assert op.in_sync and op.expected_version == 1 and op.base_version == 1
    assert op.fingerprint == spoke_fingerprint(remote, c.options, CAPS)
    assert op.conflicts == () and plan.touched == frozenset()


def test_row3d_concurrent_edits_of_different_fields_keep_both() -> None:
    """Hub moved the room, the spoke renamed it: both survive; the spoke gets the room."""
    c = ctx()
    _h1, ln, _ = synced(c, "h1", ev())
    h2 = hub("h1", ev(location="Room 2"), 2)
    plan = pull(c, [RemoteItem("r1", "v2", ev(summary="Retro"))], links=[ln],
                hub_view=view([h2], [ln], {("h1", 1): ev()}))
    (op,) = plan.ops
    assert op.item == ev(summary="Retro", location="Room 2") and op.conflicts == ()
    assert not op.in_sync and op.base_version == 1 and plan.touched == {"h1"}


def test_row3d_same_field_conflict_follows_policy_and_keeps_the_loser() -> None:
    """Both renamed the meeting: latest wins, the losing title is in the conflict log."""
    c = ctx()
    _, ln, _ = synced(c, "h1", ev())
    h2 = hub("h1", ev(summary="Hub", last_modified="2026-03-01T10:00:00Z"), 2)
    remote = ev(summary="Spoke", last_modified="2026-03-01T11:00:00Z")
    plan = pull(c, [RemoteItem("r1", "v2", remote)], links=[ln],
                hub_view=view([h2], [ln], {("h1", 1): ev()}))
    (op,) = plan.ops
    assert op.item.get("summary") == "Spoke" and op.in_sync
    (record,) = op.conflicts
    assert record.kind == "field" and record.losing_item == h2.item.to_json()
    assert record.fields[0].hub_value == "Hub" and record.fields[0].winner == "spoke"
    assert plan.stats["conflicts"] == 1


def test_row3d_hub_winning_every_conflict_refreshes_only_the_link() -> None:
    """Hub policy: the spoke's rival edit is logged and overwritten by the push."""
    c = ctx()
    _, ln, _ = synced(c, "h1", ev())
    h2 = hub("h1", ev(summary="Hub"), 2)
    plan = pull(c, [RemoteItem("r1", "v2", ev(summary="Spoke"))], links=[ln],
                hub_view=view([h2], [ln], {("h1", 1): ev()}), policy=ConflictPolicy.HUB)
    fp = spoke_fingerprint(ev(summary="Spoke"), c.options, CAPS)
    (record,) = plan.conflicts
    assert plan.ops == (LinkOnly("r1", "v2", "h1", fp, 1, conflicts=(record,)),)
    assert record.losing_item == ev(summary="Spoke").to_json() and plan.touched == {"h1"}


def test_row3d_same_change_on_both_sides_moves_the_link_to_the_hub_version() -> None:
    """Two people made the identical edit: nothing to write anywhere."""
    c = ctx()
    _, ln, _ = synced(c, "h1", ev())
    h2 = hub("h1", ev(summary="Retro"), 2)
    plan = pull(c, [RemoteItem("r1", "v2", ev(summary="Retro"))], links=[ln],
                hub_view=view([h2], [ln], {("h1", 1): ev()}))
    assert plan.ops == (LinkOnly("r1", "v2", "h1", spoke_fingerprint(ev(summary="Retro"),
                                                                      c.options, CAPS), 2),)
    assert plan.touched == frozenset()


def test_row3d_lossy_spoke_never_erases_what_it_cannot_carry() -> None:
    """A spoke without reminders renames a meeting: the hub's alarms stay."""
    caps = Capabilities(unsupported_fields=frozenset({"alarms"}))
    c = ctx(caps=caps)
    h, ln, bases = synced(c, "h1", ev(alarms=[15]))
    plan = pull(c, [RemoteItem("r1", "v2", ev(summary="Retro"))], links=[ln],
                hub_view=view([h], [ln], bases))
    (op,) = plan.ops
    assert op.item == ev(summary="Retro", alarms=[15]) and op.in_sync


def test_row3d_lossy_spoke_editing_an_occurrence_keeps_its_hidden_fields() -> None:
    """A spoke without reminders renames one occurrence while the hub changed that
    occurrence's reminder: both kept, no conflict, and the occurrence keeps its alarm."""
    c = ctx(reminders=False)
    occ = "20260309T090000Z"
    master = {"summary": "Weekly", "start": ev().get("start"), "end": ev().get("end"),
              "rrule": "FREQ=WEEKLY"}

    def series(summary: str, alarms: list[int]) -> Item:
        return Item("s", master, {occ: {**master, "summary": summary, "alarms": alarms}})

    _, ln, _ = synced(c, "h1", series("Weekly", [10]))
    h2 = hub("h1", series("Weekly", [30]), 2)
    remote = written(c, series("Weekly (guest)", [10]))
    assert "alarms" not in remote.overrides[occ]
    plan = pull(c, [RemoteItem("r1", "v2", remote)], links=[ln],
                hub_view=view([h2], [ln], {("h1", 1): series("Weekly", [10])}))
    (op,) = plan.ops
    assert op.item == series("Weekly (guest)", [30]) and op.conflicts == () and op.in_sync


def test_row3d_busy_block_moved_in_spoke_keeps_the_real_title() -> None:
    """A private meeting shown as "Busy" is moved in the shared calendar: only times flow."""
    c = ctx(private=PrivateMode.BUSY)
    secret = ev(summary="Doctor", location="Clinic", privacy="PRIVATE")
    h, ln, bases = synced(c, "h1", secret)
    moved = written(c, ev(summary="Doctor", location="Clinic", privacy="PRIVATE", day=4))
    assert moved.get("summary") == "Busy"
    plan = pull(c, [RemoteItem("r1", "v2", moved)], links=[ln], hub_view=view([h], [ln], bases))
    (op,) = plan.ops
    assert op.item == ev(summary="Doctor", location="Clinic", privacy="PRIVATE", day=4)
    assert op.in_sync


# --- row 4: not linked --------------------------------------------------------------------------


def test_row4a_item_outside_the_window_is_not_imported() -> None:
    """A spoke synced for the next 30 days does not import last year's events."""
    c = ctx(days_back=10, days_ahead=30)
    old = Item("old", {"summary": "Old", "start": {"utc": "2025-01-01T09:00:00Z", "tz": "UTC"},
                       "end": {"utc": "2025-01-01T10:00:00Z", "tz": "UTC"}})
    plan = pull(c, [RemoteItem("r1", "v1", old)])
    assert plan.ops == () and plan.stats["ignored"] == 1


def test_row4a_filtered_items_are_not_imported() -> None:
    """Category include list and tentative off keep unrelated items out of the hub."""
    c = ctx(categories_include=frozenset({"Team"}), tentative=False)
    plan = pull(c, [RemoteItem("r1", "v1", ev("a")),
                    RemoteItem("r2", "v1", ev("b", categories=["Team"], status="TENTATIVE")),
                    RemoteItem("r3", "v1", ev("c", categories=["Team"]))])
    assert [op.remote_id for op in plan.ops] == ["r3"] and plan.stats["ignored"] == 2


def test_row4b_same_uid_same_content_is_linked() -> None:
    """Re-attaching a calendar that already holds the hub's items creates nothing."""
    c = ctx()
    h = hub("h1", ev(), 5)
    plan = pull(c, [RemoteItem("r1", "v1", ev())], hub_view=view([h]))
    assert plan.ops == (LinkOnly("r1", "v1", "h1", spoke_fingerprint(ev(), c.options, CAPS), 5),)


def test_row4b_first_attach_matches_by_summary_and_times() -> None:
    """A calendar copied by hand (other UIDs) is matched by content on first attach only."""
    h = hub("h1", ev("hub-uid"), 3)
    first = pull(ctx(first_attach=True), [RemoteItem("r1", "v1", ev("copy-uid"))],
                 hub_view=view([h], first_attach=True))
    assert first.ops == (LinkOnly("r1", "v1", "h1", first.ops[0].fingerprint, 3),)
    later = pull(ctx(), [RemoteItem("r1", "v1", ev("copy-uid"))], hub_view=view([h]))
    assert isinstance(later.ops[0], CreateHubItem)


def test_row4b_match_already_linked_in_this_spoke_is_quarantined() -> None:
    """Two identical-looking copies on first attach: only one may be the hub item's copy."""
    c = ctx(first_attach=True)
    h, ln, bases = synced(c, "h1", ev("hub-uid"))
    plan = pull(c, [RemoteItem("r2", "v1", ev("dup-uid"))], links=[ln],
                hub_view=view([h], [ln], bases, first_attach=True))
    (op,) = plan.ops
    assert isinstance(op, Quarantine) and op.reason == "duplicate-content" and "r1" in op.detail


def test_row4b_two_new_copies_matching_one_hub_item_link_only_one() -> None:
    """The second of two matches in one delta is quarantined, not linked twice."""
    c = ctx(first_attach=True)
    h = hub("h1", ev("hub-uid"), 1)
    plan = pull(c, [RemoteItem("r2", "v1", ev("x")), RemoteItem("r1", "v1", ev("y"))],
                hub_view=view([h], first_attach=True))
    assert [type(op).__name__ for op in plan.ops] == ["LinkOnly", "Quarantine"]
    assert plan.ops[0].remote_id == "r1"


def test_row4b_same_uid_different_content_merges_without_base() -> None:
    """First attach with diverged copies: every difference is a conflict settled by policy."""
    c = ctx()
    h = hub("h1", ev(location="A", last_modified="2026-03-01T08:00:00Z"), 4)
    remote = ev(location="B", last_modified="2026-03-01T09:00:00Z")
    plan = pull(c, [RemoteItem("r1", "v1", remote)], hub_view=view([h]))
    (op,) = plan.ops
    assert isinstance(op, UpdateHubItem) and op.item.get("location") == "B"
    assert op.conflicts[0].fields[0].base is None and op.expected_version == 4


def test_row4b_read_back_of_a_pending_create_after_a_hub_edit_is_our_echo() -> None:
    """Row 4b': the push created v1 here and never heard back (no link), then the owner
    renamed it (hub v2, a tie on LAST-MODIFIED). The copy is our own create, not a rival
    version: linked at v1, no conflict, and the push writes v2."""
    c = ctx()
    sent, now = ev(summary="v1"), ev(summary="v2")
    fp = spoke_fingerprint(written(c, sent), c.options, CAPS)
    plan = pull(c, [RemoteItem("r1", "e1", written(c, sent))],
                hub_view=view([hub("h1", now, 2)], pending=[PendingWrite("h1", fp, 1)]))
    assert plan.ops == (LinkOnly("r1", "e1", "h1", fp, 1),)
    assert plan.touched == {"h1"} and not plan.conflicts and plan.stats["conflicts"] == 0


def test_row4b_pending_create_does_not_hide_an_edited_copy() -> None:
    """A copy that is not what the create sent is merged as before (no known base)."""
    c = ctx()
    fp = spoke_fingerprint(written(c, ev(summary="v1")), c.options, CAPS)
    plan = pull(c, [RemoteItem("r1", "e1", ev(summary="Mine"))],
                hub_view=view([hub("h1", ev(summary="v2"), 2)], pending=[PendingWrite("h1", fp, 1)]))
    assert [f.field for r in plan.conflicts for f in r.fields] == ["summary"]


def test_row4b_pending_create_of_an_item_deleted_since_is_linked_for_its_delete() -> None:
    """Row 4b': our create whose answer was lost, and the owner deleted the item since: the
    copy is linked to the tombstone (the push deletes it), not imported as a new item."""
    c = ctx()
    sent = ev(summary="v1")
    fp = spoke_fingerprint(written(c, sent), c.options, CAPS)
    plan = pull(c, [RemoteItem("r1", "e1", written(c, sent))],
                hub_view=view([hub("h1", None, 2, uid="u1")], pending=[PendingWrite("h1", fp, 1)]))
    assert plan.ops == (LinkOnly("r1", "e1", "h1", fp, 1),) and plan.touched == {"h1"}


def test_row4b2_the_deleted_copy_back_as_it_was_is_linked_for_its_delete() -> None:
    """Row 4b'': the push deleted this spoke's copy (the item was deleted in the hub), then
    the copy came back exactly as it was (a create of ours delivered late): linked to the
    tombstone, so the push deletes it again; not imported as a new item."""
    c = ctx()
    copy = written(c, ev(summary="v1"))
    fp = spoke_fingerprint(copy, c.options, CAPS)
    plan = pull(c, [RemoteItem("r1", "e2", copy)],
                hub_view=view([hub("h1", None, 3, uid="u1")],
                              deleted_copies=[DeletedCopy("h1", fp, 2)]))
    assert plan.ops == (LinkOnly("r1", "e2", "h1", fp, 2),) and plan.touched == {"h1"}
    assert not plan.conflicts


def test_row4b2_a_changed_copy_or_a_revived_item_is_not_our_late_write() -> None:
    """A copy that differs from the one deleted is the spoke's new item (4c); with the hub
    item alive again (same UID), the copy is matched to it as usual (4b)."""
    c = ctx()
    fp = spoke_fingerprint(written(c, ev(summary="v1")), c.options, CAPS)
    changed = pull(c, [RemoteItem("r1", "e2", ev(summary="Mine"))],
                   hub_view=view([hub("h1", None, 3, uid="u1")],
                                 deleted_copies=[DeletedCopy("h1", fp, 2)]))
    assert [type(op).__name__ for op in changed.ops] == ["CreateHubItem"]
    other = pull(c, [RemoteItem("r1", "e2", written(c, ev(summary="v1")))],
                 hub_view=view([hub("h1", None, 3, uid="u1"), hub("h2", ev(summary="v1"), 5)],
                               deleted_copies=[DeletedCopy("h1", fp, 2)]))
    assert [(type(op).__name__, op.hub_item_id) for op in other.ops] == [("LinkOnly", "h2")]


def test_row4b_mirror_copy_with_other_content_is_linked_and_overwritten() -> None:
    """A mirror's stale copy is adopted, and the push brings it up to date."""
    c = ctx(contributes=MIRROR)
    h = hub("h1", ev(location="A"), 4)
    plan = pull(c, [RemoteItem("r1", "v1", ev(location="B"))], hub_view=view([h]))
    (op,) = plan.ops
    assert isinstance(op, LinkOnly) and op.hub_version == 4 and plan.touched == {"h1"}


def test_row4c_new_item_is_created_in_the_hub() -> None:
    """Someone adds a meeting in one calendar; it joins the hub (without our tag)."""
    c = ctx(tag_category="Hub", meetings_as_appointments=True)
    remote = ev("new", categories=["Hub", "Team"], attendees=[{"email": "a@x.org"}])
    plan = pull(c, [RemoteItem("r1", "v1", remote)])
    assert plan.ops == (CreateHubItem("r1", "v1", ev("new", categories=["Team"]),
                                      spoke_fingerprint(remote, c.options, CAPS)),)


def test_row4c_mirror_local_item_is_left_alone() -> None:
    """A local item in a mirror is neither imported nor deleted."""
    plan = pull(ctx(contributes=Permissions(False, True, True)), [RemoteItem("r1", "v1", ev())])
    assert plan.ops == () and plan.stats["ignored"] == 1


# --- row 5: deletions ---------------------------------------------------------------------------


def test_row5_deletion_of_an_unlinked_item_is_nothing() -> None:
    """An item we never synced disappears: not our business."""
    assert pull(ctx(), deleted=["zz"]).ops == ()


def test_row5_deletion_of_an_item_already_deleted_in_the_hub_drops_the_link() -> None:
    """Both sides deleted it: forget the link."""
    c = ctx()
    _, ln, _bases = synced(c, "h1", ev())
    plan = pull(c, deleted=["r1"], links=[ln], hub_view=view([hub("h1", None, 2, "u1")], [ln]))
    assert plan.ops == (DropLink("r1", "h1"),)


def test_row5_spoke_that_may_not_delete_gets_the_item_back() -> None:
    """Someone deletes in a mirror: the hub keeps it and the push re-creates it."""
    c = ctx(contributes=Permissions(True, True, False))
    h, ln, bases = synced(c, "h1", ev())
    plan = pull(c, deleted=["r1"], links=[ln], hub_view=view([h], [ln], bases))
    assert plan.ops == (DropLink("r1", "h1"),) and plan.touched == {"h1"}


def test_row5_delete_after_hub_edit_is_beaten_by_the_edit() -> None:
    """Secretary reschedules in the hub while a laptop deletes: the meeting stays."""
    c = ctx()
    _, ln, _ = synced(c, "h1", ev())
    h2 = hub("h1", ev(day=5), 2)
    plan = pull(c, deleted=["r1"], links=[ln], hub_view=view([h2], [ln], {("h1", 1): ev()}))
    (record,) = plan.conflicts
    assert plan.ops == (DropLink("r1", "h1", conflicts=(record,)),) and plan.touched == {"h1"}
    assert record.kind == "edit-vs-delete" and record.hub_item_id == "h1"


def test_row5_delete_of_an_unchanged_item_tombstones_it() -> None:
    """A meeting cancelled (deleted) in one calendar disappears from the hub."""
    c = ctx()
    _, ln, _ = synced(c, "h1", ev())
    # a newer hub version with the same meaning (e.g. only last_modified) is not an edit
    h2 = hub("h1", ev(last_modified="2026-03-01T11:00:00Z"), 2)
    plan = pull(c, deleted=["r1"], links=[ln], hub_view=view([h2], [ln], {("h1", 1): ev()}))
    assert plan.ops == (TombstoneHubItem("h1", 2, "r1"),)


# --- row 6: safety ------------------------------------------------------------------------------


def _many(c: SpokeContext, n: int) -> tuple[list[Link], HubView]:
    items = [hub(f"h{i:02d}", ev(f"u{i:02d}"), 1) for i in range(n)]
    links = [link(c, f"r{i:02d}", h, h.item) for i, h in enumerate(items)]
    return links, view(items, links, {(h.id, 1): h.item for h in items})


def test_row6_mass_delete_halts_with_no_operations() -> None:
    """30 of 40 items vanish at once: probably a broken folder, so nothing is applied."""
    c = ctx()
    links, hv = _many(c, 40)
    plan = pull(c, [RemoteItem("new", "v1", ev("new"))], deleted=[f"r{i:02d}" for i in range(30)],
                links=links, hub_view=hv, complete=True, size=11)
    assert plan.ops == () and plan.touched == frozenset()
    assert plan.halt == "would delete 30 of 40 linked items (more than 50% and more than 10)"


def test_row6_mass_delete_goes_through_when_the_operator_allows_it() -> None:
    """After an operator confirms, the same delta tombstones the 30 items."""
    c = ctx()
    links, hv = _many(c, 40)
    plan = pull(c, deleted=[f"r{i:02d}" for i in range(30)], links=links, hub_view=hv,
                complete=True, size=10, allow=True)
    assert plan.halt is None and plan.stats["tombstone_hub_item"] == 30


def test_row6_small_deletions_do_not_halt() -> None:
    """Deleting 10 of 40 is ordinary housekeeping."""
    c = ctx()
    links, hv = _many(c, 40)
    plan = pull(c, deleted=[f"r{i:02d}" for i in range(10)], links=links, hub_view=hv)
    assert plan.halt is None and plan.stats["tombstone_hub_item"] == 10


def test_row6_empty_complete_listing_halts() -> None:
    """A folder that lists empty while 3 items are linked halts, even below the thresholds."""
    c = ctx()
    links, hv = _many(c, 3)
    plan = pull(c, deleted=["r00", "r01", "r02"], links=links, hub_view=hv, complete=True, size=0)
    assert plan.ops == () and "complete listing is empty but 3 items" in (plan.halt or "")
