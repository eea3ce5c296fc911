"""Issue 3 acceptance: a hub with three Exchange public-folder calendars and one mailbox
calendar, synced by real SyncCycles on the real store (SQLite and PostgreSQL) against the EWS
emulator. Users edit "in Outlook" (directly in the emulator's state); everything the hub does
goes through exchangelib over HTTP, so the emulator's request log is what Exchange would see.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cirahub.core.options import PrivateMode, SyncOptions
from tests.ews_emulator import EwsEmulator

from .hub import WRITE_OPS, EwsHub, all_ok

BERLIN = ZoneInfo("Europe/Berlin")
BERLIN_WIN = "W. Europe Standard Time"
PUBLIC = {"sales": "/Calendars/Sales", "support": "/Calendars/Support", "ops": "/Calendars/Ops"}


def _at(day: int, hour: int, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _build(store: Any, emu: EwsEmulator, **public_config: Any) -> EwsHub:
    """Three public-folder spokes (ops skips private items) and the team mailbox's calendar;
    ``public_config`` is added to the public-folder spokes' configs."""
    h = EwsHub(store, emu)
    h.add_public("sales", PUBLIC["sales"], **public_config)
    h.add_public("support", PUBLIC["support"], **public_config)
    h.add_public("ops", PUBLIC["ops"], SyncOptions(private=PrivateMode.SKIP), **public_config)
    h.add_mailbox("team")
    return h


@pytest.fixture
def hub(store: Any, emu: EwsEmulator) -> Iterator[EwsHub]:
    h = _build(store, emu)
    yield h
    h.close()
    assert emu.meeting_messages == [], "the hub made Exchange send meeting mail"


def _assert_converged(hub: EwsHub, *, skipped: dict[str, set[str]] | None = None) -> set[str]:
    """Every spoke holds exactly the hub's items (minus what its filters skip), with the same
    meaning, once each. Returns the hub's UIDs."""
    skipped = skipped or {}
    hub_uids = set(hub.hub_items())
    for name, spoke in hub.spokes.items():
        got = hub.contents(name)
        assert set(got) == hub_uids - skipped.get(name, set()), name
        expected = hub.hub_contents(spoke.connector.ignore)
        assert {u: expected[u] for u in got} == got, f"{name} differs from the hub"
        hub.by_uid(name)  # one item per UID in the folder itself
    return hub_uids


