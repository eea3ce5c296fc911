"""The shared connector contract for both EWS kinds, against the EWS emulator.

The harness's "user" is a second exchangelib client (as Outlook would be): it writes items
without the hub stamp, through real EWS requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from exchangelib import Account, Build, Configuration, Credentials, Version
from exchangelib.items import SEND_TO_NONE, CalendarItem
from exchangelib.transport import BASIC

from cirahub.connectors.ews import mapping
from cirahub.connectors.ews.recurrence import from_rrule
from cirahub.connectors.registry import open_connector
from cirahub.core.item import Item
from tests.contract.suite import ConnectorContract
from tests.ews_emulator import EwsEmulator

from .conftest import PASSWORD, USER, connector_config


class EwsHarness:
    def __init__(self, emu: EwsEmulator, kind: str) -> None:
        self.emu = emu
        if kind == "ews-public-folder":
            self.folder_id = emu.add_public_folder("/Calendars/Team")
        else:
            self.folder_id = emu.state.distinguished("calendar", USER).id
        self.connector = open_connector(kind, connector_config(emu, kind), PASSWORD)
        conf = Configuration(service_endpoint=emu.url, credentials=Credentials(USER, PASSWORD),
                             auth_type=BASIC, version=Version(build=Build(15, 20, 8769, 21)))
        self.acc = Account(USER, config=conf, autodiscover=False)
        self.ignore = self.connector.capabilities.unsupported_fields
        self.kind = kind
        self._user_folder: Any = None

    def _folder(self) -> Any:
        if self._user_folder is None:
            self._user_folder = (self.acc.public_folders_root // "Calendars" // "Team"
                                 if self.kind == "ews-public-folder" else self.acc.calendar)
        return self._user_folder

    def _ci(self, item: Item, **kw: Any) -> CalendarItem:
        from exchangelib import EWSTimeZone
        values = mapping.write_values(item.fields, EWSTimeZone("UTC"), attendees=True)
        if item.get("rrule"):
            values["recurrence"] = from_rrule(item.fields["rrule"], item.fields["start"], item.uid)
        return CalendarItem(account=self.acc, folder=self._folder(), **values, **kw)

    def _id_of(self, uid: str) -> str:
        return next(i["id"] for i in self.emu.user.items(self.folder_id) if i["uid"] == uid)

    def user_create(self, item: Item) -> None:
        self._ci(item, uid=item.uid).save(send_meeting_invitations=SEND_TO_NONE)
        if item.overrides or item.get("exdates"):
            rid = self._id_of(item.uid)
            self.connector.write_many([])  # nothing; occurrences go through the writer below
            from cirahub.connectors.ews.writes import Writer
            Writer(self.connector)._occurrences(rid, item)

    def user_update(self, uid: str, item: Item) -> None:
        rid = self._id_of(uid)
        [cur] = list(self.acc.fetch([(rid, None)], folder=self._folder(), only_fields=["subject"]))
        ci = self._ci(item, id=rid, changekey=cur.changekey)
        fields = [f for f in mapping.write_values(item.fields, ci.start.tzinfo, attendees=True)
                  if f != "hub_extra"]
        ci.save(update_fields=fields,
                send_meeting_invitations=SEND_TO_NONE)

    def user_delete(self, uid: str) -> None:
        self.emu.user.delete(self._id_of(uid))

    def user_write_raw(self, name: str, text: str) -> None:
        raise NotImplementedError("Exchange holds no malformed calendar items")

    def project(self, item: Item) -> Item:
        def strip(fields: Any) -> dict[str, Any]:
            return {k: v for k, v in fields.items() if k not in self.ignore and k != "last_modified"}
        return Item(item.uid, strip(item.fields), {k: strip(v) for k, v in item.overrides.items()})

    @contextlib.contextmanager
    def listing_fails(self) -> Iterator[None]:
        self.emu.busy(count=1000, back_off_ms=2000)
        try:
            yield
        finally:
            self.emu.faults.clear()



def _without_last_modified(conn: Any) -> None:
    """The suite compares fields exactly; EWS always reports the server-assigned
    LastModifiedTime (volatile: no fingerprint counts it), so the harness drops it."""
    fetch = conn.fetch

    def fetch_stripped(ids: Any, *, missing_ok: bool, restore: bool = True) -> Any:
        out = []
        for r in fetch(ids, missing_ok=missing_ok, restore=restore):
            if r.item is not None:
                item = r.item
                r = type(r)(r.remote_id, r.remote_version, Item(item.uid, {
                    k: v for k, v in item.fields.items() if k != "last_modified"}, {
                    k: {f: x for f, x in v.items() if f != "last_modified"} for k, v in item.overrides.items()}))
            out.append(r)
        return out

    conn.fetch = fetch_stripped


class PublicHarness(EwsHarness):
    """Public folders list with FindItem, so a listing can be partial (truncated pages);
    mailboxes use SyncFolderItems, whose deletions are server-reported."""

    @contextlib.contextmanager
    def listing_partial(self) -> Iterator[None]:
        self.emu.truncate_pages(count=1000)
        try:
            yield
        finally:
            self.emu.faults.clear()


class _Base(ConnectorContract):
    kind = ""

    @pytest.fixture
    def harness(self) -> Iterator[EwsHarness]:
        with EwsEmulator({USER: PASSWORD}) as emu:
            h = (PublicHarness if self.kind == "ews-public-folder" else EwsHarness)(emu, self.kind)
            h.connector.cfg = type(h.connector.cfg)(**{**h.connector.cfg.__dict__, "page_size": 2,
                                                        "max_retry_seconds": 0.5, "full_scan_seconds": 0})
            _without_last_modified(h.connector)
            yield h
            h.connector.close()
            assert emu.meeting_messages == []


class TestEwsPublicFolderContract(_Base):
    kind = "ews-public-folder"


class TestEwsMailboxContract(_Base):
    kind = "ews-mailbox"
