"""Public-folder routing for Exchange Online: ``X-AnchorMailbox`` and ``X-PublicFolderMailbox``
on every public-folder request, without forking exchangelib.

Exchange Online serves public folders from public-folder mailboxes and routes a request by
these headers (Microsoft's "Route public folder hierarchy / content requests"):

- hierarchy requests (finding the folder): ``X-AnchorMailbox`` = the user's
  ``PublicFolderInformation``, ``X-PublicFolderMailbox`` = its ``InternalRpcClientServer``,
  both from Autodiscover ``GetUserSettings``;
- content requests (items): both = the ``AutoDiscoverSMTPAddress`` of ``<GUID>@<domain>``,
  where the GUID is the folder's ``PR_REPLICA_LIST`` (0x6698) and the domain the user's.

exchangelib sends ``X-AnchorMailbox`` = the account's address and never the second header
(exchangelib#636). :func:`install` puts a requests adapter on exchangelib's documented hook
(``BaseProtocol.HTTP_ADAPTER_CLS``) that sets both headers on requests made inside
:func:`routed` — so only the connector that routes, and only while it does, is affected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import requests.adapters
from exchangelib import ExtendedProperty
from exchangelib.folders import Folder
from exchangelib.items import ID_ONLY
from exchangelib.properties import FieldPath
from exchangelib.protocol import BaseProtocol
from exchangelib.services import GetFolder

from cirahub.core.errors import ConfigError

AUTODISCOVER = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
#: Exchange Online's Autodiscover SOAP endpoint (Microsoft's docs use it for these settings)
EXO_AUTODISCOVER = "https://autodiscover-s.outlook.com/autodiscover/autodiscover.svc"
#: largest Autodiscover answer read (a GetUserSettings answer is a few kB)
_ANSWER_MAX = 1_000_000
_ROUTE: ContextVar[Mapping[str, str] | None] = ContextVar("cirahub_ews_route", default=None)


class _ReplicaList(ExtendedProperty):
    """PR_REPLICA_LIST: the GUID (as ASCII) of the public-folder mailbox holding the content."""

    property_tag = 0x6698
    property_type = "Binary"


def _send_routed(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
    route = _ROUTE.get()
    if route:
        request.headers.update(route)
    return self._unrouted_send(request, *args, **kwargs)


def install() -> None:
    """Route through exchangelib's HTTP adapter hook (idempotent; keeps an adapter class
    someone else installed as the base)."""
    current = BaseProtocol.HTTP_ADAPTER_CLS
    if getattr(current, "_cirahub_routing", False):
        return
    base: type[requests.adapters.HTTPAdapter] = current
    BaseProtocol.HTTP_ADAPTER_CLS = type("RoutingAdapter", (base,), {
        "_cirahub_routing": True, "_unrouted_send": base.send, "send": _send_routed})
    if "pf_replica_list" not in {f.name for f in Folder.FIELDS}:
        Folder.register("pf_replica_list", _ReplicaList)


@contextmanager
def routed(headers: Mapping[str, str] | None) -> Iterator[None]:
    """Requests made inside carry ``headers`` (None: exchangelib's own headers only)."""
    token = _ROUTE.set(headers)
    try:
        yield
    finally:
        _ROUTE.reset(token)


@dataclass(frozen=True)
class Route:
    """The headers of one public folder's hierarchy and content requests."""

    hierarchy: Mapping[str, str]
    content: Mapping[str, str]


def autodiscover_url(service_endpoint: str | None, configured: str | None) -> str:
    """The Autodiscover SOAP URL: configured, Exchange Online's for its endpoint, else the
    endpoint host's ``/autodiscover/autodiscover.svc``."""
    if configured:
        return configured
    parsed = urlparse(service_endpoint or "")
    if parsed.hostname and parsed.hostname.lower().endswith("outlook.office365.com"):
        return EXO_AUTODISCOVER
    return f"{parsed.scheme}://{parsed.netloc}/autodiscover/autodiscover.svc"


def _settings_request(mailbox: str, names: tuple[str, ...]) -> bytes:
    settings = "".join(f"<a:Setting>{n}</a:Setting>" for n in names)
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:a="{AUTODISCOVER}" xmlns:wsa="http://www.w3.org/2005/08/addressing" '
        'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>'
        "<a:RequestedServerVersion>Exchange2013</a:RequestedServerVersion>"
        f"<wsa:Action>{AUTODISCOVER}/Autodiscover/GetUserSettings</wsa:Action></soap:Header>"
        '<soap:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User>'
        f"<a:Mailbox>{escape(mailbox)}</a:Mailbox></a:User></a:Users>"
        f"<a:RequestedSettings>{settings}</a:RequestedSettings></a:Request>"
        "</a:GetUserSettingsRequestMessage></soap:Body></soap:Envelope>"
    ).encode()


