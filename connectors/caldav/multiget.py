"""RFC 4791 calendar-multiget: one REPORT on the collection for a batch of hrefs."""

from __future__ import annotations

from collections.abc import Sequence

import requests

from cirahub.connectors.caldav import dav
from cirahub.connectors.caldav.discovery import quote_path
from cirahub.connectors.caldav.http import HttpClient
from cirahub.core.errors import AuthError, ProtocolError


def expect_207(response: requests.Response, what: str) -> None:
    """AuthError for a 403, ProtocolError for any other answer than a multistatus."""
    if response.status_code == 207:
        return
    if response.status_code == 403:
        raise AuthError(f"{what} was refused", status=403)
    raise ProtocolError(f"{what} failed", status=response.status_code)


def multiget(http: HttpClient, url: str, hrefs: Sequence[str],
             props: tuple[str, ...] = (dav.GETETAG, dav.CALENDAR_DATA)) -> list[dav.DavResponse]:
    """The server's answers about ``hrefs`` (decoded paths) in the collection at ``url``,
    those it sent of other hrefs left out."""
    response = http.request(
        "REPORT", url,
        headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        data=dav.multiget_body((quote_path(h) for h in hrefs), props),
        what="calendar-multiget",
    )
    expect_207(response, "calendar-multiget")
    wanted = set(hrefs)
    return [r for r in dav.parse_multistatus(response.content, "calendar-multiget").responses
            if r.href in wanted]


def held_etags(http: HttpClient, url: str, hrefs: Sequence[str],
               batch: int) -> dict[str, str | None]:
    """The ETags of those of ``hrefs`` the server holds (None: held, no ETag given); the
    ones it answers 404/410 for are absent (one multiget per ``batch`` hrefs)."""
    held: dict[str, str | None] = {}
    for i in range(0, len(hrefs), batch):
        for r in multiget(http, url, hrefs[i : i + batch], (dav.GETETAG,)):
            if r.status not in (404, 410):
                held[r.href] = r.text(dav.GETETAG)
    return held
