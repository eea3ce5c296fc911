"""Named whole-loop scenarios: real store (SQLite and PostgreSQL), real SyncCycle, in-memory
spokes. Each test is a situation an operator would recognize."""

from __future__ import annotations

import pytest

from cirahub.core.item import Item
from cirahub.core.options import NONE, Permissions, PrivateMode, SyncOptions
from tests.sync.harness import Loop, event


def _uids(spoke) -> dict[str, Item]:
    return {i.uid: i for i in spoke.calendar.items().values()}


def test_new_item_fans_out_to_every_spoke(store):
    """An event created in one calendar appears in all the others."""
    loop = Loop(store)
    a, b, c = (loop.add_memory(n) for n in "abc")
    a.calendar.user_create(event("u1", "Board meeting"))
    loop.sync_all()
    for s in (a, b, c):
        assert _uids(s)["u1"].get("summary") == "Board meeting"
    assert set(loop.hub_items()) == {"u1"}


def test_echo_second_sync_writes_nothing(store):
    """Syncing again with no user change performs zero writes anywhere (no ping-pong)."""
    loop = Loop(store)
    spokes = [loop.add_memory(n) for n in "abc"]
    for i, s in enumerate(spokes):
        s.calendar.user_create(event(f"u{i}", f"Event {i}", day=i + 1))
    loop.sync_all(rounds=2)
    before = {s.name: s.calendar.stats["write"] for s in spokes}
    hub_version = store.hub_version(loop.hub.id)
    summaries = loop.sync_all(rounds=2)
    assert {s.name: s.calendar.stats["write"] for s in spokes} == before
    assert store.hub_version(loop.hub.id) == hub_version
    assert all(s.counts.get("pushed", 0) == 0 for s in summaries)


def test_concurrent_edits_of_different_fields_are_both_kept(store):
    """A renames the event while B moves its room: the hub and every spoke get both."""
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    a.calendar.user_create(event("u1", "Sprint review", location="Room 1"))
    loop.sync_all()
    (rid_a,) = a.calendar.find_uid("u1")
    (rid_b,) = b.calendar.find_uid("u1")
    a.calendar.user_update(rid_a, event("u1", "Sprint review (moved)", location="Room 1",
                                        last_modified="2026-11-24T10:00:00Z"))
    b.calendar.user_update(rid_b, event("u1", "Sprint review", location="Room 7",
                                        last_modified="2026-11-24T10:05:00Z"))
    loop.sync_all()
    for s in (a, b):
        item = _uids(s)["u1"]
        assert item.get("summary") == "Sprint review (moved)"
        assert item.get("location") == "Room 7"
    assert store.list_conflicts(loop.hub.name) == []


def test_concurrent_edits_of_same_field_latest_wins_and_loser_is_recorded(store):
    """Both sides retitle the event: the later edit wins, the earlier title is in the log."""
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    a.calendar.user_create(event("u1", "Planning"))
    loop.sync_all()
    (rid_a,) = a.calendar.find_uid("u1")
    (rid_b,) = b.calendar.find_uid("u1")
    a.calendar.user_update(rid_a, event("u1", "Planning (A)", last_modified="2026-11-24T10:00:00Z"))
    b.calendar.user_update(rid_b, event("u1", "Planning (B)", last_modified="2026-11-24T11:00:00Z"))
    loop.sync("a")
    loop.sync("b")
    loop.sync_all()
    assert {_uids(s)["u1"].get("summary") for s in (a, b)} == {"Planning (B)"}
    conflicts = store.list_conflicts(loop.hub.name)
    assert len(conflicts) == 1
    text = repr(conflicts[0])
    assert "Planning (A)" in text and "summary" in text


