"""WebDAV/CalDAV XML: request bodies we send and the multistatus answers we read.

Only ``xml.etree`` is used. Parsing is strict about structure (a multistatus must be one) and
lenient about everything else (unknown elements are ignored), so odd but valid servers work.
Anything that is not the XML we asked for raises :class:`ProtocolError`.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

import defusedxml
import defusedxml.ElementTree as SafeET

from cirahub.core.errors import ProtocolError

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CS = "http://calendarserver.org/ns/"


def tag(ns: str, name: str) -> str:
    """Clark notation ``{ns}name`` as ElementTree uses it."""
    return f"{{{ns}}}{name}"


GETETAG = tag(DAV, "getetag")
RESOURCETYPE = tag(DAV, "resourcetype")
DISPLAYNAME = tag(DAV, "displayname")
CURRENT_USER_PRINCIPAL = tag(DAV, "current-user-principal")
SUPPORTED_REPORT_SET = tag(DAV, "supported-report-set")
CURRENT_USER_PRIVILEGE_SET = tag(DAV, "current-user-privilege-set")
CALENDAR_HOME_SET = tag(CALDAV, "calendar-home-set")
CALENDAR_DATA = tag(CALDAV, "calendar-data")
CALENDAR = tag(CALDAV, "calendar")
COLLECTION = tag(DAV, "collection")

_PREFIXES = {DAV: "D", CALDAV: "C", CS: "CS"}


def _qname(clark: str) -> str:
    ns, _, local = clark[1:].partition("}")
    return f"{_PREFIXES[ns]}:{local}"


def _document(root: str, children: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<{root} xmlns:D="{DAV}" xmlns:C="{CALDAV}" xmlns:CS="{CS}">{children}</{root}>'
    ).encode()


def _prop(props: Iterable[str]) -> str:
    return "<D:prop>" + "".join(f"<{_qname(p)}/>" for p in props) + "</D:prop>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def propfind_body(props: Iterable[str]) -> bytes:
    """A PROPFIND asking for ``props`` (Clark names)."""
    return _document("D:propfind", _prop(props))


def sync_collection_body(token: str | None, props: Iterable[str] = (GETETAG,)) -> bytes:
    """RFC 6578 sync-collection REPORT; ``token`` None asks for the initial full sync."""
    token_xml = f"<D:sync-token>{_escape(token)}</D:sync-token>" if token else "<D:sync-token/>"
    return _document(
        "D:sync-collection", token_xml + "<D:sync-level>1</D:sync-level>" + _prop(props)
    )


def multiget_body(hrefs: Iterable[str], props: tuple[str, ...] = (GETETAG, CALENDAR_DATA)) -> bytes:
    """RFC 4791 calendar-multiget of ``props`` for ``hrefs`` (already percent-encoded paths)."""
    href_xml = "".join(f"<D:href>{_escape(h)}</D:href>" for h in hrefs)
    return _document("C:calendar-multiget", _prop(props) + href_xml)


def mkcalendar_body(display_name: str) -> bytes:
    """MKCALENDAR body setting the display name (tests use it to make collections)."""
    return _document(
        "C:mkcalendar",
        f"<D:set><D:prop><D:displayname>{_escape(display_name)}</D:displayname></D:prop></D:set>",
    )


@dataclass(frozen=True)
class DavResponse:
    """One ``<response>`` of a multistatus.

    ``href`` is the percent-decoded path; ``status`` the response-level status (e.g. 404 for a
    sync-collection deletion), None when the answer is per-property; ``props`` holds the
    properties that came back 2xx.
    """

    href: str
    status: int | None
    props: Mapping[str, ET.Element] = field(default_factory=dict)

    def text(self, name: str) -> str | None:
        element = self.props.get(name)
        if element is None:
            return None
        return (element.text or "").strip() or None

    def child_href(self, name: str) -> str | None:
        element = self.props.get(name)
        if element is None:
            return None
        inner = element.find(tag(DAV, "href"))
        if inner is None or not (inner.text or "").strip():
            return None
        return normalize_href(inner.text or "")

    def has_type(self, name: str) -> bool:
        element = self.props.get(RESOURCETYPE)
        return element is not None and element.find(name) is not None

    def privileges(self) -> frozenset[str] | None:
        """Local names of the DAV privileges the current user holds here (RFC 3744
        current-user-privilege-set: ``read``, ``write``, ``bind``, ``all``...), None when the
        server did not report them."""
        element = self.props.get(CURRENT_USER_PRIVILEGE_SET)
        if element is None:
            return None
        return frozenset(child.tag.rpartition("}")[2]
                         for privilege in element.iter(tag(DAV, "privilege"))
                         for child in privilege)

    def reports(self) -> frozenset[str] | None:
        element = self.props.get(SUPPORTED_REPORT_SET)
        if element is None:
            return None
        names: set[str] = set()
        for report in element.iter(tag(DAV, "report")):
            names.update(child.tag for child in report)
        return frozenset(names)


@dataclass(frozen=True)
class MultiStatus:
    """A parsed multistatus: its responses and, for sync-collection, the new token."""

    responses: tuple[DavResponse, ...]
    sync_token: str | None = None


def normalize_href(href: str) -> str:
    """The percent-decoded absolute path of ``href`` (servers may send full URLs)."""
    return unquote(urlsplit(href.strip()).path)


def status_code(text: str | None) -> int | None:
    """``HTTP/1.1 404 Not Found`` → 404."""
    if not text:
        return None
    parts = text.split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    raise ProtocolError("unreadable status line in multistatus", status_line=text[:80])


def parse_xml(content: bytes, what: str) -> ET.Element:
    """Parse a response body, or ProtocolError. Entity declarations and external references
    are refused (defusedxml), so a hostile server cannot expand entities or make us fetch
    anything, whatever expat version this Python has."""
    try:
        root: ET.Element = SafeET.fromstring(content)
    except ET.ParseError as exc:
        raise ProtocolError(f"{what}: the server sent malformed XML", error=str(exc)) from None
    except defusedxml.DefusedXmlException as exc:
        raise ProtocolError(f"{what}: the server sent XML with entity declarations or "
                            "external references (refused)", error=type(exc).__name__) from None
    return root


def parse_multistatus(content: bytes, what: str = "multistatus") -> MultiStatus:
    """Parse a 207 body. Raises ProtocolError when it is not a DAV multistatus.

    Read incrementally (``iterparse`` with defusedxml's protections: no entity declarations,
    no external references): each ``<response>`` is turned into a :class:`DavResponse` and
    dropped from the tree as soon as it ends, so a 50 MB answer never becomes a 50 MB tree
    beside the properties kept."""
    responses: list[DavResponse] = []
    token: str | None = None
    depth = 0
    root: ET.Element | None = None
    try:
        for event, element in SafeET.iterparse(io.BytesIO(content), events=("start", "end")):
            if event == "start":
                depth += 1
                if root is None:
                    root = element
                    if element.tag != tag(DAV, "multistatus"):
                        raise ProtocolError(f"{what}: expected a DAV multistatus",
                                            root=element.tag[:80])
                continue
            depth -= 1
            if depth != 1:
                continue
            if element.tag == tag(DAV, "response"):
                responses.append(_response(element, what))
            elif element.tag == tag(DAV, "sync-token"):
                token = (element.text or "").strip() or None
            root.remove(element)  # type: ignore[union-attr] # done with it: free the subtree
    except ET.ParseError as exc:
        raise ProtocolError(f"{what}: the server sent malformed XML", error=str(exc)) from None
    except defusedxml.DefusedXmlException as exc:
        raise ProtocolError(f"{what}: the server sent XML with entity declarations or "
                            "external references (refused)", error=type(exc).__name__) from None
    if root is None:
        raise ProtocolError(f"{what}: the server sent malformed XML", error="no element found")
    return MultiStatus(tuple(responses), token)


def _response(element: ET.Element, what: str) -> DavResponse:
    href_el = element.find(tag(DAV, "href"))
    if href_el is None or not (href_el.text or "").strip():
        raise ProtocolError(f"{what}: a response without href")
    props: dict[str, ET.Element] = {}
    for propstat in element.findall(tag(DAV, "propstat")):
        code = status_code(propstat.findtext(tag(DAV, "status")))
        prop = propstat.find(tag(DAV, "prop"))
        if code is not None and 200 <= code < 300 and prop is not None:
            for child in prop:
                props[child.tag] = child
    return DavResponse(href=normalize_href(href_el.text or ""),
                       status=status_code(element.findtext(tag(DAV, "status"))), props=props)


def error_conditions(content: bytes) -> frozenset[str]:
    """Local names of the precondition elements in a DAV ``<error>`` body (empty if none)."""
    try:
        root = SafeET.fromstring(content)
    except (ET.ParseError, defusedxml.DefusedXmlException):
        return frozenset()
    if root.tag != tag(DAV, "error"):
        return frozenset()
    return frozenset(child.tag.rpartition("}")[2] for child in root)


def writes_allowed(privileges: frozenset[str]) -> frozenset[str]:
    """Which of ``create``, ``update``, ``delete`` a privilege set allows in a collection.

    ``all`` and ``write`` allow all three; else ``bind`` allows create, ``unbind`` delete and
    ``write-content`` update. Servers that report only ``write-content`` for a writable
    collection (Radicale) mean all three: ``write-content`` without ``bind`` or ``unbind``
    is read as that."""
    if privileges & {"all", "write"}:
        return frozenset({"create", "update", "delete"})
    if "write-content" in privileges and not privileges & {"bind", "unbind"}:
        return frozenset({"create", "update", "delete"})
    out = {"create"} if "bind" in privileges else set()
    out |= {"delete"} if "unbind" in privileges else set()
    out |= {"update"} if "write-content" in privileges else set()
    return frozenset(out)