def test_hub_of_three_public_folders_and_a_mailbox_converges(hub: EwsHub, emu: EwsEmulator) -> None:
    user = emu.user
    sp = hub.spokes
    first = datetime(2026, 12, 7, 10, tzinfo=BERLIN)  # a Monday, 10:00 Berlin (09:00 UTC)
    series = user.create(sp["sales"].folder_id, tz=BERLIN_WIN, subject="Weekly sync",
                         start=first, end=first + timedelta(hours=1), location="Room 1",
                         recurrence={"pattern": "Weekly", "interval": 1, "days": "Monday", "count": 8})
    user.create(sp["support"].folder_id, subject="Customer call", start=_at(9, 14), end=_at(9, 15))
    user.create(sp["ops"].folder_id, tz=BERLIN_WIN, subject="Company holiday",
                start=date(2026, 12, 24), end=date(2026, 12, 25))
    user.create(sp["team"].folder_id, subject="Team lunch", start=_at(11, 11), end=_at(11, 12),
                categories=["Social"])
    user.create(sp["sales"].folder_id, subject="Doctor", start=_at(10, 8), end=_at(10, 9),
                sensitivity="Private")
    all_ok(hub.sync_all(rounds=2))

    private = hub.uid_of("sales", "Doctor")
    uids = _assert_converged(hub, skipped={"ops": {private}})
    assert len(uids) == 5
    assert private not in hub.by_uid("ops")
    for name in ("support", "team"):
        assert hub.by_uid(name)[private]["sensitivity"] == "Private"

    # the all-day event stays a date everywhere: Exchange's own flag, local midnights
    holiday = hub.uid_of("ops", "Company holiday")
    assert hub.hub_items()[holiday].get("start") == {"date": "2026-12-24"}
    for name in sp:
        stored = hub.by_uid(name)[holiday]
        assert stored["all_day"] is True, name
        # ops: the user's own; the others: written by the hub in the spoke's zone (Berlin)
        assert stored["start"] == datetime(2026, 12, 24, tzinfo=BERLIN), name
        assert stored["end"] == datetime(2026, 12, 25, tzinfo=BERLIN), name  # one day, not two
    assert hub.hub_items()[holiday].get("end") == {"date": "2026-12-25"}

    # one occurrence moved in support, another deleted in ops, before either syncs
    uid = hub.uid_of("sales", "Weekly sync")
    third, fifth = _at(21, 9), _at(4, 9, month=1).replace(year=2027)
    user.modify_occurrence(hub.id_of("support", uid), third, start=third + timedelta(hours=3),
                           end=third + timedelta(hours=4), location="Room 9")
    user.delete_occurrence(hub.id_of("ops", uid), fifth)
    all_ok(hub.sync_all(rounds=2))
    _assert_converged(hub, skipped={"ops": {private}})
    for name in sp:
        stored = hub.by_uid(name)[uid]
        assert stored["kind"] == "RecurringMaster", name
        assert stored["deleted_occurrences"] == [fifth], name
        assert hub.exception_starts(name, uid) == {third: third + timedelta(hours=3)}, name
    assert emu.user.get(series)["location"] == "Room 1"  # the series itself is untouched

    # converged: one more round writes nothing anywhere and the hub version stays
    version = hub.store.hub_version(hub.hub.id)
    emu.reset_log()
    summaries = hub.sync_all(rounds=1)
    all_ok(summaries)
    assert {op: emu.count(op) for op in WRITE_OPS} == dict.fromkeys(WRITE_OPS, 0)
    assert hub.store.hub_version(hub.hub.id) == version
    assert all(s.counts.get("pushed", 0) == 0 for s in summaries)


def test_regression_all_day_end_is_exclusive_and_kept_in_the_spokes_zone(emu: EwsEmulator) -> None:
    """Regression (connector): exchangelib's all-day ``end`` is the last day, ours is DTEND
    (exclusive). Passing it through unchanged made every hub-written all-day event one day
    too long in Exchange, and an Outlook one-day event reached the hub with DTEND == DTSTART;
    the midnights were also taken in the host's zone instead of the spoke's."""
    from cirahub.connectors.base import Write
    from cirahub.connectors.registry import open_connector
    from cirahub.core.item import Item

    from .conftest import PASSWORD, connector_config

    folder = emu.add_public_folder("/Calendars/Team")
    conn = open_connector("ews-public-folder", connector_config(emu, "ews-public-folder", timezone="Europe/Berlin"),
                          PASSWORD)
    try:
        day = Item("day@test", {"summary": "Holiday", "start": {"date": "2026-12-24"}, "end": {"date": "2026-12-25"}})
        [res] = conn.write_many([Write("create", "hub-1", day)])
        stored = emu.user.get(res.remote_id)
        assert stored["all_day"] and emu.state.items[res.remote_id].tz_id == BERLIN_WIN
        assert (stored["start"], stored["end"]) == (datetime(2026, 12, 24, tzinfo=BERLIN),
                                                    datetime(2026, 12, 25, tzinfo=BERLIN))
        outlook = emu.user.create(folder, tz=BERLIN_WIN, subject="Outlook holiday",
                                  start=date(2026, 12, 31), end=date(2027, 1, 1))
        [read] = conn.get_many([outlook])
        assert read.item is not None
        assert (read.item.get("start"), read.item.get("end")) == ({"date": "2026-12-31"}, {"date": "2027-01-01"})
    finally:
        conn.close()


# --- faults: each ends converged, with no duplicate and no lost edit --------------------------


