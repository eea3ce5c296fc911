"""A graph spoke's client secret and its access tokens never appear in logs, errors, stored
records or the database file in clear."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cirahub.connectors.registry import discover, open_connector
from cirahub.core.errors import CirahubError

from .conftest import MAILBOX, SECRET, GraphWorld
from .hub import GraphHub, all_ok
from .test_graph_faults import _item


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_secret_and_tokens_stay_out_of_logs_and_database(store: Any, world: GraphWorld, tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hub = GraphHub(store, world)
    hub.add_graph("shared", mailbox=MAILBOX)
    hub.add_vdir("files", tmp_path / "vdir")
    hub.outlook(MAILBOX).create("Secret-free", datetime(2026, 12, 8, 9, tzinfo=ZoneInfo("Europe/Berlin")))
    world.graph.throttle(2, retry_after=0)  # retries log
    all_ok(hub.sync_all(rounds=2))
    world.tokens.advance(7200)  # a refused token logs its invalidation
    all_ok(hub.sync_all(rounds=1))
    bad = open_connector("graph", world.config(), "wrong-secret")
    with pytest.raises(CirahubError) as refused:
        bad.delta(None, {})
    bad.close()
    hub.close()
    assert world.graph.tokens_seen
    needles = [SECRET, "wrong-secret", *world.graph.tokens_seen]
    texts = {"logs": caplog.text, "error": f"{refused.value} {refused.value.to_dict()}",
             "records": repr([s.__dict__ for s in store.list_spokes()]),
             "database": (tmp_path / "cirahub.db").read_bytes().decode("latin-1")}
    for where, text in texts.items():
        for needle in needles:
            assert needle not in text, f"a secret or token is in the {where}"


def test_discovery_lists_the_mailbox_calendars_and_stores_nothing(world: GraphWorld) -> None:
    world.graph.add_calendar(MAILBOX, "Holidays")
    found = discover("graph", world.config(), SECRET).calendars
    assert [c.display_name for c in found] == ["Calendar", "Holidays"]
    assert all(c.writable for c in found)
    group = "1b1b1b1b-2222-4333-8444-555555555555"
    world.graph.add_group(group)
    cfg = {**world.config(), "group": group}
    cfg.pop("mailbox")
    assert [c.display_name for c in discover("graph", cfg, SECRET).calendars] == ["Calendar"]


def test_a_named_calendar_of_the_mailbox(world: GraphWorld) -> None:
    holidays = world.graph.add_calendar(MAILBOX, "Holidays")
    conn = open_connector("graph", world.config(calendar="Holidays"), SECRET)
    made = conn.create(_item(1), "hub-1")
    assert world.graph.store.events[made.remote_id].calendar == holidays.id
    assert [r.remote_id for r in conn.delta(None, {}).changed] == [made.remote_id]
    conn.close()
    missing = open_connector("graph", world.config(calendar="Nope"), SECRET)
    with pytest.raises(CirahubError) as err:
        missing.delta(None, {})
    assert "Holidays" in err.value.message and err.value.code == "config_error"
    missing.close()
