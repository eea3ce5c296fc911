"""Change detection for a CalDAV collection: what changed, what is gone, what to fetch.

Two ways, same result type:

- :func:`sync_delta` — RFC 6578 sync-collection. With a token: the server lists changed hrefs
  (with ETags) and removed hrefs (404 entries, server-reported deletions). Without a token,
  or when the server rejects the token (403/409 ``valid-sync-token``): the initial sync, a
  complete listing diffed against ``known``. A truncated answer (507 on the collection) is
  followed up with the new token until complete.
- :func:`listing_delta` — PROPFIND Depth 1 ETag listing diffed against ``known``.

Neither ever reports a deletion from a failed or truncated listing: failures raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cirahub.connectors.caldav import dav
from cirahub.connectors.caldav.discovery import propfind
from cirahub.connectors.caldav.http import HttpClient
from cirahub.core.errors import AuthError, ConfigError, ProtocolError

#: follow-up rounds of a truncated sync-collection answer before giving up
MAX_SYNC_ROUNDS = 1000
#: statuses meaning "this server does not do sync-collection here"
_UNSUPPORTED = frozenset({400, 403, 405, 415, 422, 501})


class SyncUnsupported(Exception):
    """The server does not offer sync-collection on this collection (internal signal)."""


@dataclass(frozen=True)
class ListingResult:
    """Outcome of change detection, before fetching.

    ``to_fetch`` maps hrefs whose content must be fetched to the ETag the listing gave (None:
    none given). ``complete`` is True when the listing covered the whole collection; then
    ``listing_size`` is its item count and ``deleted`` is ``known`` minus the listing.
    """

    to_fetch: Mapping[str, str | None]
    deleted: tuple[str, ...]
    token: str | None
    complete: bool
    listing_size: int | None
    #: every href the answer reported as present (changed or not)
    present: frozenset[str] = frozenset()


def _is_item(href: str, collection_path: str) -> bool:
    return href != collection_path and not href.endswith("/") and href.startswith(collection_path)


def _diff(listed: Mapping[str, str | None], known: Mapping[str, str]) -> dict[str, str | None]:
    return {h: e for h, e in listed.items() if e is None or known.get(h) != e}


class TokenRejected(Exception):
    """The server no longer knows the sync token (internal signal: start over)."""


def _sync_round(http: HttpClient, url: str, token: str | None) -> dav.MultiStatus:
    """One sync-collection REPORT and its parsed 207 answer (with a sync-token). Raises
    TokenRejected for an expired/unknown token, SyncUnsupported, or the project's errors."""
    response = http.request(
        "REPORT",
        url,
        headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        data=dav.sync_collection_body(token),
        what="sync-collection",
    )
    status = response.status_code
    # RFC 6578 names 403; servers also answer 409 (others) and 412 (Xandikos)
    if status in (403, 409, 412) and "valid-sync-token" in dav.error_conditions(
        response.content
    ):
        if token is None:
            raise ProtocolError("the server rejected an initial sync-collection", url=url)
        raise TokenRejected
    if status in (404, 410):
        raise ConfigError("the calendar collection is gone", url=url, status=status)
    if status in _UNSUPPORTED:
        if status == 403 and token is not None:
            raise AuthError("sync-collection was refused", url=url, status=403)
        raise SyncUnsupported(status)
    if status != 207:
        raise ProtocolError("sync-collection failed", url=url, status=status)
    multistatus = dav.parse_multistatus(response.content, "sync-collection")
    if not multistatus.sync_token:
        raise ProtocolError("sync-collection answer without a sync-token", url=url)
    return multistatus


def _fold(multistatus: dav.MultiStatus, collection_path: str, changed: dict[str, str | None],
          removed: set[str]) -> bool:
    """Add one answer's entries to ``changed`` / ``removed`` (the later entry of an href
    wins). Returns whether the answer was truncated (507 on the collection)."""
    truncated = False
    for r in multistatus.responses:
        if not _is_item(r.href, collection_path):
            truncated = truncated or r.status == 507
            continue
        if r.status in (404, 410):
            removed.add(r.href)
            changed.pop(r.href, None)
        elif r.status is None or r.status < 300:
            changed[r.href] = r.text(dav.GETETAG)
            removed.discard(r.href)
    return truncated


def changes_since(http: HttpClient, url: str, collection_path: str, token: str | None,
                  ) -> tuple[dict[str, str | None], set[str], str]:
    """What sync-collection reports since ``token`` (None: everything held): changed hrefs
    with their ETags (None: none given), removed hrefs, and the new token; a truncated
    answer is followed up until complete. Raises TokenRejected (the server no longer knows
    ``token``), SyncUnsupported, or the project's errors."""
    changed: dict[str, str | None] = {}
    removed: set[str] = set()
    for _ in range(MAX_SYNC_ROUNDS):
        multistatus = _sync_round(http, url, token)
        truncated = _fold(multistatus, collection_path, changed, removed)
        token = multistatus.sync_token
        if not truncated:
            assert token is not None  # _sync_round refuses an answer without one
            return changed, removed, token
    raise ProtocolError("sync-collection did not finish", url=url, rounds=MAX_SYNC_ROUNDS)


def sync_delta(
    http: HttpClient,
    url: str,
    collection_path: str,
    token: str | None,
    known: Mapping[str, str],
) -> ListingResult:
    """Changes by sync-collection. Raises SyncUnsupported when the server lacks it."""
    try:
        changed, removed, new_token = changes_since(http, url, collection_path, token)
    except TokenRejected:
        # the token expired or is unknown: start over with a complete listing
        token = None
        changed, removed, new_token = changes_since(http, url, collection_path, None)
    if token is None:
        return ListingResult(
            to_fetch=_diff(changed, known),
            deleted=tuple(sorted(h for h in known if h not in changed)),
            token=new_token,
            complete=True,
            listing_size=len(changed),
            present=frozenset(changed),
        )
    return ListingResult(
        to_fetch=_diff(changed, known),
        deleted=tuple(sorted(h for h in removed if h in known)),
        token=new_token,
        complete=False,
        listing_size=None,
        present=frozenset(changed),
    )


def listing_delta(
    http: HttpClient, url: str, collection_path: str, known: Mapping[str, str]
) -> ListingResult:
    """Changes by a Depth-1 ETag listing; deletions only when the listing is complete."""
    multistatus = propfind(http, url, (dav.GETETAG, dav.RESOURCETYPE), "1")
    listed: dict[str, str | None] = {}
    truncated = False
    for r in multistatus.responses:
        if not _is_item(r.href, collection_path):
            truncated = truncated or r.status == 507
            continue
        if r.status is None or r.status < 300:
            listed[r.href] = r.text(dav.GETETAG)
    if truncated:
        return ListingResult(_diff(listed, known), (), None, False, None)
    return ListingResult(
        to_fetch=_diff(listed, known),
        deleted=tuple(sorted(h for h in known if h not in listed)),
        token=None,
        complete=True,
        listing_size=len(listed),
    )
