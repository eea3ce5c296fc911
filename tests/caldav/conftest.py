"""Fixtures: one Radicale per session (own storage folder, htpasswd auth), a fresh calendar
collection per test, a fault proxy in front of Radicale, a local feed server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cirahub.connectors.caldav import CalDAVConnector, parse_config
from cirahub.connectors.caldav.http import RetryPolicy

from .servers import PASSWORD, USER, CalendarUser, FaultProxy, FeedServer, Radicale

#: retries without real waiting, so fault tests stay fast
FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_back_off=0.2)


@pytest.fixture(scope="session")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    yield server
    server.stop()


@pytest.fixture
def calendar_path(radicale: Radicale) -> str:
    return radicale.mkcalendar()


@pytest.fixture
def user(radicale: Radicale, calendar_path: str) -> CalendarUser:
    return CalendarUser(radicale, calendar_path)


def make_connector(base: str, path: str, **config: Any) -> CalDAVConnector:
    retry = config.pop("retry", FAST_RETRY)
    password = config.pop("password", PASSWORD)
    cfg = parse_config({"url": base + path, "username": USER, **config})
    return CalDAVConnector(cfg, password, retry=retry)


@pytest.fixture
def connector(radicale: Radicale, calendar_path: str) -> Iterator[CalDAVConnector]:
    conn = make_connector(radicale.base, calendar_path)
    yield conn
    conn.close()


@pytest.fixture
def proxy(radicale: Radicale) -> Iterator[FaultProxy]:
    p = FaultProxy(radicale.port)
    yield p
    p.stop()


@pytest.fixture
def proxied(proxy: FaultProxy, calendar_path: str) -> Iterator[CalDAVConnector]:
    """A connector that talks to Radicale through the fault proxy (short timeout)."""
    conn = make_connector(proxy.base, calendar_path, timeout=1.0)
    yield conn
    conn.close()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.stop()