def _seed(hub: EwsHub, per_folder: int, tag: str = "") -> None:
    """``per_folder`` timed events created by users in every spoke's folder."""
    for n, spoke in enumerate(hub.spokes.values()):
        for k in range(per_folder):
            hub.emu.user.create(spoke.folder_id, subject=f"{spoke.name} {tag}{k}",
                                start=_at(1 + k % 28, 8 + n), end=_at(1 + k % 28, 9 + n))


def _edit(hub: EwsHub, name: str, title: str, **fields: Any) -> str:
    """A user edit of the item titled ``title`` in one folder; returns its UID."""
    uid = hub.uid_of(name, title)
    hub.emu.user.update(hub.id_of(name, uid), **fields)
    return uid


def test_server_busy_back_off_is_honoured_and_ends_in_sync(hub: EwsHub, emu: EwsEmulator) -> None:
    _seed(hub, 3)
    for ops, count in (({"FindItem"}, 2), ({"CreateItem"}, 2), ({"GetItem"}, 2), ({"SyncFolderItems"}, 1)):
        emu.busy(count=count, back_off_ms=20, ops=ops, skip=1)
    all_ok(hub.sync_all(rounds=2))  # every busy answer was waited out inside the run
    assert emu.faults == [], "not every busy fault was hit"
    busy_retried = len(emu.requests)
    uid = _edit(hub, "support", "sales 1", location="Room 12")
    emu.busy(count=2, back_off_ms=20, ops={"UpdateItem", "GetItem"})
    all_ok(hub.sync_all(rounds=2))
    assert emu.faults == [] and len(emu.requests) > busy_retried
    _assert_converged(hub)
    assert len(hub.hub_items()) == 12
    assert {hub.by_uid(n)[uid]["location"] for n in hub.spokes} == {"Room 12"}


def test_dropped_connection_mid_batch_creates_no_duplicate(hub: EwsHub, emu: EwsEmulator) -> None:
    for k in range(6):
        emu.user.create(hub.spokes["sales"].folder_id, subject=f"sales {k}", start=_at(2 + k, 9), end=_at(2 + k, 10))
    all_ok([hub.sync("sales")])
    # support's CreateItem batch is applied, but the answer never arrives
    emu.drop(count=1, ops={"CreateItem"}, applied=True)
    all_ok([hub.sync("support")])
    assert emu.faults == []
    assert len(hub.by_uid("support")) == 6
    # ops' UpdateItem is applied and its answer lost; team's connection drops before anything
    uid = _edit(hub, "sales", "sales 2", subject="sales 2 (moved)", location="Room 3")
    all_ok([hub.sync("sales")])
    emu.drop(count=1, ops={"UpdateItem"}, applied=True)
    emu.drop(count=1, ops={"CreateItem"})
    all_ok(hub.sync_all(rounds=2))
    assert emu.faults == []
    _assert_converged(hub)
    assert len(hub.hub_items()) == 6
    for name in hub.spokes:
        assert hub.by_uid(name)[uid]["subject"] == "sales 2 (moved)", name
        assert hub.by_uid(name)[uid]["location"] == "Room 3", name


def _before_first_write(hub: EwsHub, name: str, action: Any) -> None:
    """Run ``action`` once, right before the spoke's first write of its next run: a user saving
    in Outlook between the hub's pull and its push."""
    conn = hub.spokes[name].connector
    original = conn.write_many

    def write_many(writes: Any) -> Any:
        conn.write_many = original
        action()
        return original(writes)

    conn.write_many = write_many


