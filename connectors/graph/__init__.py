"""The ``graph`` spoke kind: Microsoft 365 user, shared-mailbox and group calendars through
Microsoft Graph (httpx + msal). See :mod:`.connector` (reading), :mod:`.writes` (writing),
:mod:`.mapping` (what is carried), :mod:`.config` (settings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cirahub.connectors import oauth
from cirahub.connectors.kinds import DiscoveredCalendar, DiscoveryPage, DiscoveryQuery

from .config import GraphConfig, parse_config, validate
from .connector import GraphConnector
from .http import Request


def token_provider(cfg: GraphConfig, secret: str | None) -> oauth.MsalTokenProvider:
    """The msal token provider of a spoke: app-only (client secret, or certificate with an
    optional passphrase as the secret) or delegated (the refresh token as the secret)."""
    delegated = cfg.auth == "oauth-delegated"
    settings = oauth.settings_from_config(
        cfg.to_dict(), oauth.GRAPH_DELEGATED_SCOPES if delegated else oauth.GRAPH_APP_SCOPES,
        delegated=delegated)
    return oauth.MsalTokenProvider(settings, secret)


def open_graph(config: Mapping[str, Any], secret: str | None) -> GraphConnector:
    """Registry factory: a connector for a validated config (no I/O until the first call)."""
    cfg = parse_config(config)
    return GraphConnector(cfg, token_provider(cfg, secret))


def discover(config: Mapping[str, Any], secret: str | None,
             query: DiscoveryQuery | None = None) -> DiscoveryPage:
    """The calendars of the config's mailbox (or the group's one calendar), storing nothing,
    one page of ``query`` (the registry's discovery protocol). ``path`` is what the
    ``calendar`` key takes."""
    query = query or DiscoveryQuery()
    found = _calendars(config, secret)
    page = found[query.offset:query.offset + query.page_size]
    more = query.offset + len(page) < len(found)
    return DiscoveryPage(tuple(page), query.offset + len(page) if more else None)


def _calendars(config: Mapping[str, Any], secret: str | None) -> list[DiscoveredCalendar]:
    cfg = parse_config(config)
    conn = GraphConnector(cfg, token_provider(cfg, secret))
    try:
        if cfg.group:
            cal = conn.http.call(Request("GET", f"{cfg.owner}/calendar"), "get calendar") or {}
            return [DiscoveredCalendar("", str(cal.get("name") or "Calendar"), None,
                                       bool(cal.get("canEdit", True)))]
        out: list[DiscoveredCalendar] = []
        url: str | None = f"{cfg.owner}/calendars?$top=100"
        while url is not None and len(out) < 1000:
            page = conn.http.call(Request("GET", url), "list calendars") or {}
            out += [DiscoveredCalendar(str(c.get("name")), str(c.get("name")), None,
                                       bool(c.get("canEdit", True))) for c in page.get("value") or []]
            url = page.get("@odata.nextLink")
        return out
    finally:
        conn.close()


__all__ = ["GraphConfig", "GraphConnector", "discover", "open_graph", "parse_config", "validate"]
