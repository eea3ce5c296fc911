"""The shared connector contract suite for ``caldav``, against a real Radicale and a real
Xandikos.

The connector talks through the fault proxy (so a failing listing can be injected); the
"user" edits Radicale directly with plain ``requests``, naming files as real clients do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from cirahub.connectors.caldav import CalDAVConnector
from cirahub.core.ical import to_ics
from cirahub.core.item import Item
from tests.contract.suite import ConnectorContract

from .conftest import make_connector
from .servers import CalendarUser, DavServer, Fault, FaultProxy

BROKEN_EVENT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
    "UID:broken@contract\r\nDTSTART:20260301T100000Z\r\nDTEND:20260301T110000Z\r\n"
    "RRULE:COUNT=3\r\nSUMMARY:a rule without FREQ\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


class DavHarness:
    """Contract-suite harness (protocol in tests/contract/suite.py)."""

    def __init__(self, server: DavServer, proxy: FaultProxy) -> None:
        self.user = CalendarUser(server, server.mkcalendar())
        self.proxy = proxy
        self.connector: CalDAVConnector = make_connector(proxy.base, self.user.path)

    def user_create(self, item: Item) -> None:
        self.user.put(to_ics(item))

    def user_update(self, uid: str, item: Item) -> None:
        self.user.put(to_ics(item), self.user.hrefs_by_uid()[uid])

    def user_delete(self, uid: str) -> None:
        self.user.delete(self.user.hrefs_by_uid()[uid])

    def user_write_raw(self, name: str, text: str) -> None:
        r = self.user.radicale.session.put(self.user.url(self.user.path + name), data=text)
        if r.status_code in (200, 201, 204):
            return
        # the servers validate iCalendar on PUT; try content no program could expand (an
        # RRULE without FREQ) under that name instead. Radicale and Xandikos refuse that too
        # (what they accept, e.g. an end before the start, is carried since issue 9), so they
        # cannot hold malformed content and the test is skipped there.
        r = self.user.radicale.session.put(self.user.url(self.user.path + name), data=BROKEN_EVENT)
        if r.status_code not in (200, 201, 204):
            raise NotImplementedError(f"the server refuses malformed content ({r.status_code})")

    def project(self, item: Item) -> Item:
        return item  # CalDAV carries full iCalendar

    @contextlib.contextmanager
    def listing_fails(self) -> Iterator[None]:
        self.proxy.add(Fault("status", count=-1, status=503))
        try:
            yield
        finally:
            self.proxy.clear()


class TestCalDAVContract(ConnectorContract):
    @pytest.fixture
    def harness(self, dav_server: DavServer, proxy: FaultProxy) -> Iterator[Any]:
        h = DavHarness(dav_server, proxy)
        yield h
        h.connector.close()
