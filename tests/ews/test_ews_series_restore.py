"""A series whose hub copy excludes fewer occurrences than its Exchange copy (a user re-included
one, or the winner of a merge has fewer EXDATEs): Exchange cannot un-delete an occurrence
(``DeletedOccurrences`` is read-only, and an update of the recurrence keeps the deletions), so
the connector recreates the series (same UID, same hub stamp, its modified occurrences
re-applied) and deletes the old copy. Seen in the CI chaos soak: "exchange: soak-21-…@folder-b
shows 1 excluded occurrence, the hub 0"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cirahub.connectors.base import Write, WriteResult
from cirahub.connectors.registry import open_connector
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_calendar
from tests.ews_emulator import EwsEmulator

from .conftest import PASSWORD, connector_config
from .hub import EwsHub, all_ok

UID = "series-restore@test"


@pytest.fixture(params=["ews-public-folder", "ews-mailbox"])
def conn(request: pytest.FixtureRequest, emu: EwsEmulator) -> Iterator[Any]:
    kind = request.param
    folder = (emu.add_public_folder("/Calendars/Team") if kind == "ews-public-folder"
              else emu.state.distinguished("calendar", "svc@example.com").id)
    c = open_connector(kind, connector_config(emu, kind, timezone="Europe/Berlin"), PASSWORD)
    c.folder_id = folder
    yield c
    c.close()
    assert emu.meeting_messages == [], "the hub made Exchange send meeting mail"


def _series(*exdates: str, moved: bool = True) -> Any:
    [item] = parse_calendar(_series_text(*exdates, moved=moved))
    return item


def _series_text(*exdates: str, moved: bool = True) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN",
             "BEGIN:VEVENT", f"UID:{UID}", "DTSTAMP:20260101T000000Z", "SUMMARY:Stand-up",
             "DTSTART;TZID=Europe/Berlin:20261102T090000", "DTEND;TZID=Europe/Berlin:20261102T093000",
             "RRULE:FREQ=DAILY;COUNT=10"]
    lines += [f"EXDATE;TZID=Europe/Berlin:{d}" for d in exdates]
    lines.append("END:VEVENT")
    if moved:  # one modified occurrence, which the recreated series must keep
        lines += ["BEGIN:VEVENT", f"UID:{UID}", "DTSTAMP:20260101T000000Z", "SUMMARY:Stand-up (late)",
                  "RECURRENCE-ID;TZID=Europe/Berlin:20261106T090000",
                  "DTSTART;TZID=Europe/Berlin:20261106T110000", "DTEND;TZID=Europe/Berlin:20261106T113000",
                  "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR", ""])


def _write(conn: Any, write: Write) -> WriteResult:
    [result] = conn.write_many([write])
    assert isinstance(result, WriteResult), result
    return result


def _masters(emu: EwsEmulator, conn: Any) -> list[dict[str, Any]]:
    return [i for i in emu.user.items(conn.folder_id) if i["uid"] == UID]


def test_regression_removed_exdate_is_restored_on_exchange(conn: Any, emu: EwsEmulator) -> None:
    """Old code: the update left both deleted occurrences in Exchange (the hub had one), so
    the spoke never showed the re-included occurrence and the next pull read the stale
    exclusion back as an edit."""
    first = _series("20261104T090000", "20261108T090000")
    created = _write(conn, Write("create", "hub-1", first))
    [master] = _masters(emu, conn)
    assert len(master["deleted_occurrences"]) == 2 and len(master["exceptions"]) == 1

    wanted = _series("20261108T090000")  # the 4th is back
    emu.reset_log()
    result = _write(conn, Write("update", "hub-1", wanted, created.remote_id, created.remote_version))

    [master] = _masters(emu, conn)  # one copy, never two
    assert master["deleted_occurrences"] == [datetime(2026, 11, 8, 8, 0, tzinfo=UTC)]
    assert master["exceptions"] == [datetime(2026, 11, 6, 8, 0, tzinfo=UTC)]
    assert master["ext"].get("HubEventId") == "hub-1"
    # the recreated series is a new item: the result names it, so the link moves with it
    assert result.remote_id == master["id"] != created.remote_id
    assert result.remote_version == master["change_key"]
    [seen] = conn.get_many([result.remote_id])
    assert fingerprint(seen.item, conn.ignore) == fingerprint(wanted, conn.ignore)
    # every request said: no meeting mail (checked by the fixture too)
    assert emu.count("CreateItem") == 1 and emu.count("DeleteItem") >= 1


def test_user_deleting_the_series_during_its_recreation_wins(
        conn: Any, emu: EwsEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Someone deletes the series in Outlook while the connector recreates it (here: just
    after the new copy got its occurrences): the new copy is taken back, the write is refused
    as stale (re-pull, re-plan), and the folder holds nothing: the delete is not undone."""
    from cirahub.connectors.ews.writes import Writer
    from cirahub.core.errors import PreconditionFailed

    created = _write(conn, Write("create", "hub-1", _series("20261104T090000", "20261108T090000")))
    real = Writer._occurrences

    def and_the_user_deletes(self: Writer, rid: str, wanted: Any, *args: Any) -> None:
        real(self, rid, wanted, *args)
        if rid != created.remote_id:
            emu.user.delete(created.remote_id)

    monkeypatch.setattr(Writer, "_occurrences", and_the_user_deletes)
    [result] = conn.write_many([Write("update", "hub-1", _series("20261108T090000"),
                                      created.remote_id, created.remote_version)])
    assert isinstance(result, PreconditionFailed), result
    assert _masters(emu, conn) == []