def test_stale_change_key_re_pulls_and_keeps_the_users_edit(hub: EwsHub, emu: EwsEmulator) -> None:
    _seed(hub, 2)
    all_ok(hub.sync_all(rounds=2))
    uid = _edit(hub, "sales", "team 0", subject="team 0 (renamed)")
    all_ok([hub.sync("sales")])
    # support: a user edits the item's location after the hub pulled, before it pushes
    support_id = hub.id_of("support", uid)
    _before_first_write(hub, "support", lambda: emu.user.update(support_id, location="Room 42"))
    # ops: a save without content change (a ChangeKey race)
    ops_id = hub.id_of("ops", uid)
    _before_first_write(hub, "ops", lambda: emu.bump_change_key(ops_id))
    runs = [hub.sync("support"), hub.sync("ops")]
    all_ok(runs)
    assert all(r.counts.get("repulls", 0) >= 1 for r in runs), [r.counts for r in runs]
    all_ok(hub.sync_all(rounds=2))
    _assert_converged(hub)
    for name in hub.spokes:
        item = hub.by_uid(name)[uid]
        assert (item["subject"], item["location"]) == ("team 0 (renamed)", "Room 42"), name
    assert hub.hub_items()[uid].get("location") == "Room 42"
    assert emu.count("UpdateItem") > 0


def test_partial_deletion_scan_deletes_nothing(store: Any, emu: EwsEmulator) -> None:
    hub = _build(store, emu, full_scan_seconds=0, page_size=4)  # every poll is a deletion scan
    try:
        _seed(hub, 3)
        all_ok(hub.sync_all(rounds=2))
        before = {name: set(hub.by_uid(name)) for name in hub.spokes}
        assert all(len(uids) == 12 for uids in before.values())
        gone = hub.uid_of("sales", "support 1")
        emu.user.delete(hub.id_of("sales", gone))  # a real deletion, invisible to partial scans
        emu.truncate_pages(count=10_000)
        assert hub.spokes["sales"].connector.list_ids()[1] is False  # the listings really are partial
        emu.reset_log()
        hub.sync_all(rounds=2)
        assert emu.faults[0].hits > 0 and emu.count("DeleteItem") == 0
        assert set(hub.hub_items()) == before["sales"]
        for name in ("support", "ops", "team"):
            assert set(hub.by_uid(name)) == before[name], name
        emu.faults.clear()
        all_ok(hub.sync_all(rounds=2))  # a complete scan: now the deletion goes through
        _assert_converged(hub)
        assert set(hub.hub_items()) == before["sales"] - {gone}
    finally:
        hub.close()
    assert emu.meeting_messages == []


# --- the cost of polling an unchanged public folder ----------------------------------------


def _no_change_poll(hub: EwsHub, emu: EwsEmulator, name: str) -> list[str]:
    """The EWS operations of one run of an unchanged, converged spoke."""
    emu.reset_log()
    summary = hub.sync(name)
    all_ok([summary])
    assert summary.counts.get("pulled", 0) == 0 and summary.counts.get("pushed", 0) == 0
    return [r.op for r in emu.requests]


def test_no_change_poll_costs_a_constant_number_of_requests(store: Any, emu: EwsEmulator) -> None:
    """After convergence (and a while later, as a 5-minute poll would be), one run of a
    public-folder spoke costs the same few EWS requests with 10 or 60 items, even with the
    60 items spanning several FindItem pages."""
    hub = _build(store, emu, page_size=20)
    try:
        costs: dict[int, dict[str, list[str]]] = {}
        for total, tag in ((10, "a"), (60, "b")):
            have = len(hub.hub_items())
            for k in range(total - have):
                spoke = list(hub.spokes.values())[k % len(hub.spokes)]
                emu.user.create(spoke.folder_id, subject=f"{tag}{k}", start=_at(1 + k % 28, 8 + k % 9),
                                end=_at(1 + k % 28, 9 + k % 9))
            all_ok(hub.sync_all(rounds=2))
            _assert_converged(hub)
            assert len(hub.hub_items()) == total
            hub.age_items(timedelta(minutes=10))  # the next poll comes minutes later
            costs[total] = {name: _no_change_poll(hub, emu, name) for name in ("sales", "support", "ops")}
            print(f"no-change poll with {total} items: {costs[total]}")
        assert costs[10] == costs[60]
        assert all(ops == ["FindItem"] for ops in costs[60].values()), costs
    finally:
        hub.close()
    assert emu.meeting_messages == []