def test_edit_beats_delete_whichever_syncs_first(store):
    """A reschedules the meeting while B deletes it: the meeting survives everywhere."""
    for first in ("a", "b"):
        loop = Loop(store, hub_name=f"hub-{first}")
        a, b, c = (loop.add_memory(n) for n in "abc")
        a.calendar.user_create(event("u1", "Client call", day=3))
        a.calendar.user_create(event("u2", "Other", day=5))  # so B's listing is not empty
        loop.sync_all()
        (rid_a,) = a.calendar.find_uid("u1")
        (rid_b,) = b.calendar.find_uid("u1")
        a.calendar.user_update(rid_a, event("u1", "Client call", day=4))
        b.calendar.user_delete(rid_b)
        loop.sync(first)
        loop.sync("b" if first == "a" else "a")
        loop.sync_all()
        for s in (a, b, c):
            item = _uids(s).get("u1")
            assert item is not None, f"lost in {s.name} (first={first})"
            assert item.get("start")["utc"].startswith("2026-12-04")
        # the losing delete is in the conflict log, so the operator can see what happened
        kinds = [c.kind for c in store.list_conflicts(loop.hub.name)]
        assert kinds == ["edit-vs-delete"], (first, kinds)


def test_delete_propagates_when_nobody_edited(store):
    loop = Loop(store)
    a, b, c = (loop.add_memory(n) for n in "abc")
    a.calendar.user_create(event("u1", "Lunch"))
    a.calendar.user_create(event("u2", "Dinner"))
    loop.sync_all()
    (rid,) = b.calendar.find_uid("u1")
    b.calendar.user_delete(rid)
    loop.sync_all()
    for s in (a, b, c):
        assert set(_uids(s)) == {"u2"}
    assert set(loop.hub_items()) == {"u2"}


@pytest.mark.parametrize("incremental", [False, True], ids=["listing", "server-cursor"])
def test_mass_delete_halts_until_confirmed(store, incremental):
    """Someone empties 12 of 20 items: the spoke halts, nothing is deleted elsewhere; after the
    operator confirms, the deletions go through. The same whether the deletions come from a
    complete listing or from the server's change log."""
    loop = Loop(store)
    a, b = loop.add_memory("a", incremental=incremental), loop.add_memory("b")
    for i in range(20):
        a.calendar.user_create(event(f"u{i}", f"Item {i}", day=1 + i % 28))
    loop.sync_all()
    for rid in sorted(a.calendar.items())[:12]:
        a.calendar.user_delete(rid)
    summary = loop.sync("a")
    assert summary.status == "halted"
    assert "12" in (store.get_spoke(a.id).halted_reason or "")
    loop.sync("b")
    assert len(b.calendar.items()) == 20
    assert loop.sync("a").status == "halted"  # stays halted until confirmed
    store.confirm_deletes(a.id)
    assert loop.sync("a").status == "ok"
    loop.sync_all()
    assert len(b.calendar.items()) == 8
    assert len(loop.hub_items()) == 8


def test_empty_listing_halts_and_deletes_nothing(store):
    """A calendar that suddenly lists as empty is a broken source, not 5 deletions."""
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    for i in range(5):
        a.calendar.user_create(event(f"u{i}", f"Item {i}", day=i + 1))
    loop.sync_all()
    for rid in list(a.calendar.items()):
        a.calendar.user_delete(rid)
    assert loop.sync("a").status == "halted"
    assert "empty" in store.get_spoke(a.id).halted_reason
    loop.sync("b")
    assert len(b.calendar.items()) == 5
    assert len(loop.hub_items()) == 5


def test_duplicate_uids_in_one_spoke_are_quarantined_not_fanned_out(store):
    """One invitation stored twice in a calendar never becomes two events elsewhere."""
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    a.calendar.enforce_unique_uid = False
    a.calendar.user_create(event("dup", "All hands"))
    a.calendar.user_create(event("dup", "All hands"))
    a.calendar.user_create(event("ok", "Standup"))
    loop.sync_all()
    assert sorted(i.uid for i in b.calendar.items().values()) == ["dup", "ok"]
    quarantined = store.list_quarantine(spoke_id=a.id)
    assert [q.reason for q in quarantined] == ["duplicate-uid"]