def test_series_already_holding_fewer_exclusions_is_only_updated(conn: Any, emu: EwsEmulator) -> None:
    """Adding an exclusion or editing the summary keeps the item (no recreation)."""
    created = _write(conn, Write("create", "hub-1", _series("20261104T090000")))
    emu.reset_log()
    more = _series("20261104T090000", "20261108T090000")
    result = _write(conn, Write("update", "hub-1", more, created.remote_id, created.remote_version))
    assert result.remote_id == created.remote_id
    assert emu.count("CreateItem") == 0
    [master] = _masters(emu, conn)
    assert len(master["deleted_occurrences"]) == 2


def test_re_included_occurrence_reaches_exchange_with_no_delete_or_create_seen(
        store: Any, emu: EwsEmulator, tmp_path: Path) -> None:
    """Through the hub: a file re-includes an occurrence; a public folder and a mailbox get
    their series recreated, and the polls after that see our own item (the link moved with
    it): no hub change, no conflict, no quarantine, one copy each, no meeting mail."""
    folder = tmp_path / "files"
    folder.mkdir()
    hub = EwsHub(store, emu)
    try:
        hub.add_vdir("files", str(folder))
        hub.add_public("team", "/Calendars/Team")
        hub.add_mailbox("box")
        (folder / "standup.ics").write_text(_series_text("20261104T090000", "20261108T090000"))
        all_ok(hub.sync_all(rounds=2))
        assert [len(hub.by_uid(n)[UID]["deleted_occurrences"]) for n in ("team", "box")] == [2, 2]

        (folder / "standup.ics").write_text(_series_text("20261108T090000"))
        all_ok(hub.sync_all(rounds=2))
        version = store.hub_version(hub.hub.id)
        [hub_item_id] = [h.id for h in store.hub_items_by_uid(hub.hub.id, [UID]).values()]
        all_ok(hub.sync_all(rounds=2))
        assert store.hub_version(hub.hub.id) == version  # no delete + create came back
        for name in ("team", "box"):
            master = hub.by_uid(name)[UID]  # one copy (by_uid fails on two)
            assert master["deleted_occurrences"] == [datetime(2026, 11, 8, 8, 0, tzinfo=UTC)], name
            assert master["exceptions"] == [datetime(2026, 11, 6, 8, 0, tzinfo=UTC)], name
            [link] = store.links_by_item(hub.spokes[name].id, [hub_item_id]).values()
            assert link.remote_id == master["id"], name
            assert store.pending_writes(hub.spokes[name].id, hub_item_ids=[hub_item_id]) == {}
        assert store.list_conflicts(hub.hub.name) == []
        assert store.list_quarantine(hub=hub.hub.name) == []
        assert emu.meeting_messages == []
    finally:
        hub.close()


# --- the emulator refuses what Exchange refuses ---------------------------------------------

_SOAP = ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
         'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
         'xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><s:Body>{}</s:Body></s:Envelope>')


def test_emulator_refuses_to_set_deleted_occurrences(conn: Any, emu: EwsEmulator) -> None:
    """``DeletedOccurrences`` is read-only in Exchange: no request can give an occurrence back."""
    created = _write(conn, Write("create", "hub-1", _series("20261104T090000", moved=False)))
    body = (f'<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations='
            f'"SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{created.remote_id}" ChangeKey='
            f'"{created.remote_version}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI='
            '"calendar:DeletedOccurrences"/><t:CalendarItem><t:DeletedOccurrences/></t:CalendarItem>'
            '</t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>')
    _status, answer = emu.handle(_SOAP.format(body).encode(), "svc@example.com", None)
    assert answer is not None and b"ErrorInvalidPropertySet" in answer and b"read-only" in answer, answer
    [master] = _masters(emu, conn)
    assert len(master["deleted_occurrences"]) == 1


def test_emulator_keeps_a_deletion_when_the_recurrence_is_updated(conn: Any, emu: EwsEmulator) -> None:
    """Updating the recurrence (here: two more occurrences) drops modified occurrences but
    keeps the deleted one (OfficeDev/ews-managed-api#235), as Exchange does."""
    from exchangelib.items import NEVER_OVERWRITE, SEND_TO_NONE

    created = _write(conn, Write("create", "hub-1", _series("20261104T090000")))
    [ci] = list(conn.account.fetch([(created.remote_id, None)], folder=conn.folder))
    ci.recurrence.boundary.number = 12
    ci.save(update_fields=["recurrence"], conflict_resolution=NEVER_OVERWRITE,
            send_meeting_invitations=SEND_TO_NONE)
    [master] = _masters(emu, conn)
    assert master["deleted_occurrences"] == [datetime(2026, 11, 4, 8, 0, tzinfo=UTC)]
    assert master["exceptions"] == []
