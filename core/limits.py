"""Size bounds on everything an operator or API client sends, checked in one place.

Every edge (gRPC handlers, ``apply``, the web console, the store) validates names, texts,
lists and page requests with these functions, so one large value can never make a stored
record, a list answer or an error message unusable. Each failure is an
:class:`~cirahub.core.errors.InvalidInput` naming the field; the offending value is shown
shortened (:func:`shown`), never whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from cirahub.core.errors import InvalidInput

#: hub and spoke names (and a spoke kind): letters, digits, ``.``, ``_``, ``-``
MAX_NAME = 64
NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
#: a URL in a spoke's config (server, feed, login host, Graph endpoint)
MAX_URL = 2048
#: a file or folder path in a spoke's config (vdir folder, certificate, CA file)
MAX_PATH = 4096
#: any other text value of a spoke's config (user, mailbox, folder path, tenant...)
MAX_TEXT = 1024
#: a secret (password, client secret, refresh token)
MAX_SECRET = 16384
#: entries of a list option (categories include / exclude) and of a config list
MAX_LIST = 200
#: one category name
MAX_CATEGORY = 255
#: entries of one page of a list call; also the default page size is DEFAULT_PAGE
MAX_PAGE = 500
DEFAULT_PAGE = 100
#: most entries a ``limit`` (runs, conflicts) may ask for over all pages
MAX_LIMIT = 10000
#: open server streams (SyncNow, WatchEvents) at once by default (``--max-streams``)
MAX_STREAMS = 200
#: characters of a rejected value repeated in an error message
SHOWN = 40

#: config keys holding URLs and paths get those bounds; the rest MAX_TEXT
_URL_KEYS = ("url", "server", "authority", "graph_url", "autodiscover_url")
_PATH_KEYS = ("path", "certificate", "authority_ca_file", "ca_file")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def shown(value: object) -> str:
    """``value``'s repr, cut to :data:`SHOWN` characters with the length said: safe to put
    in an error message whatever its size."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= SHOWN:
        return repr(text)
    return f"{text[:SHOWN]!r}... ({len(text)} characters)"


def check_name(value: object, *, field: str) -> str:
    """A hub or spoke name: 1-64 letters, digits, ``.``, ``_``, ``-``, not ``..`` (names end
    up in folder names and URLs). InvalidInput naming ``field`` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"a {field} name is required", field=field)
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{field} is too long: {len(value)} characters, at most {MAX_NAME}",
                           field=field, length=len(value), limit=MAX_NAME)
    if not NAME_RE.match(value) or ".." in value:
        raise InvalidInput(
            f"{field} must be 1-{MAX_NAME} characters of letters, digits, '.', '_' or '-', "
            f"without '..' (got {shown(value)})", field=field)
    return value


def check_text(value: object, *, field: str, limit: int = MAX_TEXT,
               control: bool = False) -> str:
    """A text of at most ``limit`` characters; without ``control`` no control characters
    (line breaks included). InvalidInput naming ``field`` otherwise."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text (got {type(value).__name__})", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} is too long: {len(value)} characters, at most {limit}",
                           field=field, length=len(value), limit=limit)
    if not control and _CONTROL.search(value):
        raise InvalidInput(f"{field} must not contain control characters (got {shown(value)})",
                           field=field)
    return value


def check_list(values: Iterable[object], *, field: str, limit: int = MAX_LIST,
               item_limit: int = MAX_TEXT) -> list[str]:
    """At most ``limit`` texts of at most ``item_limit`` characters each."""
    out: list[str] = []
    for value in values:
        if len(out) == limit:
            raise InvalidInput(f"{field} has too many entries: at most {limit}",
                               field=field, limit=limit)
        out.append(check_text(value, field=field, limit=item_limit))
    return out


def config_limit(key: str) -> int:
    """The longest value a spoke config key may hold."""
    if key in _URL_KEYS or key.endswith("_url"):
        return MAX_URL
    if key in _PATH_KEYS or key.endswith(("_file", "_path")):
        return MAX_PATH
    return MAX_TEXT


def check_config(config: Mapping[str, Any]) -> None:
    """Bounds every value of a spoke's config (before the kind's own validation): texts by
    :func:`config_limit`, lists by :data:`MAX_LIST`, keys by :data:`MAX_NAME`."""
    if len(config) > MAX_LIST:
        raise InvalidInput(f"config has too many keys: at most {MAX_LIST}", field="config")
    for key, value in config.items():
        check_text(key, field="config key", limit=MAX_NAME)
        where = f"config.{key}"
        if isinstance(value, str):
            check_text(value, field=where, limit=config_limit(key))
        elif isinstance(value, list | tuple):
            check_list(value, field=where)
        elif isinstance(value, Mapping):
            raise InvalidInput(f"{where} must be a plain value, not a mapping", field=where)


def check_secret(secret: str | None) -> str | None:
    """A secret of at most :data:`MAX_SECRET` characters (its value is never shown)."""
    if secret is not None and len(secret) > MAX_SECRET:
        raise InvalidInput(f"the secret is too long: {len(secret)} characters, at most "
                           f"{MAX_SECRET}", field="secret", limit=MAX_SECRET)
    return secret


def page_size(value: int, *, field: str = "page_size") -> int:
    """0 → :data:`DEFAULT_PAGE`; else 1..:data:`MAX_PAGE`."""
    if value == 0:
        return DEFAULT_PAGE
    if not 1 <= value <= MAX_PAGE:
        raise InvalidInput(f"{field} must be between 1 and {MAX_PAGE} (got {value})",
                           field=field, limit=MAX_PAGE)
    return value


def page_offset(token: str) -> int:
    """The offset a page token stands for ("" = the first page)."""
    if not token:
        return 0
    if len(token) > 12 or not token.isdigit():
        raise InvalidInput("page_token is not one this server gave out", field="page_token")
    return int(token)


def limit(value: int, default: int, *, field: str = "limit") -> int:
    """0 → ``default``; else 1..:data:`MAX_LIMIT`."""
    if value == 0:
        return default
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidInput(f"{field} must be between 1 and {MAX_LIMIT} (got {value})",
                           field=field, limit=MAX_LIMIT)
    return value
