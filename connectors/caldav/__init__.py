"""The ``caldav`` spoke kind (any CalDAV server) — registered with the connector registry.

Public API: :class:`CalDAVConnector`, :class:`CalDAVConfig`, :func:`parse_config`,
:func:`open_caldav`. See :mod:`.connector` for the sync behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cirahub.connectors.caldav.config import CalDAVConfig, parse_config
from cirahub.connectors.caldav.connector import CalDAVConnector
from cirahub.connectors.caldav.discovery import list_calendars
from cirahub.connectors.kinds import DiscoveredCalendar, DiscoveryPage, DiscoveryQuery


def open_caldav(config: Mapping[str, Any], secret: str | None) -> CalDAVConnector:
    """Registry factory: a connector for a validated config; the secret is the password.
    No I/O happens until the first call."""
    return CalDAVConnector(parse_config(config), secret)

def discover_calendars(config: Mapping[str, Any], secret: str | None,
                       query: DiscoveryQuery) -> DiscoveryPage:
    """Registry discovery hook: the calendar collections ``url`` leads to (a collection
    itself, or a principal's / home's calendars), paged; ``path`` is what ``calendar`` takes.
    Item counts are not cheap on CalDAV (None)."""
    conn = open_caldav(config, secret)
    try:
        found = list_calendars(conn.http, conn.config.url)
    finally:
        conn.close()
    page = found[query.offset:query.offset + query.page_size]
    more = query.offset + len(page) < len(found)
    return DiscoveryPage(tuple(DiscoveredCalendar(c.path, c.display_name or c.path.rstrip("/").rsplit("/", 1)[-1])
                               for c in page), query.offset + len(page) if more else None)


__all__ = ["CalDAVConfig", "CalDAVConnector", "discover_calendars", "open_caldav", "parse_config"]
