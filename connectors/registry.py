"""Spoke kinds → connector factories.

Each connector module registers its kind with :func:`register`; :func:`open_connector` builds
a connector from a spoke's stored (non-secret) config plus its secret. Config validation
happens in the factory and raises InvalidInput naming the bad key, so the control plane can
reject a bad spoke before anything is stored.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from cirahub.connectors.base import SpokeConnector
from cirahub.core.errors import InvalidInput

#: kind → module that registers it (imported lazily: exchangelib and friends are heavy)
KIND_MODULES: dict[str, str] = {
    "memory": "cirahub.connectors.memory",
    "vdir": "cirahub.connectors.vdir",
    "caldav": "cirahub.connectors.caldav",
    "ics-url": "cirahub.connectors.icsurl",
    "ews-public-folder": "cirahub.connectors.ews",
    "ews-mailbox": "cirahub.connectors.ews",
}

Factory = Callable[[Mapping[str, Any], str | None], SpokeConnector]
Validator = Callable[[Mapping[str, Any]], dict[str, Any]]

_FACTORIES: dict[str, Factory] = {}
_VALIDATORS: dict[str, Validator] = {}


def register(kind: str, factory: Factory, validate: Validator) -> None:
    """Make ``kind`` available. ``validate(config)`` returns the normalized config or raises
    InvalidInput; ``factory(config, secret)`` opens a connector (no I/O yet)."""
    _FACTORIES[kind] = factory
    _VALIDATORS[kind] = validate


def _load(kind: str) -> None:
    if kind in _FACTORIES:
        return
    module = KIND_MODULES.get(kind)
    if module is None:
        raise InvalidInput(
            f"unknown spoke kind {kind!r}; known kinds: {', '.join(sorted(KIND_MODULES))}",
            kind=kind,
        )
    importlib.import_module(module)
    if kind not in _FACTORIES:  # pragma: no cover - a module that forgot to register
        raise InvalidInput(f"spoke kind {kind!r} is not available", kind=kind)


def validate_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized config for ``kind``, or InvalidInput naming what is wrong."""
    _load(kind)
    return _VALIDATORS[kind](config)


def open_connector(kind: str, config: Mapping[str, Any], secret: str | None = None) -> SpokeConnector:
    """A connector for a spoke of ``kind``. Raises InvalidInput for an unknown kind or bad
    config."""
    _load(kind)
    return _FACTORIES[kind](_VALIDATORS[kind](config), secret)
