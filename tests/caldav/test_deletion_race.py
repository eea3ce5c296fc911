"""Class 8 of issue 9: nothing that happens on a CalDAV spoke between two polls is skipped.

sync-collection reports the *net* change between two states. The hub writes after its pull,
so an event the hub has just created and a user deletes before the next poll is in neither the
pulled state nor the next one: a connector that only trusted the report never heard of the
delete, and the event stayed on every other spoke for good. The "user" here is a third-party
client, the ``caldav`` library, against the real Radicale and Xandikos."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import caldav
import pytest

from cirahub.connectors.registry import open_connector
from tests.sync.harness import Loop

from .servers import PASSWORD, USER, DavServer

EVENT = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example//Desk//EN
BEGIN:VEVENT
UID:{uid}
DTSTAMP:20261101T080000Z
DTSTART:20261203T150000Z
DTEND:20261203T160000Z
SUMMARY:{summary}
END:VEVENT
END:VCALENDAR
"""


@pytest.fixture
def third_party(dav_server: DavServer) -> Iterator[caldav.DAVClient]:
    client = caldav.DAVClient(url=dav_server.base + "/", username=USER, password=PASSWORD)
    yield client
    client.close()


def _hub(store, tmp_path: Path, dav_server: DavServer) -> tuple[Loop, Path, str]:
    folder = tmp_path / "desk"
    folder.mkdir()
    collection = dav_server.base + dav_server.mkcalendar()
    loop = Loop(store)
    loop.add("desk", open_connector("vdir", {"path": str(folder)}), kind="vdir",
             config={"path": str(folder)})
    config = {"url": collection, "username": USER}
    loop.add("dav", open_connector("caldav", config, PASSWORD), kind="caldav", config=config)
    return loop, folder, collection


def test_regression_user_delete_right_after_hub_create_is_heard(
    store, tmp_path: Path, dav_server: DavServer, third_party: caldav.DAVClient
):
    loop, folder, collection = _hub(store, tmp_path, dav_server)
    loop.sync("dav")  # the collection is known (a sync token is held) before anything exists
    (folder / "review.ics").write_text(EVENT.format(uid="review@race", summary="Review"))
    loop.sync("desk")
    loop.sync("dav")  # pull (token T), then the hub creates the event there
    calendar = third_party.calendar(url=collection)
    calendar.event_by_uid("review@race").delete()  # before the hub polls again
    loop.sync("dav")
    loop.sync("desk")
    assert "review@race" not in loop.hub_items()
    assert not (folder / "review.ics").exists()


def test_regression_user_edit_right_after_hub_create_is_heard(
    store, tmp_path: Path, dav_server: DavServer, third_party: caldav.DAVClient
):
    loop, folder, collection = _hub(store, tmp_path, dav_server)
    loop.sync("dav")
    (folder / "plan.ics").write_text(EVENT.format(uid="plan@race", summary="Plan"))
    loop.sync("desk")
    loop.sync("dav")
    event = third_party.calendar(url=collection).event_by_uid("plan@race")
    event.icalendar_component["SUMMARY"] = "Plan (moved room)"
    event.save()
    loop.sync("dav")
    loop.sync("desk")
    assert loop.hub_items()["plan@race"].get("summary") == "Plan (moved room)"
    assert "Plan (moved room)" in (folder / "plan.ics").read_text()


def test_an_unchanged_created_item_is_not_read_as_deleted(
    store, tmp_path: Path, dav_server: DavServer
):
    """The check asks about our creates only once and never mistakes a present one for gone."""
    loop, folder, _ = _hub(store, tmp_path, dav_server)
    loop.sync("dav")
    for n in range(3):
        (folder / f"e{n}.ics").write_text(EVENT.format(uid=f"e{n}@race", summary=f"E{n}"))
    loop.sync("desk")
    loop.sync("dav")
    loop.sync_all(rounds=2)
    assert set(loop.hub_items()) == {"e0@race", "e1@race", "e2@race"}
    assert len(list(folder.glob("*.ics"))) == 3
