"""Graph acceptance: a hub with a shared-mailbox calendar and a group calendar (both graph
spokes) and a vdir, synced by real SyncCycles on the real store, the graph spokes over HTTP
against the Graph emulator with OAuth tokens from the token emulator."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import GraphWorld
from .hub import GraphHub, all_ok

BERLIN = ZoneInfo("Europe/Berlin")
SHARED = "team-calendar@contoso.onmicrosoft.com"
GROUP = "6f1c1d2e-0000-4000-8000-00000000beef"


@pytest.fixture
def hub(store: Any, world: GraphWorld, tmp_path: Path) -> Iterator[GraphHub]:
    h = GraphHub(store, world)
    h.add_graph("shared", mailbox=SHARED)
    h.add_graph("group", group=GROUP)
    h.add_vdir("files", tmp_path / "vdir")
    yield h
    h.close()


def test_three_spokes_converge_with_a_weekly_series_moved_and_cancelled(hub: GraphHub, world: GraphWorld) -> None:
    outlook = hub.outlook(SHARED)
    series = outlook.create("Team standup", datetime(2026, 12, 7, 9, tzinfo=BERLIN), 15, weekly_count=8)
    outlook.create("Budget review", datetime(2026, 12, 9, 14, tzinfo=BERLIN), 60,
                   categories=["Finance"], sensitivity="private")
    outlook.create("Offsite", datetime(2026, 12, 17, tzinfo=BERLIN), all_day="2026-12-19")
    moved = outlook.move_occurrence(series, 2, hours=2)
    cancelled = outlook.cancel_occurrence(series, 4)
    all_ok(hub.sync_all(rounds=2))
    uids = hub.assert_converged()
    assert len(uids) == 3
    [standup] = [i for i in hub.hub_items().values() if i.get("summary") == "Team standup"]
    assert standup.get("rrule") == "FREQ=WEEKLY;COUNT=8;BYDAY=MO"
    cancelled_key = cancelled.replace("-", "").replace(":", "")
    moved_key = moved.replace("-", "").replace(":", "")
    assert standup.get("exdates") == [cancelled_key]
    assert list(standup.overrides) == [moved_key]
    assert standup.overrides[moved_key]["start"] == {"utc": "2026-12-21T10:00:00Z", "tz": "Europe/Berlin"}
    [offsite] = [i for i in hub.hub_items().values() if i.get("summary") == "Offsite"]
    assert offsite.get("start") == {"date": "2026-12-17"} and offsite.get("end") == {"date": "2026-12-19"}
    # the group calendar got the series with the same exceptions, written by the hub
    group = hub.outlook(group=GROUP)
    [copy] = [e for e in group.events() if e.is_series]
    assert set(copy.cancelled) == {cancelled} and set(copy.exceptions) == {moved}
    assert world.graph.attendee_writes == 0


def test_edits_and_deletes_flow_both_ways_and_settle(hub: GraphHub, tmp_path: Path) -> None:
    outlook = hub.outlook(SHARED)
    ev = outlook.create("Planning", datetime(2026, 12, 8, 10, tzinfo=BERLIN), 30)
    all_ok(hub.sync_all(rounds=2))
    hub.assert_converged()
    outlook.edit(ev, subject="Planning (room 2)")
    all_ok(hub.sync_all(rounds=2))
    assert {i.get("summary") for i in hub.hub_items().values()} == {"Planning (room 2)"}
    hub.assert_converged()
    # deleted in the group calendar (by a user): gone everywhere
    [copy] = hub.outlook(group=GROUP).events()
    hub.outlook(group=GROUP).delete(copy)
    all_ok(hub.sync_all(rounds=2))
    assert hub.hub_items() == {}
    assert hub.outlook(SHARED).events() == []
    assert list((tmp_path / "vdir").glob("*.ics")) == []
    # nothing to do: a second round writes nothing
    before = hub.world.graph.count("batch")
    all_ok(hub.sync_all(rounds=1))
    assert hub.world.graph.count("batch") == before


def test_meeting_is_written_as_an_appointment_with_attendees_in_the_body(hub: GraphHub, tmp_path: Path) -> None:
    (tmp_path / "vdir").mkdir(exist_ok=True)
    (tmp_path / "vdir" / "m.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:meeting-1@test\r\n"
        "DTSTAMP:20261201T000000Z\r\nDTSTART:20261210T130000Z\r\nDTEND:20261210T140000Z\r\n"
        "SUMMARY:Design review\r\nDESCRIPTION:Agenda: the new API\r\nORGANIZER:mailto:alice@example.org\r\n"
        "ATTENDEE;CN=Bob;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:bob@example.org\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n")
    all_ok(hub.sync_all(rounds=2))
    hub.assert_converged()
    [ev] = hub.outlook(SHARED).events()
    assert ev.data.get("attendees") in (None, [])
    body = ev.data["body"]["content"]
    assert body.startswith("Agenda: the new API") and "Bob <bob@example.org>" in body
    # the round trip keeps the attendee in the hub: no rewrite, no loss
    [item] = hub.hub_items().values()
    assert [a["email"] for a in item.get("attendees")] == ["bob@example.org"]
    before = hub.world.graph.count("batch")
    all_ok(hub.sync_all(rounds=1))
    assert hub.world.graph.count("batch") == before
    assert hub.world.graph.attendee_writes == 0


def test_regression_all_day_series_in_a_zone_east_of_utc_keeps_its_occurrence_dates(hub: GraphHub) -> None:
    """An all-day series written in Berlin: its occurrences' originalStart is 23:00 UTC of the
    day before; the occurrence keys must still be the local dates."""
    outlook = hub.outlook(SHARED)
    series = outlook.create("On call", datetime(2026, 12, 7, tzinfo=BERLIN), weekly_count=5,
                            all_day="2026-12-08")
    outlook.cancel_occurrence(series, 1)
    all_ok(hub.sync_all(rounds=2))
    hub.assert_converged()
    [item] = hub.hub_items().values()
    assert item.get("start") == {"date": "2026-12-07"}
    assert item.get("exdates") == ["20261214"]
    [copy] = hub.outlook(group=GROUP).events()
    assert len(copy.cancelled) == 1
