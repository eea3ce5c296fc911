"""Class 8 of issue 9 on Exchange: nothing that happens between two polls is skipped.

SyncFolderItems reports the net change since a sync state. The hub writes after its pull, so
an item the hub has just created in a mailbox calendar and that a user deletes before the next
poll is in neither state: the mailbox spoke never heard of the delete. Public folders find
deletions by complete listings only, so the same race there is settled at the next full scan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.ews_emulator import EwsEmulator

from .hub import EwsHub, all_ok


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def test_regression_mailbox_delete_right_after_hub_create_is_heard(
    store: Any, emu: EwsEmulator
) -> None:
    hub = EwsHub(store, emu)
    try:
        sales = hub.add_public("sales", "/Calendars/Sales")
        hub.add_mailbox("team")
        all_ok([hub.sync("team")])  # the mailbox holds a sync state before anything exists
        emu.user.create(sales.folder_id, subject="Budget review", start=_at(3, 9), end=_at(3, 10))
        all_ok([hub.sync("sales"), hub.sync("team")])  # pulled (state S), then created there
        uid = hub.uid_of("sales", "Budget review")
        emu.user.delete(hub.id_of("team", uid))  # before the hub polls the mailbox again
        all_ok([hub.sync("team"), hub.sync("sales")])
        assert uid not in hub.hub_items()
        assert hub.items("sales") == []
        assert emu.meeting_messages == []
    finally:
        hub.close()


def test_regression_public_folder_delete_right_after_hub_create_is_heard(
    store: Any, emu: EwsEmulator
) -> None:
    hub = EwsHub(store, emu)
    try:
        sales = hub.add_public("sales", "/Calendars/Sales")
        hub.add_public("ops", "/Calendars/Ops", full_scan_seconds=0)
        all_ok([hub.sync("ops")])
        emu.user.create(sales.folder_id, subject="Rota", start=_at(4, 9), end=_at(4, 10))
        emu.user.create(sales.folder_id, subject="Stays", start=_at(5, 9), end=_at(5, 10))
        all_ok([hub.sync("sales"), hub.sync("ops")])
        uid = hub.uid_of("sales", "Rota")
        emu.user.delete(hub.id_of("ops", uid))
        all_ok([hub.sync("ops"), hub.sync("sales")])
        assert uid not in hub.hub_items()
        assert [i["subject"] for i in hub.items("sales")] == ["Stays"]
    finally:
        hub.close()
