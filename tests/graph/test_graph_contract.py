"""The shared connector contract for the graph kind, against the Graph emulator (signed in
through the OAuth emulator with msal). The harness's "user" writes events as Outlook would:
straight into the emulator's store, without our stamps."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from cirahub.connectors.graph import mapping
from cirahub.connectors.graph.connector import GraphConnector
from cirahub.connectors.graph.recurrence import from_rrule
from cirahub.connectors.registry import open_connector
from cirahub.core.item import Item
from tests.contract.suite import ConnectorContract

from .conftest import SECRET, GraphWorld


class GraphHarness:
    def __init__(self, world: GraphWorld) -> None:
        self.world = world
        conn = open_connector("graph", world.config(), SECRET)
        assert isinstance(conn, GraphConnector)
        self.connector = conn
        self.ignore = conn.capabilities.unsupported_fields
        self.store = world.graph.store
        self.cal = self.store.calendar(f"users/{world.config()['mailbox']}", None)

    def _body(self, item: Item) -> dict[str, Any]:
        body = mapping.write_body(item.fields)
        if item.get("attendees"):  # a real meeting made in Outlook: native attendees
            body["body"]["content"] = str(item.get("description") or "")
            body["attendees"] = [{"emailAddress": {"address": a["email"], "name": a.get("name", "")},
                                  "type": "optional" if a.get("role") == "OPT-PARTICIPANT" else "required",
                                  "status": {"response": {"ACCEPTED": "accepted", "TENTATIVE": "tentativelyAccepted"}
                                             .get(a.get("partstat", ""), "none")}}
                                 for a in item.fields["attendees"]]
        if item.get("rrule"):
            body["recurrence"] = from_rrule(item.fields["rrule"], item.fields["start"], item.uid,
                                            body["start"]["timeZone"])
        body["singleValueExtendedProperties"] = [
            {"id": mapping.HUB_UID, "value": item.uid},
            {"id": mapping.HUB_ALARMS, "value": str(sorted(item.get("alarms") or []))}]
        return body

    def _event(self, uid: str) -> Any:
        for ev in self.store.events.values():
            props = {p["id"]: p["value"] for p in ev.data["singleValueExtendedProperties"]}
            if props.get(mapping.HUB_UID) == uid or ev.data.get("iCalUId") == uid:
                return ev
        raise KeyError(uid)

    def _occurrences(self, ev: Any, item: Item) -> None:
        from tests.graph_emulator.store import iso
        for key in item.get("exdates") or []:
            self.store.delete(ev, _iso_key(key))
        for key, fields in item.overrides.items():
            self.store.update(ev, _iso_key(key), mapping.write_body(fields))
        assert iso  # keys are UTC ISO in the emulator

    def user_create(self, item: Item) -> None:
        with self.store.lock:
            ev = self.store.create(self.cal, self._body(item))
            self._occurrences(ev, item)

    def user_update(self, uid: str, item: Item) -> None:
        with self.store.lock:
            ev = self._event(uid)
            self.store.update(ev, None, self._body(item))

    def user_delete(self, uid: str) -> None:
        with self.store.lock:
            self.store.delete(self._event(uid), None)

    def user_write_raw(self, name: str, text: str) -> None:
        raise NotImplementedError("Graph holds no malformed events")

    def project(self, item: Item) -> Item:
        def strip(fields: Any) -> dict[str, Any]:
            return {k: v for k, v in fields.items() if k not in self.ignore and k != "last_modified"}
        return Item(item.uid, strip(item.fields), {k: strip(v) for k, v in item.overrides.items()})

    @contextlib.contextmanager
    def listing_fails(self) -> Iterator[None]:
        self.world.graph.unavailable(1000, ops=("delta",))
        try:
            yield
        finally:
            self.world.graph.faults.clear()


def _iso_key(key: str) -> str:
    if "T" not in key:
        return f"{key[:4]}-{key[4:6]}-{key[6:8]}T00:00:00Z"
    return f"{key[:4]}-{key[4:6]}-{key[6:8]}T{key[9:11]}:{key[11:13]}:{key[13:15]}Z"


def _without_last_modified(conn: GraphConnector) -> None:
    """The suite compares fields exactly; Graph always reports lastModifiedDateTime (volatile:
    no fingerprint counts it), so the harness drops it."""
    to_item = conn.to_item

    def stripped(event: Any) -> Item:
        item = to_item(event)
        return Item(item.uid, {k: v for k, v in item.fields.items() if k != "last_modified"},
                    item.overrides)

    conn.to_item = stripped  # type: ignore[method-assign]


class TestGraphContract(ConnectorContract):
    @pytest.fixture
    def harness(self, world: GraphWorld) -> Iterator[GraphHarness]:
        h = GraphHarness(world)
        h.connector.cfg = type(h.connector.cfg)(**{**h.connector.cfg.__dict__, "max_retry_seconds": 0.5})
        h.connector.http.max_retry_seconds = 0.5
        _without_last_modified(h.connector)
        yield h
        h.connector.close()
