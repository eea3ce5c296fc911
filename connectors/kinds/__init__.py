"""One registration per spoke kind.

Everything the rest of the program needs to know about a spoke kind is one :class:`SpokeKind`
value in one small module of this package (``connectors/kinds/<kind>.py``, module-level
``KIND``): the connector factory, the config schema (API / CLI / YAML field names, which are
required, which stored key each maps to), the secret it needs, its validator, its discovery
hook, its projection (what it cannot carry), and the protobuf ``SpokeConfig`` oneof field.
The registry, the control plane's converters, the handlers and ``cirahubctl`` all read these
values; nothing else lists kinds. Adding a kind is its connector module, its ``KIND`` module,
its ``SpokeConfig`` message in ``control.proto``, and their tests.

These modules are light on purpose (no connector imports): ``cirahubctl --help`` builds its
flags from them. Factories, validators and discovery hooks are named as ``"module:function"``
and imported only when a spoke of that kind is validated or opened.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cirahub.core.errors import InvalidInput

if TYPE_CHECKING:
    from cirahub.connectors.base import SpokeConnector


class FieldType(Enum):
    """How a config field is given on the command line."""

    TEXT = "text"
    #: a local folder: made absolute on the client (the server resolves paths elsewhere)
    PATH = "path"
    #: an on/off switch (``--flag``)
    SWITCH = "switch"


@dataclass(frozen=True)
class ConfigField:
    """One field of a kind's config, as the API (protobuf field), the YAML topology file and
    ``cirahubctl`` (``--name-with-dashes``) call it.

    ``key`` is the stored connector config key when it differs from ``name``; ``inverted``
    (switches only) stores the negation (``skip_tls_verify`` → ``verify_tls``). ``cli=False``
    keeps a field out of ``spoke add`` (it stays settable through the API and YAML).
    """

    name: str
    help: str
    key: str | None = None
    required: bool = False
    type: FieldType = FieldType.TEXT
    inverted: bool = False
    cli: bool = True
    metavar: str | None = None

    @property
    def stored_key(self) -> str:
        return self.key or self.name

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class SecretSpec:
    """The one secret a spoke of this kind may hold (write-only, encrypted at rest).

    Needed when ``always`` (unless one of ``unless`` is set in the config), or when one of
    the config keys in ``when`` is set. ``what`` names it in messages and prompts."""

    what: str = "password"
    always: bool = False
    when: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    #: (key, value) pairs: not needed when a config key has that value
    unless_values: tuple[tuple[str, str], ...] = ()
    #: (key, value, name): the secret is called ``name`` when a config key has that value
    what_by: tuple[tuple[str, str, str], ...] = ()

    def needed(self, config: Mapping[str, Any]) -> bool:
        """Whether a spoke with this (normalized, stored-key) config needs the secret."""
        if any(str(config.get(k) or "") == v for k, v in self.unless_values):
            return False
        if self.always:
            return not any(config.get(k) for k in self.unless)
        return any(config.get(k) for k in self.when)

    def name_for(self, config: Mapping[str, Any]) -> str:
        """What the secret is called for this config (in prompts and messages)."""
        return next((n for k, v, n in self.what_by if str(config.get(k) or "") == v), self.what)


@dataclass(frozen=True)
class Projection:
    """What a kind cannot carry, declared: these fields are never written there and never
    taken from there (``Capabilities.unsupported_fields`` of its connectors include them).
    ``note`` says in words what the hub does instead (shown in docs and ``spoke show``)."""

    unsupported_fields: frozenset[str] = frozenset()
    note: str = ""


@dataclass(frozen=True)
class DiscoveredCalendar:
    """One calendar (or folder that may hold calendars) a discovery hook found: ``path`` is
    what the kind's config takes to pick it (``key`` names that config key); ``item_count`` is
    None where counting is not cheap; ``is_calendar`` False marks a folder that only holds
    others (public folders), ``child_count`` how many it holds (list them with
    ``DiscoveryQuery.under``); ``owner`` is whose calendar it is when not the signed-in
    user's (shared calendars)."""

    path: str
    display_name: str
    item_count: int | None = None
    writable: bool = True
    is_calendar: bool = True
    child_count: int = 0
    owner: str | None = None
    key: str = "calendar"


#: discovery pages hold at most this many entries
MAX_DISCOVERY_PAGE = 500


@dataclass(frozen=True)
class DiscoveryQuery:
    """Which part of what the credentials reach to list: ``under`` a folder path (tree-shaped
    kinds list one level at a time; empty = the top), from ``offset``, at most ``page_size``
    entries (1..MAX_DISCOVERY_PAGE); ``mailboxes`` are other users whose shared calendars to
    look for (mailbox kinds)."""

    under: str = ""
    page_size: int = 100
    offset: int = 0
    mailboxes: tuple[str, ...] = ()


