"""Issue 9, class 4: one bad item never fails a whole EWS batch. Each item's write error stays
that item's, the batch goes on, and the error is recorded with its reason per item — in the
run's error, the spoke's last error and the quarantine list — through real SyncCycles, the
real store and exchangelib against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cirahub.store.runs import WRITE_FAILED
from tests.ews_emulator import EwsEmulator

from .hub import EwsHub


@pytest.fixture
def hub(store: Any, emu: EwsEmulator) -> Iterator[EwsHub]:
    h = EwsHub(store, emu)
    h.add_public("source", "/Calendars/Source")
    h.add_public("target", "/Calendars/Target")
    yield h
    h.close()
    assert emu.meeting_messages == [], "the hub made Exchange send meeting mail"


def _three(hub: EwsHub, emu: EwsEmulator) -> None:
    start = datetime(2026, 12, 7, 9, tzinfo=UTC)
    for n, subject in enumerate(("Good one", "Bad apple", "Good two")):
        s = start + timedelta(days=n)
        emu.user.create(hub.spokes["source"].folder_id, subject=subject, start=s, end=s + timedelta(hours=1))


def test_regression_one_refused_item_does_not_fail_its_batch(hub: EwsHub, emu: EwsEmulator, store: Any) -> None:
    """Old code: the refused create raised out of the batch, so every create of the batch
    failed (pushed 0) and the operator saw only "some writes failed". The code here is one
    exchangelib does not know (it raises TransportError, which must not read as transient)."""
    _three(hub, emu)
    emu.refuse("Bad apple", "ErrorPublicFolderOperationFailed", "The public folder operation failed.")
    assert hub.sync("source").ok
    run = hub.sync("target")
    assert run.status == "partial"
    assert run.counts["pushed"] == 2 and run.counts["push_failed"] == 1, (run.counts, run.error)
    assert sorted(i["subject"] for i in hub.items("target")) == ["Good one", "Good two"]

    uid = hub.uid_of("source", "Bad apple")
    [entry] = store.list_quarantine(spoke_id=hub.spokes["target"].id)
    assert (entry.uid, entry.reason) == (uid, WRITE_FAILED)
    assert "ErrorPublicFolderOperationFailed" in entry.detail and "create" in entry.detail
    for error in (run.error, store.get_spoke(hub.spokes["target"].id).last_error,
                  store.get_run(run.run_id or "").error):
        assert error is not None and uid in error["message"] and "1 write(s) failed" in error["message"]

    # the next run retries only the refused item; once Exchange takes it, its record goes
    emu.reset_log()
    again = hub.sync("target")
    assert again.status == "partial" and emu.count("CreateItem") == 1
    emu.state.refusals.clear()
    assert hub.sync("target").ok
    assert sorted(i["subject"] for i in hub.items("target")) == ["Bad apple", "Good one", "Good two"]
    assert store.list_quarantine(spoke_id=hub.spokes["target"].id) == []
    assert store.get_spoke(hub.spokes["target"].id).last_error is None


def test_regression_schema_refusal_of_one_item_fails_only_that_item(hub: EwsHub, emu: EwsEmulator) -> None:
    """A value the server's schema refuses fails the whole CreateItem request on Exchange;
    the connector then writes the batch item by item, so only the bad item fails."""
    _three(hub, emu)
    assert hub.sync("source").ok
    conn = hub.spokes["target"].connector
    from cirahub.connectors.base import Write

    items = {h.uid: h for h in hub.store.hub_items_changed_since(hub.hub.id, 0)}
    writes = [Write("create", h.id, h.item) for h in items.values()]
    bad = next(n for n, w in enumerate(writes) if w.item is not None and w.item.get("summary") == "Bad apple")
    assert writes[bad].item is not None
    too_far = writes[bad].item.replace(alarms=[3_000_000])  # beyond ReminderMinutesBeforeStart's range
    writes[bad] = Write("create", writes[bad].hub_item_id, too_far)
    outcomes = conn.write_many(writes)
    assert [isinstance(o, Exception) for o in outcomes].count(True) <= 1, outcomes
    assert sum(1 for o in outcomes if not isinstance(o, Exception)) >= 2
