"""Configuration of a ``caldav`` spoke: validation into a frozen value.

Validation never does I/O; it raises :class:`InvalidInput` naming the offending key, so the
control plane rejects a bad spoke before anything is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from cirahub.core.errors import InvalidInput


@dataclass(frozen=True)
class CalDAVConfig:
    """``url`` is a calendar collection, a principal or a calendar home; ``calendar`` (display
    name, href or last path segment) picks a calendar when ``url`` is not a collection."""

    url: str
    username: str | None = None
    verify_tls: bool = True
    calendar: str | None = None
    max_parallel: int = 4
    timeout: float = 30.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def check_http_url(
    value: Any, key: str = "url", *, schemes: tuple[str, ...] = ("http", "https")
) -> str:
    """``value`` stripped, if it is an absolute http(s) URL without embedded credentials."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{key!r} must be a non-empty URL string", key=key)
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise InvalidInput(
            f"{key!r} must be an absolute {'/'.join(schemes)} URL", key=key, scheme=parts.scheme
        )
    if parts.username or parts.password:
        # a password in a URL would be stored and shown in clear; it belongs in the secret
        raise InvalidInput(f"{key!r} must not contain credentials; use the spoke secret", key=key)
    return url


def optional_str(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{key!r} must be a non-empty string", key=key)
    return value.strip()


def reject_unknown(config: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise InvalidInput(
            f"unknown config key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}",
            key=unknown[0],
        )


_KEYS = frozenset({"url", "username", "verify_tls", "calendar", "max_parallel", "timeout"})


def parse_config(config: Mapping[str, Any]) -> CalDAVConfig:
    """A validated :class:`CalDAVConfig`, or InvalidInput naming the bad key."""
    if not isinstance(config, Mapping):
        raise InvalidInput("caldav config must be a mapping", key="config")
    reject_unknown(config, _KEYS)
    url = check_http_url(config.get("url"))
    verify = config.get("verify_tls", True)
    if not isinstance(verify, bool):
        raise InvalidInput("'verify_tls' must be true or false", key="verify_tls")
    parallel = config.get("max_parallel", 4)
    if isinstance(parallel, bool) or not isinstance(parallel, int) or not 1 <= parallel <= 32:
        raise InvalidInput("'max_parallel' must be an integer from 1 to 32", key="max_parallel")
    timeout = config.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise InvalidInput("'timeout' must be seconds between 0 and 600", key="timeout")
    return CalDAVConfig(
        url=url,
        username=optional_str(config, "username"),
        verify_tls=verify,
        calendar=optional_str(config, "calendar"),
        max_parallel=parallel,
        timeout=float(timeout),
    )


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """Registry validator: the normalized config dict."""
    return parse_config(config).to_dict()