def test_malformed_item_is_quarantined_while_the_rest_syncs(store):
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    a.calendar.user_create(event("good", "Good event"))
    a.calendar.user_write_raw("broken.ics", "BEGIN:VCALENDAR\nthis is not ical")
    summary = loop.sync("a")
    assert summary.status == "ok"
    loop.sync("b")
    assert [i.uid for i in b.calendar.items().values()] == ["good"]
    (q,) = store.list_quarantine(spoke_id=a.id)
    assert q.reason == "malformed" and q.remote_id == "broken.ics"


def test_recurring_series_override_and_exdate_edited_on_two_spokes(store):
    """A moves one occurrence of the weekly meeting, B cancels another: both survive."""
    loop = Loop(store)
    a, b, c = (loop.add_memory(n) for n in "abc")
    series = Item("weekly", {
        "summary": "Team sync",
        "start": {"utc": "2026-12-01T09:00:00Z", "tz": "Europe/Berlin"},
        "end": {"utc": "2026-12-01T10:00:00Z", "tz": "Europe/Berlin"},
        "rrule": "FREQ=WEEKLY;COUNT=10",
    })
    a.calendar.user_create(series)
    loop.sync_all()
    (rid_a,) = a.calendar.find_uid("weekly")
    (rid_b,) = b.calendar.find_uid("weekly")
    moved = {"summary": "Team sync (moved)",
             "start": {"utc": "2026-12-09T13:00:00Z", "tz": "Europe/Berlin"},
             "end": {"utc": "2026-12-09T14:00:00Z", "tz": "Europe/Berlin"}}
    a.calendar.user_update(rid_a, Item("weekly", dict(series.fields), {"20261208T090000Z": moved}))
    b.calendar.user_update(rid_b, series.replace(exdates=["20261215T090000Z"]))
    loop.sync_all(rounds=3)
    for s in (a, b, c):
        item = _uids(s)["weekly"]
        assert item.get("exdates") == ["20261215T090000Z"], s.name
        assert dict(item.overrides["20261208T090000Z"]) == moved, s.name


def test_item_moving_out_of_the_window_is_not_a_deletion(store):
    """B only syncs the next 30 days. An event moved to next year stays in B, unchanged or
    updated, but is never deleted anywhere; new far-away events are not copied to B."""
    loop = Loop(store)
    a = loop.add_memory("a")
    b = loop.add_memory("b", SyncOptions(days_back=7, days_ahead=30))
    a.calendar.user_create(event("soon", "Soon", day=5))
    loop.sync_all()
    assert "soon" in _uids(b)
    (rid,) = a.calendar.find_uid("soon")
    far = Item("soon", {"summary": "Soon (postponed)",
                        "start": {"utc": "2027-09-01T09:00:00Z", "tz": "UTC"},
                        "end": {"utc": "2027-09-01T10:00:00Z", "tz": "UTC"}})
    a.calendar.user_update(rid, far)
    a.calendar.user_create(Item("later", {"summary": "Later",
                                          "start": {"utc": "2027-10-01T09:00:00Z", "tz": "UTC"},
                                          "end": {"utc": "2027-10-01T10:00:00Z", "tz": "UTC"}}))
    loop.sync_all()
    assert "soon" in _uids(b)
    assert "later" not in _uids(b)
    assert set(loop.hub_items()) == {"soon", "later"}