def user_settings(protocol: Any, url: str, mailbox: str, *names: str) -> dict[str, str]:
    """Autodiscover ``GetUserSettings`` for ``mailbox``, with the account's own session
    (same credentials); ConfigError naming what is missing."""
    session = protocol.get_session()
    try:
        answer = session.post(url, data=_settings_request(mailbox, names), timeout=protocol.TIMEOUT, stream=True,
                              headers={"Content-Type": "text/xml; charset=utf-8"}, allow_redirects=False)
        status = answer.status_code
        body = answer.raw.read(_ANSWER_MAX + 1, decode_content=True) if status == 200 else b""
        answer.close()
    finally:
        protocol.release_session(session)
    if status != 200:
        raise ConfigError(f"Autodiscover at {url} answered HTTP {status} for the public-folder "
                          "routing settings", url=url, status=status)
    if len(body) > _ANSWER_MAX or b"<!DOCTYPE" in body:  # bounded; no entity declarations
        raise ConfigError(f"Autodiscover at {url} answered an oversized or DOCTYPE-carrying document", url=url)
    try:
        doc = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise ConfigError(f"Autodiscover at {url} did not answer XML", url=url) from exc
    found = {}
    for setting in doc.iter(f"{{{AUTODISCOVER}}}UserSetting"):
        name, value = setting.findtext(f"{{{AUTODISCOVER}}}Name"), setting.findtext(f"{{{AUTODISCOVER}}}Value")
        if name and value:
            found[name] = value.strip()
    missing = [n for n in names if n not in found]
    if missing:
        raise ConfigError(f"Autodiscover gave no {', '.join(missing)} for {mailbox}: public folders "
                          "cannot be routed", mailbox=mailbox, missing=",".join(missing))
    return found


def hierarchy_headers(protocol: Any, url: str, mailbox: str) -> dict[str, str]:
    got = user_settings(protocol, url, mailbox, "PublicFolderInformation", "InternalRpcClientServer")
    return {"X-AnchorMailbox": got["PublicFolderInformation"],
            "X-PublicFolderMailbox": got["InternalRpcClientServer"]}


def content_headers(account: Any, folder: Any, url: str, domain: str) -> dict[str, str]:
    """The content route of ``folder`` (call with the hierarchy route in place)."""
    field = FieldPath(field=Folder.get_field_by_fieldname("pf_replica_list"))
    [got] = list(GetFolder(account=account).call(folders=[folder], additional_fields=[field], shape=ID_ONLY))
    raw = getattr(got, "pf_replica_list", None) if not isinstance(got, Exception) else None
    if not raw:
        raise ConfigError("the public folder has no PR_REPLICA_LIST: its content mailbox is unknown")
    guid = bytes(raw)[:36].decode("ascii", "replace")
    address = user_settings(account.protocol, url, f"{guid}@{domain}", "AutoDiscoverSMTPAddress")
    target = address["AutoDiscoverSMTPAddress"]
    return {"X-AnchorMailbox": target, "X-PublicFolderMailbox": target}
