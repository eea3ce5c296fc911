"""Memory-spoke specifics: registry and config, capabilities, fault injection knobs.
(The generic behaviour is covered by tests/contract/test_memory_contract.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cirahub.connectors.base import Write, WriteResult
from cirahub.connectors.memory import MemoryCalendar, MemoryConnector
from cirahub.connectors.registry import open_connector, validate_config
from cirahub.core.errors import (
    InvalidInput,
    PreconditionFailed,
    ReadOnlySpoke,
    RemoteAlreadyExists,
    TransientError,
)
from cirahub.core.item import Item


def ev(uid: str, summary: str = "event", **extra: object) -> Item:
    fields = {
        "summary": summary,
        "start": {"utc": "2026-03-02T08:00:00Z", "tz": "Europe/Berlin"},
        "end": {"utc": "2026-03-02T09:00:00Z", "tz": "Europe/Berlin"},
        **extra,
    }
    return Item(uid, fields)


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    yield
    MemoryCalendar.forget()


# --- registry and config ---------------------------------------------------------------------


def test_named_calendar_is_shared_through_the_registry() -> None:
    cal = MemoryCalendar.named("team")
    rid = cal.user_create(ev("a@x"))
    conn = open_connector("memory", {"calendar": "team", "incremental": True})
    assert isinstance(conn, MemoryConnector)
    assert conn.capabilities.incremental
    [got] = conn.get_many([rid])
    assert got.item == ev("a@x")
    res = conn.create(ev("b@x"), "hub-b")
    assert cal.items()[res.remote_id].uid == "b@x"
    assert cal.hub_item_id(res.remote_id) == "hub-b"  # the hub id is stamped
    assert MemoryCalendar.named("other") is not cal


@pytest.mark.parametrize(
    ("config", "bad_key"),
    [
        ({"calendar": "x", "colour": "red"}, "colour"),
        ({"calendar": ""}, "calendar"),
        ({"calendar": 3}, "calendar"),
        ({"read_only": "yes"}, "read_only"),
        ({"incremental": 1}, "incremental"),
        ({"unsupported_fields": "alarms"}, "unsupported_fields"),
        ({"unsupported_fields": ["alarms", "colour"]}, "unsupported_fields"),
    ],
)
def test_bad_config_names_the_key(config: dict[str, object], bad_key: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_config("memory", config)
    assert err.value.fields["key"] == bad_key


def test_config_defaults_are_normalized() -> None:
    assert validate_config("memory", {"unsupported_fields": ["url", "alarms", "url"]}) == {
        "calendar": "default",
        "incremental": False,
        "read_only": False,
        "unsupported_fields": ["alarms", "url"],
    }


# --- capabilities ----------------------------------------------------------------------------


def test_read_only_spoke_refuses_writes_but_lists() -> None:
    cal = MemoryCalendar()
    rid = cal.user_create(ev("a@x"))
    conn = MemoryConnector(cal, read_only=True)
    version = cal.entries()[rid].version
    with pytest.raises(ReadOnlySpoke):
        conn.create(ev("b@x"), "h")
    with pytest.raises(ReadOnlySpoke):
        conn.update(rid, version, ev("a@x", "changed"), "h")
    with pytest.raises(ReadOnlySpoke):
        conn.delete(rid, version)
    [out] = conn.write_many([Write("delete", "h", remote_id=rid, expected_version=version)])
    assert isinstance(out, ReadOnlySpoke)
    assert cal.items() == {rid: ev("a@x")}
    assert len(conn.delta(None, {}).changed) == 1


def test_lossy_spoke_drops_unsupported_fields_on_write_and_read() -> None:
    cal = MemoryCalendar()
    conn = MemoryConnector(cal, unsupported_fields={"alarms", "categories"})
    item = ev("a@x", alarms=[15], categories=["Work"])
    item = Item(item.uid, item.fields, {"20260309T080000Z": {"summary": "o", "alarms": [5]}})
    res = conn.create(item, "h")
    stored = cal.items()[res.remote_id]
    assert "alarms" not in stored.fields and "categories" not in stored.fields
    assert stored.overrides["20260309T080000Z"] == {"summary": "o"}
    # a user of the server who sets the field is not seen by the lossy connector either
    cal.user_update(res.remote_id, ev("a@x", alarms=[30]))
    [got] = conn.get_many([res.remote_id])
    assert got.item == ev("a@x")


# --- versions and deltas ---------------------------------------------------------------------


def test_versions_change_on_every_write_and_never_repeat() -> None:
    cal = MemoryCalendar()
    conn = MemoryConnector(cal)
    res = conn.create(ev("a@x"), "h")
    seen = {res.remote_version}
    version = res.remote_version
    for n in range(5):
        version = conn.update(res.remote_id, version, ev("a@x", str(n)), "h").remote_version
        seen.add(version)
    cal.user_update(res.remote_id, ev("a@x", "user"))
    seen.add(cal.entries()[res.remote_id].version)
    assert len(seen) == 7


def test_bumped_versions_make_held_versions_stale_but_content_stays() -> None:
    cal = MemoryCalendar()
    conn = MemoryConnector(cal)
    res = conn.create(ev("a@x"), "h")
    cal.bump_versions()
    with pytest.raises(PreconditionFailed):
        conn.update(res.remote_id, res.remote_version, ev("a@x", "new"), "h")
    delta = conn.delta(None, {res.remote_id: res.remote_version})
    [changed] = delta.changed
    assert changed.item == ev("a@x") and changed.remote_version != res.remote_version


def test_incremental_reports_only_changes_since_cursor_and_server_deletions() -> None:
    cal = MemoryCalendar()
    conn = MemoryConnector(cal, incremental=True)
    ids = [cal.user_create(ev(f"{n}@x")) for n in range(4)]
    first = conn.delta(None, {})
    assert first.complete and len(first.changed) == 4
    cal.user_update(ids[1], ev("1@x", "edited"))
    cal.user_delete(ids[2])
    # the server cursor needs no `known`: deletions come from the server's log
    delta = conn.delta(first.cursor, {})
    assert [r.remote_id for r in delta.changed] == [ids[1]]
    assert delta.deleted == (ids[2],)
    assert not delta.complete  # not a listing: no safety counts from it
    assert conn.delta(delta.cursor, {}).changed == ()


def test_expired_cursor_falls_back_to_a_complete_listing() -> None:
    cal = MemoryCalendar()
    conn = MemoryConnector(cal, incremental=True)
    a, b = cal.user_create(ev("a@x")), cal.user_create(ev("b@x"))
    first = conn.delta(None, {})
    known = {r.remote_id: r.remote_version for r in first.changed}
    cal.user_delete(b)
    cal.expire_cursors()
    delta = conn.delta(first.cursor, known)
    assert delta.complete and delta.listing_size == 1
    assert delta.changed == () and delta.deleted == (b,)
    assert a in known


def test_listing_mode_ignores_the_cursor() -> None:
    cal = MemoryCalendar()
    conn = MemoryConnector(cal)
    cal.user_create(ev("a@x"))
    delta = conn.delta("999999", {})
    assert delta.complete and len(delta.changed) == 1


# --- fault injection -------------------------------------------------------------------------


def test_fail_next_writes_fails_exactly_n_without_applying() -> None:
    cal = MemoryCalendar()
    conn = MemoryConnector(cal)
    cal.fail_next_writes(2)
    out = conn.write_many([Write("create", f"h{n}", item=ev(f"{n}@x")) for n in range(3)])
    assert [type(o) for o in out] == [TransientError, TransientError, WriteResult]
    assert [i.uid for i in cal.items().values()] == ["2@x"]


def test_fail_writes_matching_predicate() -> None:
    cal = MemoryCalendar()
    conn = MemoryConnector(cal)
    cal.fail_writes_matching(lambda w: w.item is not None and w.item.get("summary") == "bad")
    out = conn.write_many([
        Write("create", "h1", item=ev("1@x")),
        Write("create", "h2", item=ev("2@x", "bad")),
        Write("create", "h3", item=ev("3@x")),
    ])
    assert [type(o) for o in out] == [WriteResult, TransientError, WriteResult]
    cal.fail_writes_matching(None)
    assert isinstance(conn.create(ev("2@x", "bad"), "h2"), WriteResult)


def test_random_write_failures_are_reproducible_with_a_seed() -> None:
    def run(seed: int) -> list[bool]:
        cal = MemoryCalendar(seed=seed)
        cal.fail_writes_randomly(0.5)
        conn = MemoryConnector(cal)
        out = conn.write_many([Write("create", f"h{n}", item=ev(f"{n}@x")) for n in range(40)])
        return [isinstance(o, WriteResult) for o in out]

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert 5 < sum(run(1)) < 35


def test_lost_response_applies_the_write_and_a_retry_finds_it() -> None:
    cal = MemoryCalendar()
    conn = MemoryConnector(cal)
    cal.lose_next_responses(1)
    with pytest.raises(TransientError):
        conn.create(ev("a@x"), "hub-a")
    [rid] = cal.find_uid("a@x")  # the write happened, stamped with the hub id
    assert cal.hub_item_id(rid) == "hub-a"
    with pytest.raises(RemoteAlreadyExists):  # a blind retry cannot duplicate it
        conn.create(ev("a@x"), "hub-a")


def test_lost_response_duplicates_on_a_server_without_uid_enforcement() -> None:
    cal = MemoryCalendar(enforce_unique_uid=False)
    conn = MemoryConnector(cal)
    cal.lose_next_responses(1)
    with pytest.raises(TransientError):
        conn.create(ev("a@x"), "hub-a")
    conn.create(ev("a@x"), "hub-a")  # the retry succeeds: now there are two
    assert len(cal.find_uid("a@x")) == 2
    assert len(conn.delta(None, {}).changed) == 2


def test_failed_and_partial_deltas_never_report_deletions() -> None:
    cal = MemoryCalendar(seed=3)
    conn = MemoryConnector(cal)
    ids = [cal.user_create(ev(f"{n}@x")) for n in range(10)]
    known = {r.remote_id: r.remote_version for r in conn.delta(None, {}).changed}
    for rid in ids[:5]:
        cal.user_delete(rid)
    cal.fail_next_deltas(1)
    with pytest.raises(TransientError):
        conn.delta("c", known)
    cal.partial_next_deltas(1)
    partial = conn.delta("c", {})  # everything unknown: a partial listing shows a subset
    assert not partial.complete and partial.deleted == ()
    assert partial.cursor == "c"  # not advanced past what was not seen
    assert 0 < len(partial.changed) < 5
    full = conn.delta("c", known)
    assert full.complete and sorted(full.deleted) == sorted(ids[:5])


def test_partial_incremental_delta_does_not_advance_the_cursor() -> None:
    cal = MemoryCalendar(seed=5)
    conn = MemoryConnector(cal, incremental=True)
    first = conn.delta(None, {})
    ids = [cal.user_create(ev(f"{n}@x")) for n in range(8)]
    cal.partial_next_deltas(1, fraction=0.3)
    partial = conn.delta(first.cursor, {})
    assert partial.cursor == first.cursor and not partial.complete
    assert len(partial.changed) < 8
    full = conn.delta(partial.cursor, {})
    assert sorted(r.remote_id for r in full.changed) == sorted(ids)


def test_user_created_duplicate_uid_is_refused_when_enforced() -> None:
    cal = MemoryCalendar()
    cal.user_create(ev("a@x"))
    with pytest.raises(RemoteAlreadyExists):
        cal.user_create(ev("a@x", "again"))
    rid_b = cal.user_create(ev("b@x"))
    conn = MemoryConnector(cal)
    version = cal.entries()[rid_b].version
    with pytest.raises(RemoteAlreadyExists):  # an update may not take another item's UID
        conn.update(rid_b, version, ev("a@x"), "h")
