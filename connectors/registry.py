"""Spoke kinds → connectors, through their registrations (:mod:`cirahub.connectors.kinds`).

:func:`open_connector` builds a connector from a spoke's stored (non-secret) config plus its
secret. Config validation happens in the kind's validator and raises InvalidInput naming the
bad key, so the control plane can reject a bad spoke before anything is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cirahub.connectors.base import SpokeConnector
from cirahub.connectors.kinds import (
    MAX_DISCOVERY_PAGE,
    DiscoveryPage,
    DiscoveryQuery,
    SpokeKind,
    get_kind,
    refuse_userinfo,
)
from cirahub.core.errors import InvalidInput
from cirahub.core.sealed import SEALED_KEY, unpack


def _available(kind: SpokeKind) -> SpokeKind:
    """``kind`` whose implementation can be imported, else InvalidInput (an optional
    dependency missing from this installation)."""
    try:
        kind.load_validator()
    except ImportError:
        raise InvalidInput(f"spoke kind {kind.name!r} is not available in this installation",
                           field="kind", kind=kind.name) from None
    return kind


def validate_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Normalized config for ``kind``, or InvalidInput naming what is wrong (credentials
    inside any URL field included)."""
    spec = _available(get_kind(kind))
    refuse_userinfo(spec, config)
    return spec.load_validator()(config)


def open_connector(kind: str, config: Mapping[str, Any], secret: str | None = None) -> SpokeConnector:
    """A connector for a spoke of ``kind`` (``secret`` as the store keeps it: with the
    config's sealed values). Raises InvalidInput for an unknown kind or bad config."""
    spec = _available(get_kind(kind))
    refuse_userinfo(spec, config)
    own, sealed = unpack(secret)  # a stored secret carries the config's sealed values
    if sealed:
        config = {**config, SEALED_KEY: sealed}
    return spec.load_factory()(spec.load_validator()(config), own)


def discover(kind: str, config: Mapping[str, Any], secret: str | None = None,
             query: DiscoveryQuery | None = None) -> DiscoveryPage:
    """One page of the calendars the connection settings in ``config`` reach, storing
    nothing. InvalidInput when the kind has no discovery or the query is out of bounds."""
    spec = _available(get_kind(kind))
    refuse_userinfo(spec, config)
    hook = spec.load_discoverer()
    if hook is None:
        raise InvalidInput(f"spoke kind {kind!r} cannot discover calendars", field="kind",
                           kind=kind)
    query = query or DiscoveryQuery()
    if not 1 <= query.page_size <= MAX_DISCOVERY_PAGE:
        raise InvalidInput(f"page_size must be between 1 and {MAX_DISCOVERY_PAGE}", field="page_size")
    if query.offset < 0 or len(query.mailboxes) > MAX_DISCOVERY_PAGE:
        raise InvalidInput("offset must be >= 0 and at most "
                           f"{MAX_DISCOVERY_PAGE} mailboxes", field="page_token")
    return hook(config, secret, query)
