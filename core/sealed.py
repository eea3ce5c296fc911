"""Secret parts of a spoke's config, kept with its secret ("sealed"), never in its config.

A kind's validator may put config values that are secrets (a feed URL's query, which is
often its access token) under the config key :data:`SEALED_KEY` as a mapping. The store
moves that mapping out of the stored config into the spoke's encrypted secret
(:func:`pack`); the registry puts it back for the connector (:func:`unpack`). So a record,
an API answer, a log line or a diff never holds it, and it is encrypted at rest.
Pure functions; the packed form is a string, like any other secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SEALED_KEY = "sealed"
_PREFIX = "cirahub-sealed:v1:"


def split(config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(config without the sealed values, the sealed values)``."""
    public = {k: v for k, v in config.items() if k != SEALED_KEY}
    raw = config.get(SEALED_KEY) or {}
    sealed = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
    return public, sealed


def pack(secret: str | None, sealed: Mapping[str, str]) -> str | None:
    """The secret to store: ``secret`` itself when nothing is sealed, else both in one."""
    if not sealed:
        return secret
    return _PREFIX + json.dumps({"secret": secret, "sealed": dict(sealed)}, sort_keys=True)


def unpack(stored: str | None) -> tuple[str | None, dict[str, str]]:
    """``(the spoke's own secret, its sealed config values)`` from a stored secret."""
    if not stored or not stored.startswith(_PREFIX):
        return stored, {}
    data = json.loads(stored[len(_PREFIX):])
    return data.get("secret"), {str(k): str(v) for k, v in (data.get("sealed") or {}).items()}


__all__ = ["SEALED_KEY", "pack", "split", "unpack"]