def test_feed_only_spoke_is_never_written(store):
    """hub_writes=none: the spoke feeds the hub, and nothing is ever written to it."""
    loop = Loop(store)
    feed = loop.add_memory("feed", SyncOptions(hub_writes=NONE))
    other = loop.add_memory("other")
    feed.calendar.user_create(event("f1", "Holiday"))
    other.calendar.user_create(event("o1", "Meeting"))
    loop.sync_all()
    writes_before = feed.calendar.stats["write"]
    (rid,) = other.calendar.find_uid("f1")
    other.calendar.user_update(rid, event("f1", "Holiday (edited)"))
    loop.sync_all()
    assert feed.calendar.stats["write"] == writes_before
    assert set(_uids(feed)) == {"f1"}
    assert _uids(other)["f1"].get("summary") == "Holiday (edited)"


def test_mirror_spoke_local_edit_is_reverted(store):
    """contributes=none: a local edit in the mirror never reaches the hub and is put back."""
    loop = Loop(store)
    src = loop.add_memory("src")
    mirror = loop.add_memory("mirror", SyncOptions(contributes=NONE))
    src.calendar.user_create(event("u1", "Original"))
    loop.sync_all()
    (rid,) = mirror.calendar.find_uid("u1")
    mirror.calendar.user_update(rid, event("u1", "Vandalized"))
    loop.sync_all()
    assert loop.hub_items()["u1"].get("summary") == "Original"
    assert _uids(mirror)["u1"].get("summary") == "Original"
    assert _uids(src)["u1"].get("summary") == "Original"


def test_lossy_spoke_keeps_hub_fields_and_causes_no_rewrites(store):
    """A spoke that cannot store attendees edits the title: the hub keeps its attendees, and
    later syncs do not rewrite anything."""
    loop = Loop(store)
    full = loop.add_memory("full")
    lossy = loop.add_memory("lossy", unsupported_fields=["attendees", "organizer"])
    attendees = [{"email": "ann@example.com", "name": "Ann", "role": "REQ-PARTICIPANT",
                  "partstat": "ACCEPTED"}]
    full.calendar.user_create(event("m1", "Design review", attendees=attendees,
                                    organizer="boss@example.com"))
    loop.sync_all()
    (rid,) = lossy.calendar.find_uid("m1")
    lossy.calendar.user_update(rid, event("m1", "Design review v2"))
    loop.sync_all()
    hub = loop.hub_items()["m1"]
    assert hub.get("summary") == "Design review v2"
    assert hub.get("attendees") == attendees
    writes = (full.calendar.stats["write"], lossy.calendar.stats["write"])
    loop.sync_all()
    assert (full.calendar.stats["write"], lossy.calendar.stats["write"]) == writes


def test_lost_write_response_creates_no_duplicate(store):
    """The server applied our create but the answer was lost: next run links it, no copy."""
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    a.calendar.user_create(event("u1", "Offsite"))
    loop.sync("a")
    b.calendar.lose_next_responses(1)
    loop.sync("b")
    loop.sync_all()
    assert len(b.calendar.find_uid("u1")) == 1
    assert len(a.calendar.find_uid("u1")) == 1


def test_stale_version_on_push_repulls_and_never_overwrites(store):
    """The user edits B while the hub is about to update B: the user's edit is not lost."""
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")
    a.calendar.user_create(event("u1", "Retro", location="Room 1"))
    loop.sync_all()
    (rid_a,) = a.calendar.find_uid("u1")
    (rid_b,) = b.calendar.find_uid("u1")
    a.calendar.user_update(rid_a, event("u1", "Retro", location="Room 2"))
    loop.sync("a")
    # B's copy changes between B's pull and push (behind the connector's back).
    b.calendar.user_update(rid_b, event("u1", "Retro (B)", location="Room 1"))
    b.calendar.bump_versions([rid_b])
    loop.sync_all(rounds=3)
    for s in (a, b):
        item = _uids(s)["u1"]
        assert (item.get("summary"), item.get("location")) == ("Retro (B)", "Room 2")


