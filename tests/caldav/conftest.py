"""Fixtures: one Radicale and one Xandikos per session (own storage folders), a fresh calendar
collection per test, a fault proxy in front of Radicale, a local feed server.

``dav_server`` is parametrized over both servers: a test that takes it runs against each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cirahub.connectors.caldav import CalDAVConnector, parse_config
from cirahub.connectors.caldav.http import RetryPolicy

from .servers import (
    PASSWORD,
    USER,
    CalendarUser,
    DavServer,
    FaultProxy,
    FeedServer,
    Radicale,
    Xandikos,
)

#: retries without real waiting, so fault tests stay fast
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_back_off=0.2)


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Xandikos]:
    server = Xandikos(tmp_path_factory.mktemp("xandikos"))
    yield server
    server.stop()


@pytest.fixture(params=["radicale", "xandikos"])
def dav_server(request: pytest.FixtureRequest) -> DavServer:
    """Each real CalDAV server in turn (started once per session)."""
    server: DavServer = request.getfixturevalue(request.param)
    return server


@pytest.fixture
def calendar_path(dav_server: DavServer) -> str:
    return dav_server.mkcalendar()


@pytest.fixture
def user(dav_server: DavServer, calendar_path: str) -> CalendarUser:
    return CalendarUser(dav_server, calendar_path)


def make_connector(base: str, path: str, **config: Any) -> CalDAVConnector:
    retry = config.pop("retry", FAST_RETRY)
    password = config.pop("password", PASSWORD)
    cfg = parse_config({"url": base + path, "username": USER, **config})
    return CalDAVConnector(cfg, password, retry=retry)


@pytest.fixture
def connector(dav_server: DavServer, calendar_path: str) -> Iterator[CalDAVConnector]:
    conn = make_connector(dav_server.base, calendar_path)
    yield conn
    conn.close()


@pytest.fixture
def proxy(dav_server: DavServer) -> Iterator[FaultProxy]:
    """A fault proxy in front of ``dav_server``."""
    p = FaultProxy(dav_server.port)
    yield p
    p.stop()


@pytest.fixture
def proxied(proxy: FaultProxy, calendar_path: str) -> Iterator[CalDAVConnector]:
    """A connector that talks to the server through the fault proxy (short timeout)."""
    conn = make_connector(proxy.base, calendar_path, timeout=1.0)
    yield conn
    conn.close()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.stop()
