"""A whole-hub driver for EWS acceptance tests: one hub in a real store, spokes built the way
the runtime builds them (config validated like the CLI does, secret stored encrypted and read
back, ``open_connector``), each synced by a real :class:`~cirahub.actors.cycle.SyncCycle`
against the EWS emulator.

Read helpers look at the emulator's state directly (never through EWS), so they add nothing to
the request log that tests count.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cirahub.actors.cycle import LocalMerger, RunSummary, SyncCycle
from cirahub.connectors.registry import open_connector, validate_config
from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.options import SyncOptions
from tests.ews_emulator import EwsEmulator

from .conftest import PASSWORD, USER

WRITE_OPS = ("CreateItem", "UpdateItem", "DeleteItem")
#: the shared team mailbox the ews-mailbox spoke reads by delegate access
TEAM_MAILBOX = "team@example.com"


@dataclass
class EwsSpoke:
    name: str
    id: str
    kind: str
    folder_id: str
    connector: Any
    cycle: SyncCycle


class EwsHub:
    """One hub with EWS spokes on one emulator, driven by hand."""

    def __init__(self, store: Any, emu: EwsEmulator, hub_name: str = "team") -> None:
        self.store = store
        self.emu = emu
        self.hub = store.create_hub(hub_name)
        self.merger = LocalMerger(store)
        self.spokes: dict[str, EwsSpoke] = {}

    def _config(self, kind: str, **extra: Any) -> dict[str, Any]:
        """A config as ``cirahubctl spoke add`` would store it: validated and normalized."""
        raw: dict[str, Any] = {"service_endpoint": self.emu.url, "username": USER,
                               "version": "exchange2016", "auth_type": "basic",
                               "timezone": "Europe/Berlin", "max_retry_seconds": 5.0}
        raw.update(extra)
        return validate_config(kind, raw)

    def _attach(self, name: str, kind: str, folder_id: str, config: dict[str, Any],
                options: SyncOptions | None) -> EwsSpoke:
        record = self.store.add_spoke(self.hub.name, name, kind, config, options or SyncOptions(),
                                      secret=PASSWORD)
        record = self.store.get_spoke(record.id)
        connector = open_connector(record.kind, record.config, self.store.get_spoke_secret(record.id))
        cycle = SyncCycle(self.store, connector, record.id, self.merger)
        spoke = EwsSpoke(name, record.id, kind, folder_id, connector, cycle)
        self.spokes[name] = spoke
        return spoke

    def add_public(self, name: str, path: str, options: SyncOptions | None = None, **extra: Any) -> EwsSpoke:
        folder_id = self.emu.add_public_folder(path)
        return self._attach(name, "ews-public-folder", folder_id,
                            self._config("ews-public-folder", folder=path, **extra), options)

    def add_mailbox(self, name: str, mailbox: str = TEAM_MAILBOX, options: SyncOptions | None = None,
                    **extra: Any) -> EwsSpoke:
        self.emu.add_mailbox(mailbox)
        folder_id = self.emu.state.distinguished("calendar", mailbox).id
        return self._attach(name, "ews-mailbox", folder_id,
                            self._config("ews-mailbox", mailbox=mailbox, access_type="delegate", **extra),
                            options)

    def add_vdir(self, name: str, path: str, options: SyncOptions | None = None) -> EwsSpoke:
        """A folder of .ics files (iCalendar content Exchange may not hold as it is)."""
        return self._attach(name, "vdir", "", validate_config("vdir", {"path": path}), options)

    # --- running ---------------------------------------------------------------------------

    def sync(self, name: str) -> RunSummary:
        return self.spokes[name].cycle.run("test")

    def sync_all(self, rounds: int = 2) -> list[RunSummary]:
        return [self.sync(name) for _ in range(rounds) for name in self.spokes]

    def close(self) -> None:
        for spoke in self.spokes.values():
            spoke.connector.close()

    # --- reading the emulator --------------------------------------------------------------

    def items(self, name: str) -> list[dict[str, Any]]:
        """Summaries of the singles and series masters in a spoke's folder."""
        return self.emu.user.items(self.spokes[name].folder_id)

    def by_uid(self, name: str) -> dict[str, dict[str, Any]]:
        """The folder's items by UID; fails on a duplicate UID."""
        items = self.items(name)
        dupes = [u for u, n in Counter(i["uid"] for i in items).items() if n > 1]
        assert not dupes, f"duplicate UIDs in {name}: {dupes}"
        return {i["uid"]: i for i in items}

    def uid_of(self, name: str, subject: str) -> str:
        [item] = self.emu.user.find(self.spokes[name].folder_id, subject)
        return str(item["uid"])

    def id_of(self, name: str, uid: str) -> str:
        return str(self.by_uid(name)[uid]["id"])

    def exception_starts(self, name: str, uid: str) -> dict[datetime, datetime | None]:
        """original start → current start of each modified occurrence of a series."""
        with self.emu.state.lock:
            master = self.emu.state.items[self.id_of(name, uid)]
            return {orig: self.emu.state.items[exc].dt("Start") for orig, exc in master.exceptions.items()}

    def contents(self, name: str) -> dict[str, str]:
        """UID → fingerprint (ignoring what the spoke cannot carry) of every item in a spoke,
        read through EWS with the spoke's own connector (call outside counted sections)."""
        conn = self.spokes[name].connector
        rows, complete = conn.list_ids()
        assert complete
        out: dict[str, str] = {}
        for remote in conn.get_many([rid for rid, _, _ in rows]):
            assert remote.item is not None, remote.error
            assert remote.item.uid not in out, f"duplicate {remote.item.uid} in {name}"
            out[remote.item.uid] = fingerprint(remote.item, conn.ignore)
        return out

    def hub_contents(self, ignore: frozenset[str]) -> dict[str, str]:
        return {uid: fingerprint(item, ignore) for uid, item in self.hub_items().items()}

    def hub_items(self) -> dict[str, Item]:
        """Alive hub items by UID."""
        return {h.uid: h.item for h in self.store.hub_items_changed_since(self.hub.id, 0) if h.item is not None}

    def writes(self) -> int:
        return sum(self.emu.count(op) for op in WRITE_OPS)

    def age_items(self, delta: timedelta) -> None:
        """Move every item's LastModifiedTime back by ``delta`` (time passing since the last
        save) without touching anything else."""
        with self.emu.state.lock:
            for stored in self.emu.state.items.values():
                stored.modified -= delta


def all_ok(summaries: list[RunSummary]) -> None:
    bad = [(s.spoke_id, s.status, s.error, s.counts) for s in summaries if not s.ok]
    assert not bad, bad
