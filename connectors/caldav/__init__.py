"""The ``caldav`` spoke kind (any CalDAV server) — registered with the connector registry.

Public API: :class:`CalDAVConnector`, :class:`CalDAVConfig`, :func:`parse_config`,
:func:`open_caldav`. See :mod:`.connector` for the sync behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cirahub.connectors.caldav.config import CalDAVConfig, parse_config
from cirahub.connectors.caldav.connector import CalDAVConnector


def open_caldav(config: Mapping[str, Any], secret: str | None) -> CalDAVConnector:
    """Registry factory: a connector for a validated config; the secret is the password.
    No I/O happens until the first call."""
    return CalDAVConnector(parse_config(config), secret)



__all__ = ["CalDAVConfig", "CalDAVConnector", "open_caldav", "parse_config"]