@dataclass(frozen=True)
class DiscoveryPage:
    """One page of discovery; ``next_offset`` None = nothing more at this level."""

    calendars: tuple[DiscoveredCalendar, ...]
    next_offset: int | None = None


Factory = Callable[[Mapping[str, Any], str | None], "SpokeConnector"]
Validator = Callable[[Mapping[str, Any]], dict[str, Any]]
#: ``hook(config, secret, query)``: ``config`` is validated for connecting only (the kind's
#: folder/calendar key may be missing); nothing is stored or written
Discoverer = Callable[[Mapping[str, Any], str | None, DiscoveryQuery], DiscoveryPage]


@dataclass(frozen=True)
class SpokeKind:
    """A spoke kind's registration. ``factory``, ``validate`` and ``discover`` are
    ``"module:function"`` references, imported on first use."""

    name: str
    summary: str
    pb_field: str
    fields: tuple[ConfigField, ...]
    factory: str
    validate: str
    secret: SecretSpec | None = None
    discover: str | None = None
    projection: Projection = field(default_factory=Projection)
    #: a feed the hub never writes to (its connectors' ``Capabilities.read_only``)
    read_only: bool = False
    #: whether its spokes hold tasks and journal entries as well as events (its connectors'
    #: ``Capabilities.carries_components``); where not, the hub never pushes them there
    carries_components: bool = False
    #: whether its connectors retry a busy or unreachable server for up to the config's
    #: ``max_retry_seconds`` (a connection check caps that, see
    #: :data:`cirahub.control.connection.CHECK_RETRY_SECONDS`)
    retry_bounded: bool = False
    #: how many writes a push hands its connectors at once and links in one commit — also
    #: what a crash can lose at most (links only: the next pull matches those copies by UID
    #: or hub-id stamp instead of duplicating them); None: the push's default
    #: (:data:`cirahub.actors.pushing.WRITE_CHUNK`). A kind whose batch has a fixed cost
    #: (a durable barrier, a commit) declares more
    write_chunk: int | None = None

    def field_named(self, name: str) -> ConfigField | None:
        return next((f for f in self.fields if f.name == name), None)

    def needs_secret(self, config: Mapping[str, Any]) -> bool:
        return self.secret is not None and self.secret.needed(config)

    def load_factory(self) -> Factory:
        fn: Factory = _resolve(self.factory)
        return fn

    def load_validator(self) -> Validator:
        fn: Validator = _resolve(self.validate)
        return fn

    def load_discoverer(self) -> Discoverer | None:
        if self.discover is None:
            return None
        fn: Discoverer = _resolve(self.discover)
        return fn


#: stored keys that hold a URL or a bare host even without a scheme (``--server host``)
_HOST_KEYS = frozenset({"service_endpoint", "server", "url", "authority", "autodiscover_url",
                        "graph_url"})


def _userinfo(value: str, host_key: bool) -> bool:
    text = value.strip()
    if "://" not in text:
        if not host_key:
            return False
        text = "//" + text
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.username is not None or parts.password is not None


def refuse_userinfo(kind: SpokeKind, config: Mapping[str, Any]) -> None:
    """InvalidInput naming the field when any URL field of ``config`` (stored keys or API
    names) embeds credentials (``user:pw@host``): they would be stored and shown in clear,
    and they belong in the spoke's secret. Every kind's validation starts with this."""
    if not isinstance(config, Mapping):
        return
    names = {f.stored_key: f.name for f in kind.fields}
    for key, value in config.items():
        if isinstance(value, str) and _userinfo(value, key in _HOST_KEYS):
            name = names.get(key, key)
            raise InvalidInput(
                f"{name!r} must not contain credentials (user:password@); give the password "
                "as the spoke's secret", key=key, field=name, kind=kind.name)


def _resolve(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


@cache
def all_kinds() -> dict[str, SpokeKind]:
    """Every registered kind by name: the ``KIND`` of each module in this package."""
    out: dict[str, SpokeKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        kind = getattr(importlib.import_module(f"{__name__}.{info.name}"), "KIND", None)
        if isinstance(kind, SpokeKind):
            if kind.name in out:  # pragma: no cover - two modules claiming one kind
                raise RuntimeError(f"spoke kind {kind.name!r} is registered twice")
            out[kind.name] = kind
    return out


def kind_names() -> list[str]:
    return sorted(all_kinds())


def get_kind(name: str, *, field_name: str = "kind") -> SpokeKind:
    """The registration of ``name``, or InvalidInput listing the known kinds."""
    kind = all_kinds().get(name)
    if kind is None:
        raise InvalidInput(
            f"unknown spoke kind {name!r}; known kinds: {', '.join(kind_names())}",
            field=field_name, kind=name,
        )
    return kind


def by_pb_field(pb_field: str) -> SpokeKind:
    """The kind whose ``SpokeConfig`` oneof field is ``pb_field`` (KeyError if none)."""
    for kind in all_kinds().values():
        if kind.pb_field == pb_field:
            return kind
    raise KeyError(pb_field)