def test_first_attach_matches_existing_copies_by_summary_start_end(store):
    """The assistant already copied the meetings by hand (other UIDs): attaching that calendar
    links them instead of duplicating."""
    loop = Loop(store)
    a = loop.add_memory("a")
    a.calendar.user_create(event("orig-1", "Quarterly review", day=10))
    loop.sync_all()
    b_cal_items = [event("copy-1", "Quarterly review", day=10)]
    b = loop.add_memory("b")
    for it in b_cal_items:
        b.calendar.user_create(it)
    loop.sync_all()
    assert len(b.calendar.items()) == 1
    assert len(a.calendar.items()) == 1
    assert len(loop.hub_items()) == 1


def test_private_item_skipped_spoke_and_busy_spoke(store):
    """A private appointment: never copied to a 'skip private' spoke; copied as a plain Busy
    block to a 'busy' spoke; fully to the rest. Becoming private removes it from 'skip' spokes
    without deleting it anywhere else."""
    loop = Loop(store)
    a = loop.add_memory("a")
    skip = loop.add_memory("skip", SyncOptions(private=PrivateMode.SKIP))
    busy = loop.add_memory("busy", SyncOptions(private=PrivateMode.BUSY))
    a.calendar.user_create(event("p1", "Doctor", privacy="PRIVATE", location="Clinic"))
    a.calendar.user_create(event("n1", "Lunch"))
    loop.sync_all()
    assert set(_uids(skip)) == {"n1"}
    blk = _uids(busy)["p1"]
    assert blk.get("summary") == "Busy" and blk.get("location") is None
    assert loop.hub_items()["p1"].get("summary") == "Doctor"
    (rid,) = a.calendar.find_uid("n1")
    a.calendar.user_update(rid, event("n1", "Lunch", privacy="PRIVATE"))
    loop.sync_all()
    assert set(_uids(skip)) == set()
    assert set(loop.hub_items()) == {"p1", "n1"}
    assert set(_uids(a)) == {"p1", "n1"}


def test_permissions_create_only_spoke_gets_no_updates_or_deletes(store):
    loop = Loop(store)
    a = loop.add_memory("a")
    c = loop.add_memory("c", SyncOptions(hub_writes=Permissions(create=True, update=False, delete=False)))
    a.calendar.user_create(event("u1", "One"))
    loop.sync_all()
    assert _uids(c)["u1"].get("summary") == "One"
    (rid,) = a.calendar.find_uid("u1")
    a.calendar.user_update(rid, event("u1", "One v2"))
    loop.sync_all()
    assert _uids(c)["u1"].get("summary") == "One"
    a.calendar.user_delete(rid)
    loop.sync_all()
    assert "u1" in _uids(c)


def test_same_invitation_in_two_spokes_at_once_is_one_hub_item(store):
    """Regression: the same invitation (one UID) lands in two mailboxes; their runs plan at
    the same time (spokes run in parallel on Ray), so both plan a hub create. The merge is
    the serialization point: the second create is stale, re-planned, and linked — one hub
    item, one copy per spoke."""
    loop = Loop(store)
    a, b, c = (loop.add_memory(n) for n in "abc")
    a.calendar.user_create(event("invite-1", "Kick-off"))
    b.calendar.user_create(event("invite-1", "Kick-off"))

    class RaceMerger:
        """Lets spoke a's whole run happen between b's plan and b's merge."""

        def __init__(self, inner):
            self.inner, self.raced = inner, False

        def merge(self, hub_id, spoke_id, ops):
            if spoke_id == b.id and not self.raced:
                self.raced = True
                loop.sync("a")
            return self.inner.merge(hub_id, spoke_id, ops)

    b.cycle.merger = RaceMerger(loop.merger)
    summary = loop.sync("b")
    assert b.cycle.merger.raced and summary.ok
    loop.sync_all()
    assert list(loop.hub_items()) == ["invite-1"]
    assert store.count_items(loop.hub.id) == 1
    for s in (a, b, c):
        assert len(s.calendar.find_uid("invite-1")) == 1, s.name


