"""The public-folder listing reads (id, ChangeKey, LastModifiedTime) from FindItem's answer
itself: the rows must be what exchangelib's own items say, over several pages."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from cirahub.connectors.registry import open_connector
from tests.ews_emulator import EwsEmulator

from .conftest import PASSWORD, connector_config


def _public_folder_of(emu: EwsEmulator, n: int) -> Any:
    """The public-folder connector of a folder holding ``n`` items, made in Outlook."""
    folder_id = emu.add_public_folder("/Calendars/Team")
    t0 = datetime(2027, 1, 4, 9, tzinfo=UTC)
    for i in range(n):
        emu.user.create(folder_id, subject=f"e{i}", start=t0 + timedelta(hours=i),
                        end=t0 + timedelta(hours=i, minutes=30))
    return open_connector("ews-public-folder", connector_config(emu, "ews-public-folder"), PASSWORD)


def test_listing_rows_are_what_exchangelibs_items_say(emu: EwsEmulator) -> None:
    public = _public_folder_of(emu, 7)
    public.cfg = dataclasses.replace(public.cfg, page_size=3)
    emu.reset_log()
    rows, complete = public.list_ids()
    assert emu.count("FindItem") == 3  # 3 + 3 + 1: the rows came over several pages
    assert complete and len(rows) == 7
    want = {(i.id, i.changekey, i.last_modified_time)
            for i in public.folder.all().only("changekey", "last_modified_time")}
    assert set(rows) == want
    assert all(isinstance(lmt, datetime) and lmt.tzinfo is not None for _, _, lmt in rows)
    public.close()


def test_a_listing_takes_exchanges_largest_pages(emu: EwsEmulator) -> None:
    """1,000 items a page (Exchange's EWSFindCountLimit): a folder of 1,001 items is listed in
    two requests, and a client asking for more per page still gets 1,000 and pages on."""
    public = _public_folder_of(emu, 1001)
    emu.reset_log()
    rows, complete = public.list_ids()
    assert complete and len({rid for rid, _, _ in rows}) == 1001
    assert emu.count("FindItem") == 2
    public.cfg = dataclasses.replace(public.cfg, page_size=5000)  # above the server's cap
    emu.reset_log()
    rows, complete = public.list_ids()
    assert complete and len(rows) == 1001 and emu.count("FindItem") == 2
    public.close()
