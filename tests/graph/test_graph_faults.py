"""Graph spokes under faults: 429 storms, answers dropped after the server applied a write,
503 in the middle of a delta round, token expiry, the calendarView window trap, and the
per-mailbox concurrency limit. Every scenario ends converged, without duplicates and without
a single attendee written."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cirahub.connectors.base import Write, WriteResult
from cirahub.connectors.registry import open_connector
from cirahub.core.errors import TransientError
from cirahub.core.item import Item

from .conftest import MAILBOX, SECRET, GraphWorld
from .hub import GraphHub, all_ok

BERLIN = ZoneInfo("Europe/Berlin")
GROUP = "0a0a0a0a-1111-4222-8333-444444444444"


def _item(n: int) -> Item:
    start = datetime(2026, 12, 10, 9, tzinfo=UTC) + timedelta(days=n)
    return Item(f"fault-{n}@test", {"summary": f"event {n}",
                                    "start": {"utc": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
                                    "end": {"utc": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}})


@pytest.fixture
def hub(store: Any, world: GraphWorld, tmp_path: Path) -> Iterator[GraphHub]:
    h = GraphHub(store, world)
    h.add_graph("shared", mailbox=MAILBOX)
    h.add_graph("group", group=GROUP)
    h.add_vdir("files", tmp_path / "vdir")
    yield h
    h.close()


def _seed(hub: GraphHub, count: int = 7) -> None:
    outlook = hub.outlook(MAILBOX)
    for n in range(count):
        outlook.create(f"seed {n}", datetime(2026, 12, 7 + n, 9, tzinfo=BERLIN), 30)
    series = outlook.create("Weekly", datetime(2026, 12, 7, 11, tzinfo=BERLIN), 30, weekly_count=6)
    outlook.move_occurrence(series, 1, hours=1)
    outlook.cancel_occurrence(series, 3)


def _no_duplicates(hub: GraphHub) -> None:
    for owner in (hub.outlook(MAILBOX), hub.outlook(group=GROUP)):
        subjects = [e.data.get("subject") for e in owner.events()]
        assert len(subjects) == len(set(subjects)), subjects


def test_429_storm_is_waited_out(hub: GraphHub, world: GraphWorld) -> None:
    _seed(hub)
    world.graph.throttle(40, retry_after=0)
    all_ok(hub.sync_all(rounds=2))
    assert world.graph.fired("throttle") == 40
    hub.assert_converged()
    _no_duplicates(hub)


def test_429_storm_longer_than_the_budget_fails_the_run_then_converges(hub: GraphHub, world: GraphWorld) -> None:
    _seed(hub)
    for spoke in hub.spokes.values():
        if spoke.kind == "graph":
            spoke.connector.http.max_retry_seconds = 0.3
    world.graph.throttle(10_000, retry_after=0.1)
    summaries = [hub.sync("shared"), hub.sync("group")]
    assert all(s.status == "error" for s in summaries)
    assert all((s.error or {}).get("code") == "transient" for s in summaries), summaries
    world.graph.faults.clear()
    all_ok(hub.sync_all(rounds=2))
    hub.assert_converged()
    _no_duplicates(hub)


def test_answers_dropped_after_apply_make_no_duplicates(hub: GraphHub, world: GraphWorld) -> None:
    _seed(hub)
    all_ok([hub.sync("shared")])  # the hub has everything; the group calendar gets it next
    world.graph.drop_after_apply(3, ops=("batch",))
    all_ok(hub.sync_all(rounds=2))
    assert world.graph.fired("drop_after_apply") == 3
    hub.assert_converged()
    _no_duplicates(hub)
    assert len(hub.outlook(group=GROUP).events()) == 8


def test_a_create_lost_beyond_the_retry_budget_is_found_by_its_stamp(world: GraphWorld) -> None:
    conn = open_connector("graph", world.config(max_retry_seconds=0), SECRET)
    world.graph.drop_after_apply(1000, ops=("batch",), skip=1)  # the lookup passes, the POST is lost
    with pytest.raises(TransientError):
        conn.create(_item(1), "hub-1")
    world.graph.faults.clear()
    assert world.graph.api is not None and world.graph.api.created == 1
    again = conn.create(_item(1), "hub-1")  # the next run: found by the hub-id stamp
    assert world.graph.api.created == 1
    assert [r.remote_id for r in conn.delta(None, {}).changed] == [again.remote_id]
    conn.close()


def test_transaction_id_makes_a_retried_post_idempotent(world: GraphWorld) -> None:
    conn = open_connector("graph", world.config(), SECRET)
    world.graph.drop_after_apply(2, ops=("batch",), skip=1)  # the POST batch is applied twice, answered once
    [res] = conn.write_many([Write("create", "hub-7", _item(7))])
    assert isinstance(res, WriteResult)
    assert world.graph.fired("drop_after_apply") == 2
    assert world.graph.api is not None and world.graph.api.created == 1
    conn.close()


def test_503_in_the_middle_of_a_delta_round(hub: GraphHub, world: GraphWorld) -> None:
    _seed(hub)
    all_ok(hub.sync_all(rounds=2))
    outlook = hub.outlook(MAILBOX)
    for n in range(5):
        outlook.create(f"later {n}", datetime(2026, 12, 20 + n, 9, tzinfo=BERLIN), 30)
    world.graph.unavailable(2, ops=("delta",), skip=1)  # page 2 of the round fails twice
    all_ok(hub.sync_all(rounds=2))
    assert world.graph.fired("unavailable") == 2
    hub.assert_converged()
    # a 503 that outlasts the budget: the run fails, the cursor stays, nothing is deleted
    conn = hub.spokes["shared"].connector
    conn.http.max_retry_seconds = 0.2
    world.graph.unavailable(10_000, ops=("delta",), skip=1, retry_after=0.1)
    outlook.delete(outlook.events()[0])
    for n in range(4):  # the round has two pages; the second one fails
        outlook.create(f"more {n}", datetime(2026, 12, 26, 9 + n, tzinfo=BERLIN), 30)
    failed = hub.sync("shared")
    assert failed.status == "error" and not failed.counts.get("tombstone_hub_item")
    world.graph.faults.clear()
    all_ok(hub.sync_all(rounds=2))
    hub.assert_converged()
    assert len(hub.hub_items()) == 16


def test_empty_pages_with_next_links(hub: GraphHub, world: GraphWorld) -> None:
    world.graph.empty_pages(3)
    _seed(hub)
    all_ok(hub.sync_all(rounds=2))
    hub.assert_converged()
    assert len(hub.hub_items()) == 8


def test_token_expiry_mid_run_is_survived(hub: GraphHub, world: GraphWorld) -> None:
    _seed(hub)
    all_ok([hub.sync("shared")])
    issued = len(world.tokens.issued)
    world.tokens.advance(2 * 3600)  # every token issued so far is now expired for Graph
    refused = world.graph.unauthorized
    all_ok(hub.sync_all(rounds=2))
    assert world.graph.unauthorized > refused  # the stale token was refused ...
    assert len(world.tokens.issued) > issued  # ... and a fresh one fetched
    hub.assert_converged()


def test_no_request_without_a_valid_token_is_answered(world: GraphWorld) -> None:
    import httpx
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        answer = httpx.get(f"{world.graph.url}/users/{MAILBOX}/calendar", headers=headers)
        assert answer.status_code == 401
        assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert world.graph.log == []  # nothing was routed


def test_regression_removed_outside_the_window_is_not_a_deletion(hub: GraphHub, world: GraphWorld) -> None:
    outlook = hub.outlook(MAILBOX)
    ev = outlook.create("Moves far away", datetime(2026, 12, 14, 9, tzinfo=BERLIN), 30)
    all_ok(hub.sync_all(rounds=2))
    # moved beyond the window's end: calendarView delta says "@removed (deleted)"
    outlook.edit(ev, start={"dateTime": "2031-06-02T09:00:00", "timeZone": "W. Europe Standard Time"},
                 end={"dateTime": "2031-06-02T09:30:00", "timeZone": "W. Europe Standard Time"})
    before = world.graph.delta.removed_sent
    all_ok(hub.sync_all(rounds=2))
    assert world.graph.delta.removed_sent > before
    [item] = hub.hub_items().values()  # not deleted: moved
    assert item.get("start") == {"utc": "2031-06-02T07:00:00Z", "tz": "Europe/Berlin"}
    assert len(hub.outlook(group=GROUP).events()) == 1


def test_a_window_change_starts_a_new_round(world: GraphWorld) -> None:
    conn = open_connector("graph", world.config(), SECRET)
    conn.create(_item(1), "hub-1")
    first = conn.delta(None, {})
    known = {r.remote_id: r.remote_version for r in first.changed}
    rounds = world.graph.delta.rounds_started
    wider = open_connector("graph", world.config(window_days_ahead=1000), SECRET)
    again = wider.delta(first.cursor, known)
    assert world.graph.delta.rounds_started == rounds + 1
    assert again.changed == () and again.deleted == () and again.complete
    conn.close()
    wider.close()


def test_at_most_four_requests_per_mailbox_at_once(world: GraphWorld) -> None:
    conns = [open_connector("graph", world.config(), SECRET) for _ in range(8)]
    made = conns[0].create(_item(1), "hub-1")
    world.graph.latency = 0.05
    errors: list[BaseException] = []

    def read(c: Any) -> None:
        try:
            for _ in range(3):
                c.get_many([made.remote_id])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert world.graph.peak_concurrency == 4  # the limit was reached, never passed
    for c in conns:
        c.close()


def test_no_change_poll_is_one_delta_request(world: GraphWorld) -> None:
    conn = open_connector("graph", world.config(page_size=50), SECRET)
    for n in range(12):
        conn.create(_item(n), f"hub-{n}")
    first = conn.delta(None, {})
    assert first.complete and first.listing_size == 12
    known = {r.remote_id: r.remote_version for r in first.changed}
    world.graph.log.clear()
    again = conn.delta(first.cursor, known)
    assert again.changed == () and again.deleted == ()
    assert [op for op, _ in world.graph.log] == ["delta"]
    # the echo of our own writes costs no reads either: the delta carries the versions
    for n in range(12, 15):
        made = conn.create(_item(n), f"hub-{n}")
        known[made.remote_id] = made.remote_version
    world.graph.log.clear()
    echo = conn.delta(again.cursor, known)
    assert echo.changed == () and echo.deleted == ()
    assert [op for op, _ in world.graph.log] == ["delta"]
    conn.close()
