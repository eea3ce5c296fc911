"""Connector behaviour against the EWS emulator under faults, and the cost of polling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cirahub.connectors.base import Write, WriteResult
from cirahub.connectors.registry import open_connector, validate_config
from cirahub.core.errors import AuthError, InvalidInput, PreconditionFailed, TransientError
from cirahub.core.item import Item
from tests.ews_emulator import EwsEmulator

from .conftest import PASSWORD, connector_config


def _item(n: int) -> Item:
    start = datetime(2026, 7, 1, 9, tzinfo=UTC) + timedelta(days=n)
    return Item(f"u{n}@test", {"summary": f"event {n}",
                               "start": {"utc": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
                               "end": {"utc": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}})


def _open(emu: EwsEmulator, **extra: Any) -> Any:
    return open_connector("ews-public-folder", connector_config(emu, "ews-public-folder", **extra), PASSWORD)


@pytest.mark.parametrize("count", [3, 40])
def test_no_change_poll_costs_one_request_whatever_the_size(emu: EwsEmulator, count: int) -> None:
    folder = emu.add_public_folder("/Calendars/Team")
    for n in range(count):
        emu.user.create(folder, subject=f"e{n}", start=datetime(2026, 7, 1, 9, tzinfo=UTC) + timedelta(days=n),
                        end=datetime(2026, 7, 1, 10, tzinfo=UTC) + timedelta(days=n))
    with emu.state.lock:  # saved over the last hours, a minute apart (a realistic folder)
        for n, stored in enumerate(emu.state.items.values()):
            stored.modified -= timedelta(hours=1, minutes=n)
    conn = _open(emu, page_size=10)
    first = conn.delta(None, {})
    assert first.complete and len(first.changed) == count
    known = {r.remote_id: r.remote_version for r in first.changed}
    emu.reset_log()
    again = conn.delta(first.cursor, known)
    assert again.changed == () and again.deleted == ()
    assert [r.op for r in emu.requests] == ["FindItem"]


def test_incremental_poll_sees_user_edit_and_full_scan_sees_delete(emu: EwsEmulator) -> None:
    folder = emu.add_public_folder("/Calendars/Team")
    ids = [emu.user.create(folder, subject=f"e{n}", start=datetime(2026, 7, 1 + n, 9, tzinfo=UTC),
                           end=datetime(2026, 7, 1 + n, 10, tzinfo=UTC)) for n in range(3)]
    conn = _open(emu, full_scan_seconds=3600)
    first = conn.delta(None, {})
    known = {r.remote_id: r.remote_version for r in first.changed}
    emu.user.update(ids[0], subject="edited")
    emu.user.delete(ids[1])
    inc = conn.delta(first.cursor, known)
    assert [r.item.get("summary") for r in inc.changed if r.item] == ["edited"]
    assert inc.deleted == () and not inc.complete  # no full scan due: no deletions yet
    conn.cfg = type(conn.cfg)(**{**conn.cfg.__dict__, "full_scan_seconds": 0})
    full = conn.delta(inc.cursor, {**known, ids[0]: inc.changed[0].remote_version})
    assert full.complete and full.deleted == (ids[1],) and full.changed == ()


def test_partial_scan_yields_no_deletions(emu: EwsEmulator) -> None:
    folder = emu.add_public_folder("/Calendars/Team")
    ids = [emu.user.create(folder, subject=f"e{n}", start=datetime(2026, 7, 1 + n, 9, tzinfo=UTC),
                           end=datetime(2026, 7, 1 + n, 10, tzinfo=UTC)) for n in range(6)]
    conn = _open(emu, page_size=2, full_scan_seconds=0)
    first = conn.delta(None, {})
    known = {r.remote_id: r.remote_version for r in first.changed}
    emu.truncate_pages(count=1)
    partial = conn.delta(first.cursor, known)
    assert partial.deleted == () and not partial.complete
    emu.user.delete(ids[5])
    full = conn.delta(partial.cursor, known)
    assert full.complete and full.deleted == (ids[5],)


def test_server_busy_is_retried_after_the_servers_back_off(emu: EwsEmulator) -> None:
    emu.add_public_folder("/Calendars/Team")
    conn = _open(emu)
    conn.delta(None, {})
    emu.reset_log()
    emu.busy(count=2, back_off_ms=20, ops={"FindItem"})
    delta = conn.delta(None, {})
    assert delta.complete
    assert emu.count("FindItem") == 3


def test_server_busy_beyond_the_retry_budget_is_transient(emu: EwsEmulator) -> None:
    emu.add_public_folder("/Calendars/Team")
    conn = _open(emu, max_retry_seconds=0.3)
    conn.delta(None, {})
    emu.busy(count=100, back_off_ms=200, ops={"FindItem"})
    with pytest.raises(TransientError) as info:
        conn.delta(None, {})
    assert info.value.back_off == pytest.approx(0.2)
    emu.faults.clear()


def test_wrong_password_is_an_auth_error_not_retried(emu: EwsEmulator) -> None:
    emu.add_public_folder("/Calendars/Team")
    conn = open_connector("ews-public-folder", connector_config(emu, "ews-public-folder"), "wrong")
    with pytest.raises(AuthError):
        conn.delta(None, {})
    assert emu.count() == 0  # refused at HTTP level, never reached EWS


def test_dropped_connection_mid_batch_creates_no_duplicate(emu: EwsEmulator) -> None:
    folder = emu.add_public_folder("/Calendars/Team")
    conn = _open(emu)
    conn.delta(None, {})
    # the CreateItem is executed, but its answer is lost: the retry must find the stamps
    emu.drop(count=1, ops={"CreateItem"}, applied=True)
    out = conn.write_many([Write("create", f"hub-{n}", _item(n)) for n in range(3)])
    assert all(isinstance(r, WriteResult) for r in out)
    items = emu.user.items(folder)
    assert sorted(i["subject"] for i in items) == ["event 0", "event 1", "event 2"]
    assert {i["id"] for i in items} == {r.remote_id for r in out if isinstance(r, WriteResult)}
    assert emu.meeting_messages == []


def test_dropped_update_answer_is_not_a_lost_edit(emu: EwsEmulator) -> None:
    folder = emu.add_public_folder("/Calendars/Team")
    conn = _open(emu)
    res = conn.create(_item(1), "hub-1")
    emu.drop(count=1, ops={"UpdateItem"}, applied=True)
    new = conn.update(res.remote_id, res.remote_version, _item(1).replace(summary="renamed"), "hub-1")
    [only] = emu.user.items(folder)
    assert only["subject"] == "renamed" and new.remote_version == only["change_key"]


def test_stale_change_key_never_overwrites_the_users_edit(emu: EwsEmulator) -> None:
    folder = emu.add_public_folder("/Calendars/Team")
    conn = _open(emu)
    res = conn.create(_item(1), "hub-1")
    emu.user.update(res.remote_id, location="Room 7")  # a user saves in Outlook meanwhile
    with pytest.raises(PreconditionFailed):
        conn.update(res.remote_id, res.remote_version, _item(1).replace(summary="hub edit"), "hub-1")
    [only] = emu.user.items(folder)
    assert only["location"] == "Room 7" and only["subject"] == "event 1"
    # a ChangeKey race (bumped behind our back, no content change) is also refused
    [fresh] = conn.get_many([res.remote_id])
    emu.bump_change_key(res.remote_id)
    with pytest.raises(PreconditionFailed):
        conn.delete(res.remote_id, fresh.remote_version)
    assert len(emu.user.items(folder)) == 1
    assert emu.meeting_messages == []


def test_writes_never_send_meeting_messages(emu: EwsEmulator) -> None:
    emu.add_public_folder("/Calendars/Team")
    conn = _open(emu)
    meeting = _item(2).replace(attendees=[{"email": "bob@example.org", "role": "REQ-PARTICIPANT",
                                           "partstat": "NEEDS-ACTION"}])
    res = conn.create(meeting, "hub-2")
    res = conn.update(res.remote_id, res.remote_version, meeting.replace(summary="moved"), "hub-2")
    conn.delete(res.remote_id, res.remote_version)
    writes = [r for r in emu.requests if r.op in ("CreateItem", "UpdateItem", "DeleteItem")]
    assert {r.op for r in writes} == {"CreateItem", "UpdateItem", "DeleteItem"}
    assert emu.meeting_messages == []
    assert all(r.attrs.get("ConflictResolution") == "NeverOverwrite" for r in writes if r.op == "UpdateItem")


@pytest.mark.parametrize(("key", "value", "named"), [
    ("service_endpoint", "ftp://x", "service_endpoint"), ("username", "bad name!", "username"),
    # a plain user name is fine, but then the mailbox's address must be given
    ("username", "nobody", "mailbox"), ("version", "exchange2003", "version"),
    ("access_type", "root", "access_type"), ("bogus", 1, "bogus"),
    ("public_folder_routing", "yes", "public_folder_routing"), ("autodiscover_url", "ftp://x", "autodiscover_url"),
])
def test_bad_config_names_the_key(key: str, value: Any, named: str) -> None:
    cfg = {"service_endpoint": "https://mail.example.org/EWS/Exchange.asmx", "username": "svc@example.org",
           "folder": "/Calendars/Team", key: value}
    with pytest.raises(InvalidInput) as info:
        validate_config("ews-public-folder", cfg)
    assert info.value.fields["key"] == named
