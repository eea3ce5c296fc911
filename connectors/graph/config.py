"""Configuration of a ``graph`` spoke: validation into a frozen value (no I/O).

Keys: ``tenant``, ``client_id``, ``auth`` (``oauth-app`` default, or ``oauth-delegated``),
``certificate`` (PEM file, app-only), ``authority``, ``ca_file`` (see
:mod:`cirahub.connectors.oauth`); exactly one of ``mailbox`` (a user or shared mailbox:
address or id) and ``group`` (a Microsoft 365 group id); ``calendar`` (name or id under the
mailbox; empty = its default calendar); ``graph_url`` (default the v1.0 endpoint; plain http
only on loopback, for tests); the delta window ``window_days_back`` / ``window_days_ahead``;
tuning: ``page_size``, ``max_concurrency`` (≤ 4: Graph's per-mailbox limit),
``max_retry_seconds``, ``window_slack_days``, ``timeout``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from cirahub.connectors import oauth
from cirahub.core.errors import InvalidInput

GRAPH_URL = "https://graph.microsoft.com/v1.0"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_KEYS = frozenset({
    "tenant", "client_id", "auth", "certificate", "authority", "ca_file", "mailbox", "group",
    "calendar", "graph_url", "window_days_back", "window_days_ahead", "page_size",
    "max_concurrency", "max_retry_seconds", "window_slack_days", "timeout",
})
#: bounds of the numeric keys: (lowest, highest, default)
_NUMBERS: dict[str, tuple[float, float, float]] = {
    "window_days_back": (0, 3650, 365), "window_days_ahead": (1, 3650, 730),
    "page_size": (1, 1000, 100), "max_concurrency": (1, 4, 4),
    "max_retry_seconds": (0, 600, 60), "window_slack_days": (0, 365, 7), "timeout": (1, 600, 30),
}


@dataclass(frozen=True)
class GraphConfig:
    tenant: str
    client_id: str
    auth: str = "oauth-app"
    certificate: str | None = None
    authority: str = oauth.DEFAULT_AUTHORITY
    ca_file: str | None = None
    mailbox: str | None = None
    group: str | None = None
    calendar: str | None = None
    graph_url: str = GRAPH_URL
    window_days_back: int = 365
    window_days_ahead: int = 730
    page_size: int = 100
    max_concurrency: int = 4
    max_retry_seconds: float = 60.0
    window_slack_days: int = 7
    timeout: float = 30.0

    @property
    def owner(self) -> str:
        """The path of the calendar's owner: ``/users/{mailbox}`` or ``/groups/{id}``."""
        return f"/groups/{self.group}" if self.group else f"/users/{self.mailbox}"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def _text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.strip() or any(c in value for c in "/?#'\n"):
        raise InvalidInput(f"{key!r} must be a name or id without / ? # or quotes", key=key)
    return value.strip()


def _graph_url(value: Any) -> str:
    url = str(value or GRAPH_URL).rstrip("/")
    parts = urlsplit(url)
    ok = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
    if not ok or not parts.hostname or parts.username or parts.password:
        raise InvalidInput("'graph_url' must be an https URL (http only on loopback)",
                           key="graph_url")
    return url


def _number(config: Mapping[str, Any], key: str) -> float:
    low, high, default = _NUMBERS[key]
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(f"{key!r} must be a number from {low:g} to {high:g}", key=key)
    return float(value)


def parse_config(config: Mapping[str, Any]) -> GraphConfig:
    """A validated :class:`GraphConfig`, or InvalidInput naming the bad key."""
    if not isinstance(config, Mapping):
        raise InvalidInput("graph config must be a mapping", key="config")
    unknown = sorted(set(config) - _KEYS)
    if unknown:
        raise InvalidInput(f"unknown config key {unknown[0]!r}; allowed: {', '.join(sorted(_KEYS))}",
                           key=unknown[0])
    auth = str(config.get("auth") or "oauth-app")
    if auth not in ("oauth-app", "oauth-delegated"):
        raise InvalidInput("'auth' of a graph spoke is oauth-app or oauth-delegated", key="auth")
    oauth.validate_settings(config, delegated=auth == "oauth-delegated")
    mailbox, group = _text(config, "mailbox"), _text(config, "group")
    if (mailbox is None) == (group is None):
        raise InvalidInput("give exactly one of 'mailbox' (a user or shared mailbox) and "
                           "'group' (a Microsoft 365 group id)", key="mailbox")
    calendar = _text(config, "calendar")
    if group is not None and calendar is not None:
        raise InvalidInput("a group has one calendar: 'calendar' does not apply", key="calendar")
    nums = {k: _number(config, k) for k in _NUMBERS}
    return GraphConfig(
        tenant=str(config["tenant"]).strip(), client_id=str(config["client_id"]).strip(),
        auth=auth, certificate=config.get("certificate"),
        authority=str(config.get("authority") or oauth.DEFAULT_AUTHORITY).rstrip("/"),
        ca_file=config.get("ca_file"), mailbox=mailbox, group=group, calendar=calendar,
        graph_url=_graph_url(config.get("graph_url")),
        window_days_back=int(nums["window_days_back"]), window_days_ahead=int(nums["window_days_ahead"]),
        page_size=int(nums["page_size"]), max_concurrency=int(nums["max_concurrency"]),
        max_retry_seconds=nums["max_retry_seconds"], window_slack_days=int(nums["window_slack_days"]),
        timeout=nums["timeout"],
    )


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """Registry validator: the normalized config dict."""
    return parse_config(config).to_dict()
