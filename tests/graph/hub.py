"""A whole-hub driver for Graph acceptance tests: one hub in a real store, spokes built the
way the runtime builds them (config validated, secret stored encrypted and read back,
``open_connector``), each synced by a real SyncCycle; graph spokes talk to the Graph emulator
over HTTP with tokens from the OAuth emulator.

"Users" act as Outlook would: straight on the emulator's store (:class:`Outlook`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cirahub.actors.cycle import LocalMerger, RunSummary, SyncCycle
from cirahub.connectors.registry import open_connector, validate_config
from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.options import SyncOptions
from tests.graph_emulator.api import EARLIEST, LATEST
from tests.graph_emulator.store import Event, Store

from .conftest import SECRET, GraphWorld


@dataclass
class Spoke:
    name: str
    id: str
    kind: str
    connector: Any
    cycle: SyncCycle


class Outlook:
    """A person editing a mailbox's calendar in Outlook: writes the emulator's store."""

    def __init__(self, store: Store, owner: str) -> None:
        self.store = store
        self.owner = owner

    @property
    def calendar(self) -> Any:
        return self.store.calendar(self.owner, None)

    def create(self, subject: str, start: datetime, minutes: int = 60, *, zone: str = "W. Europe Standard Time",
               weekly_count: int | None = None, all_day: str | None = None, **extra: Any) -> Event:
        local = start.replace(tzinfo=None)
        body: dict[str, Any] = {
            "subject": subject, "body": {"contentType": "html", "content": f"<p>{subject}</p>"},
            "start": {"dateTime": local.isoformat(), "timeZone": zone},
            "end": {"dateTime": (local + timedelta(minutes=minutes)).isoformat(), "timeZone": zone},
            **extra}
        if all_day is not None:  # midnight to midnight, as Outlook writes all-day events
            body.update(isAllDay=True, start={"dateTime": f"{start.date()}T00:00:00", "timeZone": zone},
                        end={"dateTime": f"{all_day}T00:00:00", "timeZone": zone})
        if weekly_count:
            day = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[start.weekday()]
            body["recurrence"] = {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day],
                                              "firstDayOfWeek": "monday"},
                                  "range": {"type": "numbered", "numberOfOccurrences": weekly_count,
                                            "startDate": start.date().isoformat(), "recurrenceTimeZone": zone}}
        with self.store.lock:
            return self.store.create(self.calendar, body)

    def key(self, ev: Event, n: int) -> str:
        with self.store.lock:
            return self.store.instance_keys(ev)[n]

    def move_occurrence(self, ev: Event, n: int, hours: int) -> str:
        key = self.key(ev, n)
        with self.store.lock:
            inst = next(i for i in self.store.instances(ev, EARLIEST, LATEST)
                        if i["originalStart"] == key)
            shift = timedelta(hours=hours)
            self.store.update(ev, key, {"start": _shift(inst["start"], shift), "end": _shift(inst["end"], shift)})
        return key

    def cancel_occurrence(self, ev: Event, n: int) -> str:
        key = self.key(ev, n)
        with self.store.lock:
            self.store.delete(ev, key)
        return key

    def edit(self, ev: Event, **patch: Any) -> None:
        with self.store.lock:
            self.store.update(ev, None, patch)

    def delete(self, ev: Event) -> None:
        with self.store.lock:
            self.store.delete(ev, None)

    def events(self) -> list[Event]:
        with self.store.lock:
            return [e for e in self.store.events.values() if e.calendar == self.calendar.id]


def _shift(value: dict[str, str], delta: timedelta) -> dict[str, str]:
    local = datetime.fromisoformat(value["dateTime"].split(".")[0]) + delta
    return {"dateTime": local.isoformat(), "timeZone": value["timeZone"]}


class GraphHub:
    """One hub with graph and vdir spokes, driven by hand."""

    def __init__(self, store: Any, world: GraphWorld, hub_name: str = "team") -> None:
        self.store = store
        self.world = world
        self.hub = store.create_hub(hub_name)
        self.merger = LocalMerger(store)
        self.spokes: dict[str, Spoke] = {}

    def _attach(self, name: str, kind: str, config: dict[str, Any], secret: str | None,
                options: SyncOptions | None) -> Spoke:
        normalized = validate_config(kind, config)
        record = self.store.add_spoke(self.hub.name, name, kind, normalized, options or SyncOptions(),
                                      secret=secret)
        record = self.store.get_spoke(record.id)
        connector = open_connector(record.kind, record.config, self.store.get_spoke_secret(record.id))
        spoke = Spoke(name, record.id, kind, connector, SyncCycle(self.store, connector, record.id, self.merger))
        self.spokes[name] = spoke
        return spoke

    def add_graph(self, name: str, mailbox: str | None = None, group: str | None = None,
                  options: SyncOptions | None = None, **extra: Any) -> Spoke:
        if group:
            self.world.graph.add_group(group)
            config = {**self.world.config(), "group": group, **extra}
            config.pop("mailbox")
        else:
            assert mailbox
            self.world.graph.add_mailbox(mailbox)
            config = self.world.config(mailbox, **extra)
        return self._attach(name, "graph", config, SECRET, options)

    def add_vdir(self, name: str, path: Path, options: SyncOptions | None = None) -> Spoke:
        return self._attach(name, "vdir", {"path": str(path)}, None, options)

    def outlook(self, mailbox: str | None = None, group: str | None = None) -> Outlook:
        return Outlook(self.world.graph.store, f"groups/{group}" if group else f"users/{mailbox}".lower())

    # --- running ---------------------------------------------------------------------------

    def sync(self, name: str) -> RunSummary:
        return self.spokes[name].cycle.run("test")

    def sync_all(self, rounds: int = 2) -> list[RunSummary]:
        return [self.sync(name) for _ in range(rounds) for name in self.spokes]

    def close(self) -> None:
        for spoke in self.spokes.values():
            spoke.connector.close()

    # --- reading ---------------------------------------------------------------------------

    def contents(self, name: str) -> dict[str, str]:
        """UID → fingerprint (ignoring what the spoke cannot carry) of every item in a spoke,
        read with the spoke's own connector; fails on a duplicate UID."""
        conn = self.spokes[name].connector
        delta = conn.delta(None, {})
        uids = [r.item.uid for r in delta.changed if r.item is not None]
        dupes = [u for u, n in Counter(uids).items() if n > 1]
        assert not dupes, f"duplicate UIDs in {name}: {dupes}"
        assert all(r.item is not None for r in delta.changed), [r.error for r in delta.changed]
        ignore = conn.capabilities.unsupported_fields
        return {r.item.uid: fingerprint(r.item, ignore) for r in delta.changed if r.item is not None}

    def hub_items(self) -> dict[str, Item]:
        return {h.uid: h.item for h in self.store.hub_items_changed_since(self.hub.id, 0) if h.item is not None}

    def assert_converged(self) -> set[str]:
        """Every spoke holds exactly the hub's items, with the same meaning, once each."""
        hub_uids = set(self.hub_items())
        for name, spoke in self.spokes.items():
            got = self.contents(name)
            assert set(got) == hub_uids, name
            ignore = spoke.connector.capabilities.unsupported_fields
            expected = {u: fingerprint(i, ignore) for u, i in self.hub_items().items()}
            assert got == {u: expected[u] for u in got}, f"{name} differs from the hub"
        return hub_uids


def all_ok(summaries: list[RunSummary]) -> None:
    bad = [(s.spoke_id, s.status, s.error, s.counts) for s in summaries if not s.ok]
    assert not bad, bad
