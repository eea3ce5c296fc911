"""Finding the calendar collection a ``caldav`` spoke syncs.

From a collection URL: one PROPFIND (Depth 0). From a principal or home URL:
current-user-principal → calendar-home-set → the home's calendars (Depth 1), picked by the
``calendar`` setting (display name, href or last path segment), or the only calendar there.
Raises ConfigError when no single calendar can be chosen, AuthError on 401/403.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from cirahub.connectors.caldav import dav
from cirahub.connectors.caldav.http import HttpClient
from cirahub.core.errors import AuthError, ConfigError, ProtocolError

_PROBE = (
    dav.RESOURCETYPE,
    dav.DISPLAYNAME,
    dav.CURRENT_USER_PRINCIPAL,
    dav.CALENDAR_HOME_SET,
    dav.SUPPORTED_REPORT_SET,
)
_LIST = (dav.RESOURCETYPE, dav.DISPLAYNAME, dav.SUPPORTED_REPORT_SET)
SYNC_COLLECTION = dav.tag(dav.DAV, "sync-collection")


@dataclass(frozen=True)
class Collection:
    """A calendar collection: decoded absolute ``path`` (ends with ``/``) and whether it
    offers sync-collection (None: the server did not say)."""

    path: str
    sync: bool | None = None
    display_name: str | None = None
    #: DAV privileges of the current user on it (see dav.DavResponse.privileges); None when
    #: not asked or not reported
    privileges: frozenset[str] | None = None


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def quote_path(path: str) -> str:
    """Percent-encode a decoded path for a URL or a DAV href."""
    return quote(path, safe="/@:!$&'()*+,;=~")


def url_for(base_url: str, path: str) -> str:
    """Absolute URL of a decoded path on ``base_url``'s server."""
    return origin(base_url) + quote_path(path)


def propfind(http: HttpClient, url: str, props: tuple[str, ...], depth: str) -> dav.MultiStatus:
    """PROPFIND ``props`` at ``url``; maps 403/404/non-207 to AuthError/ConfigError/
    ProtocolError."""
    response = http.request(
        "PROPFIND",
        url,
        headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"},
        data=dav.propfind_body(props),
        what="PROPFIND",
    )
    if response.status_code == 403:
        raise AuthError("access to the calendar was refused", url=url, status=403)
    if response.status_code in (404, 410):
        raise ConfigError("no such calendar or principal on the server", url=url, status=404)
    if response.status_code != 207:
        raise ProtocolError(
            "PROPFIND did not return a multistatus", url=url, status=response.status_code
        )
    return dav.parse_multistatus(response.content, "PROPFIND")


def read_privileges(http: HttpClient, url: str) -> frozenset[str] | None:
    """One PROPFIND (Depth 0) of a collection's ETag and the user's privileges there: proves
    URL and credentials, and says what the user may do (None: the server did not say)."""
    found = propfind(http, url, (dav.GETETAG, dav.CURRENT_USER_PRIVILEGE_SET), "0")
    return found.responses[0].privileges() if found.responses else None


def _sync_flag(response: dav.DavResponse) -> bool | None:
    reports = response.reports()
    return None if reports is None else SYNC_COLLECTION in reports


def _as_collection(response: dav.DavResponse) -> Collection:
    path = response.href if response.href.endswith("/") else response.href + "/"
    return Collection(path, _sync_flag(response), response.text(dav.DISPLAYNAME))


def _matches(response: dav.DavResponse, wanted: str) -> bool:
    wanted_path = dav.normalize_href(wanted) if "/" in wanted else None
    segment = response.href.rstrip("/").rpartition("/")[2]
    return (
        response.text(dav.DISPLAYNAME) == wanted
        or segment == wanted.strip("/")
        or (wanted_path is not None and wanted_path.rstrip("/") == response.href.rstrip("/"))
    )


def discover(http: HttpClient, url: str, calendar: str | None) -> Collection:
    """The collection to sync for a spoke configured with ``url`` and ``calendar``."""
    first = _single(propfind(http, url, _PROBE, "0"), url)
    if first.has_type(dav.CALENDAR):
        return _as_collection(first)
    return _pick(_home_calendars(http, url, first), calendar, url)


def list_calendars(http: HttpClient, url: str) -> list[Collection]:
    """Every calendar collection ``url`` leads to: itself when it is one, else the calendars
    of the principal's calendar home (for discovery; nothing is chosen)."""
    first = _single(propfind(http, url, _PROBE, "0"), url)
    if first.has_type(dav.CALENDAR):
        return [_as_collection(first)]
    return [_as_collection(r) for r in _home_calendars(http, url, first)]


def _home_calendars(http: HttpClient, url: str, first: dav.DavResponse) -> list[dav.DavResponse]:
    home = first.child_href(dav.CALENDAR_HOME_SET)
    if home is None:
        principal = first.child_href(dav.CURRENT_USER_PRINCIPAL)
        if principal is not None and principal.rstrip("/") != first.href.rstrip("/"):
            found = _single(
                propfind(http, url_for(url, principal), (dav.CALENDAR_HOME_SET,), "0"), principal
            )
            home = found.child_href(dav.CALENDAR_HOME_SET)
    if home is None:
        if not first.has_type(dav.COLLECTION):
            raise ConfigError("the URL is neither a calendar nor a principal", url=url)
        home = first.href
    listing = propfind(http, url_for(url, home), _LIST, "1")
    return [r for r in listing.responses if r.has_type(dav.CALENDAR)]


def _single(multistatus: dav.MultiStatus, url: str) -> dav.DavResponse:
    if not multistatus.responses:
        raise ProtocolError("PROPFIND returned no response", url=url)
    return multistatus.responses[0]


def _pick(calendars: list[dav.DavResponse], wanted: str | None, url: str) -> Collection:
    names = sorted(r.text(dav.DISPLAYNAME) or r.href for r in calendars)
    if wanted is not None:
        chosen = [r for r in calendars if _matches(r, wanted)]
        if len(chosen) == 1:
            return _as_collection(chosen[0])
        reason = "no calendar" if not chosen else "more than one calendar"
        raise ConfigError(
            f"{reason} matches 'calendar' = {wanted!r}", url=url, calendars=names, key="calendar"
        )
    if len(calendars) == 1:
        return _as_collection(calendars[0])
    raise ConfigError(
        "the URL holds several calendars (or none); set 'calendar' to pick one",
        url=url,
        calendars=names,
        key="calendar",
    )
