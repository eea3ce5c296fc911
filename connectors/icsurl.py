"""The ``ics-url`` spoke kind: a published iCalendar feed, read-only.

``delta`` GETs the feed with the validators of the last fetch (``If-None-Match`` /
``If-Modified-Since``, kept in the cursor):

- 304 → nothing changed: an empty, *incomplete* delta (no deletions);
- 200 → every event is listed: remote id = UID, remote version = the item's fingerprint (so
  only a real change counts, not a feed regenerated with new DTSTAMPs); the listing is
  complete, so UIDs no longer in the feed are deletions. An empty feed is a complete listing
  of size 0 — the planner's empty-listing safety halt then stops the spoke, never a mass
  delete. Events that cannot be normalized are reported with an error (quarantined) and are
  never read as deleted; a feed the reader refuses whole (one broken VTIMEZONE) is read UID
  by UID (:mod:`cirahub.connectors.ics_salvage`), quarantining only the events that use the
  broken part;
- an HTTP error, timeout or unparseable body raises TransientError/ProtocolError, so a
  failing feed never deletes anything.

Every write raises :class:`ReadOnlySpoke`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from cirahub.connectors.base import BaseConnector, Write, WriteOutcome, WriteResult
from cirahub.connectors.bounded import redact_url
from cirahub.connectors.caldav.config import check_http_url, optional_str, reject_unknown
from cirahub.connectors.caldav.http import HttpClient, RetryPolicy, header
from cirahub.connectors.ics_salvage import salvage
from cirahub.core.errors import (
    AuthError,
    InvalidInput,
    MalformedItem,
    ProtocolError,
    ReadOnlySpoke,
    RemoteNotFound,
    TransientError,
)
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_calendar
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, Delta, RemoteItem
from cirahub.core.sealed import SEALED_KEY, split

_KEYS = frozenset({"url", "username", "verify_tls", "timeout", SEALED_KEY})
#: a stored feed URL's query in the config: the real one is sealed (kept with the secret)
_SHOWN_QUERY = "…"


@dataclass(frozen=True)
class IcsUrlConfig:
    """``url``: the feed (http, https, or webcal which means https); ``username`` for basic
    auth (the password is the spoke secret)."""

    url: str
    username: str | None = None
    verify_tls: bool = True
    timeout: float = 30.0


def parse_config(config: Mapping[str, Any]) -> IcsUrlConfig:
    """A validated config, or InvalidInput naming the bad key."""
    if not isinstance(config, Mapping):
        raise InvalidInput("ics-url config must be a mapping", key="config")
    reject_unknown(config, _KEYS)
    raw = config.get("url")
    if isinstance(raw, str) and raw.strip().lower().startswith("webcal://"):
        raw = "https://" + raw.strip()[len("webcal://") :]
    url = _unsealed(check_http_url(raw), split(config)[1])
    verify = config.get("verify_tls", True)
    if not isinstance(verify, bool):
        raise InvalidInput("'verify_tls' must be true or false", key="verify_tls")
    timeout = config.get("timeout", 30.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 600:
        raise InvalidInput("'timeout' must be seconds between 0 and 600", key="timeout")
    return IcsUrlConfig(url, optional_str(config, "username"), verify, float(timeout))


def _unsealed(url: str, sealed: Mapping[str, str]) -> str:
    """The feed's real URL: a stored one shows its query as ``?…`` and has it sealed."""
    base, mark, query = url.partition("?")
    if mark and query == _SHOWN_QUERY:
        if "url_query" not in sealed:
            raise InvalidInput("'url' has no query to restore; give the feed's full URL", key="url")
        return f"{base}?{sealed['url_query']}"
    return url


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """The stored config: a query in the URL (often the feed's access token) is sealed —
    kept with the spoke's encrypted secret — and the URL shows it as ``?…``."""
    cfg = parse_config(config)
    base, mark, query = cfg.url.partition("?")
    url = f"{base}?{_SHOWN_QUERY}" if mark and query else cfg.url
    out: dict[str, Any] = {"url": url, "verify_tls": cfg.verify_tls, "timeout": cfg.timeout}
    if mark and query:
        out[SEALED_KEY] = {"url_query": query}
    if cfg.username is not None:
        out["username"] = cfg.username
    return out


def item_version(item: Item) -> str:
    """A feed item's remote version: its fingerprint (feeds have no per-item versions)."""
    return fingerprint(item)


