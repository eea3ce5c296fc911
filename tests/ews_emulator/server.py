"""The emulator's HTTP side: a threaded loopback server speaking EWS SOAP, with basic auth,
a request log and fault knobs.

Every request is recorded (:class:`Request`) before faults apply, so tests can count what a
client really sent. :attr:`EwsEmulator.meeting_messages` lists the requests that would have
made Exchange send a meeting invitation, update or cancellation.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from lxml import etree

from tests.loopback_http import LoopbackHttp
from tests.oauth_emulator import InvalidToken

from .ntlm import NtlmConnection, credential_file
from .online import EXO, ExchangeOnline
from .ops import Context, dispatch
from .routing import Routing, autodiscover_answer
from .rules import Refusal
from .state import State
from .user import User
from .xmlio import SOAP, EwsError, SoapFault, envelope, fault, local, t

#: request attributes that decide whether Exchange mails attendees
MEETING_ATTRS = ("SendMeetingInvitations", "SendMeetingInvitationsOrCancellations", "SendMeetingCancellations")
KEY_ATTRS = (*MEETING_ATTRS, "ConflictResolution", "MessageDisposition", "DeleteType", "Traversal")


@dataclass(frozen=True)
class Request:
    """One recorded request: operation, key attributes, number of addressed ids, user."""

    op: str
    attrs: dict[str, str]
    user: str
    mailbox: str
    size: int = 0
    #: the X-PublicFolderMailbox header, when the request carried one
    public_folder_mailbox: str | None = None

    @property
    def sends_meeting_message(self) -> bool:
        if self.attrs.get("MessageDisposition") in ("SendOnly", "SendAndSaveCopy"):
            return True
        return any(self.attrs.get(a, "SendToNone") != "SendToNone" for a in MEETING_ATTRS)


@dataclass
class Fault:
    """A pending fault for the next ``count`` requests matching ``ops`` (None = any) after
    ``skip`` matching requests have passed untouched."""

    kind: str  # busy | drop | drop_after_apply | truncate | slow
    count: int
    ops: frozenset[str] | None = None
    skip: int = 0
    back_off_ms: int = 0
    delay: float = 0.0
    hits: int = field(default=0)


class EwsEmulator(LoopbackHttp):
    """An EWS endpoint on 127.0.0.1 with in-memory mailboxes and public folders.

    ``users`` maps user name (an SMTP address) → password; every user gets a mailbox.
    Use :meth:`start`/:meth:`stop` (or ``with``); :attr:`url` is the service endpoint.
    """

    def __init__(self, users: dict[str, str] | None = None, *, online: ExchangeOnline | None = None,
                 tls: tuple[str, str] | None = None, ntlm: bool = False,
                 routing: Routing | None = None) -> None:
        #: Exchange Online mode (bearer tokens only, tenant EWS settings); None = on-premises
        self.online = online
        #: public-folder routing (headers required, Autodiscover answers); None = not checked
        self.routing = routing
        #: (certificate file, key file): serve https (OAuth clients refuse plain http)
        self.tls = tls
        self.state = State()
        self.state.routing = routing
        self.users = {k.lower(): v for k, v in (users or {"svc@example.com": "secret"}).items()}
        #: on-premises NTLM instead of basic (the connection-based handshake, verified)
        self.ntlm = ntlm
        if ntlm:
            credential_file(self.users)
        for address in self.users:
            self.state.add_mailbox(address)
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.user = User(self.state)
        self._lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------

    thread_name = "ews-emulator"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def _tls_files(self) -> tuple[str, str] | None:
        return self.tls

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}/EWS/Exchange.asmx"

    # --- setup -----------------------------------------------------------------------------

    def add_public_folder(self, path: str) -> str:
        """Create a public calendar folder ``/A/B``; returns its folder id."""
        with self.state.lock:
            return self.state.add_public_folder(path).id

    def add_mailbox(self, address: str, password: str | None = None) -> None:
        with self.state.lock:
            self.state.add_mailbox(address)
        if password is not None:
            self.users[address] = password

    # --- fault knobs -----------------------------------------------------------------------

    def _add(self, f: Fault) -> None:
        with self._lock:
            self.faults.append(f)

    def busy(self, count: int = 1, back_off_ms: int = 50, ops: set[str] | None = None, skip: int = 0) -> None:
        """Answer the next ``count`` (matching) requests with ErrorServerBusy + BackOffMilliseconds."""
        self._add(Fault("busy", count, frozenset(ops) if ops else None, skip, back_off_ms=back_off_ms))

    def drop(self, count: int = 1, ops: set[str] | None = None, skip: int = 0, *, applied: bool = False) -> None:
        """Close the connection without an answer; with ``applied`` the request is executed
        first (the client cannot know whether its write happened)."""
        kind = "drop_after_apply" if applied else "drop"
        self._add(Fault(kind, count, frozenset(ops) if ops else None, skip))

    def truncate_pages(self, count: int = 1, skip: int = 0) -> None:
        """Return fewer FindItem items than asked, with IncludesLastItemInRange=false and an
        offset that skips the rest of the page."""
        self._add(Fault("truncate", count, frozenset({"FindItem"}), skip))

    def slow(self, seconds: float, count: int = 1, ops: set[str] | None = None) -> None:
        self._add(Fault("slow", count, frozenset(ops) if ops else None, delay=seconds))

    def route_public_folders(self, routing: Routing) -> None:
        """From now on, check public-folder routing headers and answer Autodiscover."""
        with self.state.lock:
            self.routing = self.state.routing = routing

    def refuse(self, subject: str, code: str = "ErrorInvalidPropertySet",
               text: str = "The property value is not valid.") -> None:
        """Refuse every CreateItem/UpdateItem of an item whose subject contains ``subject``
        with a per-item EWS error (the rest of the request goes on, as on Exchange)."""
        with self.state.lock:
            self.state.refusals.append(Refusal(subject, code, text))

    def bump_change_key(self, item_id: str) -> str:
        """Change an item's ChangeKey behind the client's back (a concurrent Outlook save)."""
        return self.user.touch(item_id)

    def _take_faults(self, op: str) -> list[Fault]:
        out = []
        with self._lock:
            for f in self.faults:
                if f.count <= 0 or (f.ops is not None and op not in f.ops):
                    continue
                if f.skip > 0:
                    f.skip -= 1
                    continue
                f.count -= 1
                f.hits += 1
                out.append(f)
            self.faults = [f for f in self.faults if f.count > 0]
        return out

    # --- introspection ---------------------------------------------------------------------

    def count(self, op: str | None = None) -> int:
        return sum(1 for r in self.requests if op is None or r.op == op)

    @property
    def meeting_messages(self) -> list[Request]:
        return [r for r in self.requests if r.sends_meeting_message]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- one request -----------------------------------------------------------------------

    def handle(self, raw: bytes, user: str, anchor: str | None,
               public_folder_mailbox: str | None = None) -> tuple[int, bytes | None]:
        """Status and body for one SOAP request (body None = drop the connection)."""
        try:
            doc = etree.fromstring(raw)
        except etree.XMLSyntaxError:
            return 500, fault("ErrorSchemaValidation", "The request failed schema validation.")
        body = doc.find(f"{{{SOAP}}}Body")
        op = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
        if op is None:
            return 500, fault("ErrorInvalidRequest", "The request is invalid.")
        imp = doc.findtext(f".//{t('ExchangeImpersonation')}//{t('PrimarySmtpAddress')}")
        # X-AnchorMailbox names the mailbox acted upon, unless it routes to public folders
        mailbox = (imp or (anchor if public_folder_mailbox is None else None) or user).lower()
        ids = op.find(".//{*}ItemIds")
        items = op.find("{*}Items")
        size = len(ids) if ids is not None else len(op.findall(".//{*}ItemChange")) or (
            len(items) if items is not None else 0)
        name = local(op.tag)
        with self._lock:
            self.requests.append(Request(name, {k: op.get(k) for k in KEY_ATTRS if op.get(k)}, user, mailbox, size,
                                         public_folder_mailbox))
        ctx = Context(user=user, mailbox=mailbox)
        if self.routing is not None:
            try:
                with self.state.lock:
                    self.routing.check(self.state, op, {"X-AnchorMailbox": anchor,
                                                        "X-PublicFolderMailbox": public_folder_mailbox})
            except SoapFault as exc:
                return 500, fault(exc.code, exc.text)
        drop_after = False
        for f in self._take_faults(name):
            if f.kind == "busy":
                return 500, fault("ErrorServerBusy", "The server cannot service this request right now. "
                                  "Try again later.", back_off_ms=f.back_off_ms)
            if f.kind == "drop":
                return 0, None
            if f.kind == "drop_after_apply":
                drop_after = True
            elif f.kind == "truncate":
                ctx.truncate_page = True
            elif f.kind == "slow":
                time.sleep(f.delay)
        try:
            out = envelope(dispatch(self.state, op, ctx))
        except SoapFault as exc:
            return 500, fault(exc.code, exc.text)
        except EwsError as exc:
            return 500, fault(exc.code, exc.text)
        return (0, None) if drop_after else (200, out)


def _handler(emu: EwsEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Answers go out as headers then body in two writes; with Nagle's algorithm the
        # second waits for the client's delayed ACK (~40 ms a request on loopback).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def _user(self) -> str | None:
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return None
            try:
                name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return None
            return name.lower() if emu.users.get(name.lower()) == password else None

        def _ntlm(self) -> tuple[str | None, dict[str, str]]:
            """(user, challenge headers) of this connection's NTLM handshake."""
            conn: NtlmConnection = getattr(self, "_ntlm_state", None) or NtlmConnection()
            self._ntlm_state = conn
            header = self.headers.get("Authorization", "")
            if not header and conn.user is not None:
                return conn.user, {}  # an authenticated connection stays so (IIS)
            user, challenge = conn.step(header) if header else (None, None)
            if challenge is not None:
                return None, {"WWW-Authenticate": challenge}
            if user is not None and emu.users.get(user) is not None:
                return user, {}
            return None, {"WWW-Authenticate": "NTLM"}

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path.lower().startswith("/autodiscover/"):
                self._autodiscover(raw)
                return
            if emu.ntlm:
                user_ntlm, challenge = self._ntlm()
                if user_ntlm is None:
                    self._send(401, b"", challenge)
                    return
                status, body = emu.handle(raw, user_ntlm, self.headers.get("X-AnchorMailbox"),
                                          self.headers.get("X-PublicFolderMailbox"))
                self._answer(status, body)
                return
            if emu.online is not None:
                verdict = emu.online.admit(self.headers.get("Authorization", ""), raw)
                if verdict.user is None:
                    self._send(verdict.status, b"", verdict.headers)
                    return
                user: str | None = verdict.user
            else:
                user = self._user()
            if user is None:
                self._send(401, b"", {"WWW-Authenticate": 'Basic realm="ews"'})
                return
            status, body = emu.handle(raw, user, self.headers.get("X-AnchorMailbox"),
                                      self.headers.get("X-PublicFolderMailbox"))
            self._answer(status, body)

        def _answer(self, status: int, body: bytes | None) -> None:
            if body is None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(status, body, {"Content-Type": "text/xml; charset=utf-8"})

        def _autodiscover(self, raw: bytes) -> None:
            """Autodiscover SOAP GetUserSettings (only with public-folder routing on); signed in
            as for EWS (online: a valid bearer token, no impersonation needed)."""
            if emu.routing is None:
                self._send(404, b"", {})
                return
            if not self._autodiscover_allowed():
                self._send(401, b"", {"WWW-Authenticate": 'Basic realm="ews"' if emu.online is None else "Bearer"})
                return
            try:
                answer = autodiscover_answer(emu.routing, raw)
            except etree.XMLSyntaxError:
                self._send(400, b"", {})
                return
            self._send(200, answer, {"Content-Type": "text/xml; charset=utf-8"})

        def _autodiscover_allowed(self) -> bool:
            if emu.online is None:
                return emu.ntlm or self._user() is not None
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            try:
                emu.online.tokens.verify(token.strip(), EXO)
            except InvalidToken:
                return False
            return scheme.lower() == "bearer"

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