def test_a_connector_bug_fails_only_that_run_and_is_recorded(store):
    """Regression: an unexpected exception inside a connector left the run "running" and
    escaped the cycle. Now the run ends as an error with a safe message, the spoke shows it,
    and the other spokes keep syncing."""
    loop = Loop(store)
    a, b = loop.add_memory("a"), loop.add_memory("b")

    def broken(cursor, known):
        raise KeyError("token=hunter2")

    a.connector.delta = broken
    b.calendar.user_create(event("u1", "Still syncs"))
    summary = loop.sync("a")
    assert summary.status == "error"
    assert summary.error == {"code": "internal", "message": "internal error (KeyError)"}
    (run,) = store.list_runs(spoke_id=a.id)
    assert run.status == "error" and run.finished_at is not None
    assert "hunter2" not in repr(run) and "hunter2" not in repr(store.get_spoke(a.id))
    assert store.get_spoke(a.id).state == "error"
    assert loop.sync("b").ok


def test_no_change_poll_of_a_server_cursor_spoke_reads_no_links(store, monkeypatch):
    """A spoke whose server reports changes (sync-token style) costs no read of its links
    when nothing changed, so a poll stays cheap however big the calendar; a listing spoke
    reads them once per run."""
    loop = Loop(store)
    cursor = loop.add_memory("cursor", incremental=True)
    listing = loop.add_memory("listing")
    for i in range(30):
        cursor.calendar.user_create(event(f"u{i}", f"Item {i}", day=1 + i % 28))
    loop.sync_all()
    calls = []
    real_versions = store.link_versions
    monkeypatch.setattr(store, "link_versions", lambda spoke_id: calls.append(spoke_id) or
                        real_versions(spoke_id))
    assert loop.sync("cursor").ok
    assert calls == []
    assert loop.sync("listing").ok
    assert calls == [listing.id]
    # and a real change through the cursor spoke still syncs, still without a full read
    (rid,) = cursor.calendar.find_uid("u3")
    cursor.calendar.user_update(rid, event("u3", "Item 3 (moved)", day=20))
    assert loop.sync("cursor").ok
    assert calls == [listing.id]
    loop.sync("listing")
    assert _uids(listing)["u3"].get("summary") == "Item 3 (moved)"


def test_edit_reviving_a_deleted_item_keeps_edits_made_before_the_delete(store):
    """Regression: A retitles the meeting, B then deletes it, and C — which had not synced A's
    retitle yet — moves its room. C's edit beats the delete; the revived meeting must carry
    A's title too (it used to come back with C's stale copy of the title)."""
    loop = Loop(store)
    a, b, c = (loop.add_memory(n) for n in "abc")
    a.calendar.user_create(event("u1", "Design review", location="Room 1"))
    a.calendar.user_create(event("u2", "Other", day=5))  # so B's listing is not empty
    loop.sync_all()
    (rid_a,) = a.calendar.find_uid("u1")
    (rid_c,) = c.calendar.find_uid("u1")
    a.calendar.user_update(rid_a, event("u1", "Design review (v2)", location="Room 1",
                                        last_modified="2026-11-24T10:00:00Z"))
    loop.sync("a")
    loop.sync("b")  # B gets the retitle...
    b.calendar.user_delete(b.calendar.find_uid("u1")[0])
    loop.sync("b")  # ...and then deletes the meeting: a tombstone in the hub
    assert "u1" not in loop.hub_items()
    c.calendar.user_update(rid_c, event("u1", "Design review", location="Room 9",
                                        last_modified="2026-11-24T11:00:00Z"))
    loop.sync("c")
    loop.sync_all()
    for s in (a, b, c):
        item = _uids(s)["u1"]
        assert (item.get("summary"), item.get("location")) == ("Design review (v2)", "Room 9"), s.name
    assert "edit-vs-delete" in [x.kind for x in store.list_conflicts(loop.hub.name)]