class IcsUrlConnector(BaseConnector):
    """A read-only ICS feed as a spoke."""

    kind: ClassVar[str] = "ics-url"
    capabilities = Capabilities(unsupported_fields=frozenset(), read_only=True, incremental=False,
                                carries_source=True)

    def __init__(
        self, config: IcsUrlConfig, password: str | None, *, retry: RetryPolicy | None = None
    ) -> None:
        self.config = config
        self.http = HttpClient(
            username=config.username,
            password=password,
            verify_tls=config.verify_tls,
            timeout=config.timeout,
            max_parallel=1,
            retry=retry,
        )
        self._key = hashlib.sha1(config.url.encode()).hexdigest()[:16]
        #: the URL as errors, runs and events show it: a feed's query string is often its
        #: access token (``?token=…``), so it is never repeated
        self._shown = redact_url(config.url)

    # --- reading -------------------------------------------------------------------------

    def _validators(self, cursor: str | None) -> dict[str, str]:
        if not cursor:
            return {}
        try:
            state = json.loads(cursor)
        except ValueError:
            return {}
        if not isinstance(state, dict) or state.get("k") != self._key:
            return {}
        out = {}
        if isinstance(state.get("etag"), str):
            out["If-None-Match"] = state["etag"]
        if isinstance(state.get("last_modified"), str):
            out["If-Modified-Since"] = state["last_modified"]
        return out

    def _fetch(self, cursor: str | None) -> tuple[str | None, str | None]:
        """(body, new cursor); body None when the feed is unchanged (304)."""
        response = self.http.request(
            "GET",
            self.config.url,
            headers={"Accept": "text/calendar, */*;q=0.5", **self._validators(cursor)},
            what="feed GET",
        )
        status = response.status_code
        if status == 304:
            return None, cursor
        if status == 403:
            raise AuthError("the feed refused access", url=self._shown, status=403)
        if status in (404, 410):
            # a feed that vanished may come back; never read it as "everything deleted"
            raise TransientError("the feed is not there", url=self._shown, status=status)
        if status >= 400:
            raise TransientError("the feed failed", url=self._shown, status=status)
        if status != 200:
            raise ProtocolError(
                "unexpected answer from the feed", url=self._shown, status=status
            )
        state = {
            "k": self._key,
            "etag": header(response, "ETag"),
            "last_modified": header(response, "Last-Modified"),
        }
        return response.content.decode("utf-8", errors="replace"), json.dumps(state)

    def _parse(self, body: str) -> tuple[list[Item], list[MalformedItem]]:
        if not body.strip():
            return [], []
        errors: list[MalformedItem] = []
        # events without UID get one derived from the feed URL and their position
        identity = f"ics-url:{self.config.url}"
        try:
            items = parse_calendar(body, errors=errors, identity=identity)
        except MalformedItem as whole:
            # one broken component (a bad VTIMEZONE) must not hide the rest of the feed:
            # read each UID on its own, quarantining only what uses the broken part
            try:
                return salvage(body, identity)
            except MalformedItem:
                raise ProtocolError(
                    f"the feed is not iCalendar: {whole.message}", url=self._shown
                ) from None
        return items, errors

    def delta(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        """See the module docstring. Without ``known`` links a 304 would hide the content, so
        the feed is then fetched unconditionally."""
        body, new_cursor = self._fetch(cursor if known else None)
        if body is None:
            return Delta(cursor=new_cursor, complete=False)
        items, errors = self._parse(body)
        listed: dict[str, RemoteItem] = {}
        for item in items:
            listed[item.uid] = RemoteItem(item.uid, item_version(item), item)
        for error in errors:
            uid = error.fields.get("uid")
            rid = uid if isinstance(uid, str) and uid else "malformed:" + _digest(error.message)
            if rid not in listed:
                listed[rid] = RemoteItem(
                    rid, "malformed:" + _digest(error.message), None, error=error.message
                )
        changed = tuple(r for r in listed.values() if known.get(r.remote_id) != r.remote_version)
        return Delta(
            changed=changed,
            deleted=tuple(sorted(rid for rid in known if rid not in listed)),
            cursor=new_cursor,
            complete=True,
            listing_size=len(listed),
        )

    def get_many(self, remote_ids: Sequence[str]) -> list[RemoteItem]:
        """Items by UID from a fresh fetch of the feed; RemoteNotFound for a missing UID."""
        body, _ = self._fetch(None)
        assert body is not None
        items, _errors = self._parse(body)
        by_uid = {item.uid: item for item in items}
        out = []
        for rid in remote_ids:
            item = by_uid.get(rid)
            if item is None:
                raise RemoteNotFound("the feed has no item with this UID", remote_id=rid)
            out.append(RemoteItem(rid, item_version(item), item))
        return out

    # --- writing: never ------------------------------------------------------------------

    def _refuse(self) -> ReadOnlySpoke:
        return ReadOnlySpoke("an ics-url feed is read-only", url=self._shown)

    def create(self, item: Item, hub_item_id: str) -> WriteResult:
        raise self._refuse()

    def update(
        self, remote_id: str, expected_version: str, item: Item, hub_item_id: str
    ) -> WriteResult:
        raise self._refuse()

    def delete(self, remote_id: str, expected_version: str) -> None:
        raise self._refuse()

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        return [self._refuse() for _ in writes]

    def close(self) -> None:
        self.http.close()


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def open_icsurl(config: Mapping[str, Any], secret: str | None) -> IcsUrlConnector:
    """Registry factory (no I/O until the first call)."""
    return IcsUrlConnector(parse_config(config), secret)



__all__ = ["IcsUrlConfig", "IcsUrlConnector", "open_icsurl", "parse_config"]
