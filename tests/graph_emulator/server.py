"""A local Microsoft Graph (calendar subset) on 127.0.0.1: the documented REST shapes for
calendars, events, instances, calendarView delta, extended properties and JSON ``$batch``.

- every request needs ``Authorization: Bearer`` with a token the OAuth emulator issued for
  ``https://graph.microsoft.com`` holding ``Calendars.ReadWrite`` (else 401/403, as Graph);
  :attr:`GraphEmulator.unauthorized` counts refused requests, and no other request is answered;
- :attr:`GraphEmulator.attendee_writes` counts creates/updates carrying attendees (Graph would
  send invitations for each): the connector must keep it at 0;
- more than 4 concurrent requests for one mailbox get 429 (``MailboxConcurrency``);
  :attr:`peak_concurrency` records the highest seen;
- fault knobs (:meth:`throttle`, :meth:`unavailable`, :meth:`drop_after_apply`,
  :meth:`empty_pages`) act on the next requests of the named operations, also inside ``$batch``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.loopback_http import LoopbackHttp
from tests.oauth_emulator import InvalidToken, TokenEmulator

from .api import Answer, Api
from .delta import Delta
from .store import Calendar, GraphError, Store

RESOURCE = "https://graph.microsoft.com"
ROLES = {"Calendars.ReadWrite"}
SCOPES = {"Calendars.ReadWrite", "Calendars.ReadWrite.Shared"}
MAX_BATCH = 20
MAX_CONCURRENT = 4
_OWNER = re.compile(r"^/(users|groups)/([^/]+)(/.*)?$")


@dataclass
class Fault:
    kind: str  # throttle | unavailable | drop_after_apply
    ops: frozenset[str] | None
    count: int
    skip: int = 0
    retry_after: float = 0
    hits: int = 0


class GraphEmulator(LoopbackHttp):
    """Start/stop (or ``with``); :attr:`url` is the v1.0 endpoint to configure."""

    def __init__(self, tokens: TokenEmulator) -> None:
        self.tokens = tokens
        self.store = Store()
        self.delta = Delta(self.store)
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str]] = []  # (operation, owner) of every answered request
        self.unauthorized = 0
        #: every bearer token presented (tests grep logs and databases for them)
        self.tokens_seen: set[str] = set()
        self.without_immutable_ids = 0
        self.peak_concurrency = 0
        #: seconds every request takes (to make concurrent clients overlap)
        self.latency = 0.0
        self._inflight: dict[str, int] = {}
        self._lock = threading.Lock()
        self.api: Api | None = None

    # --- lifecycle -------------------------------------------------------------------------

    thread_name = "graph-emulator"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def _started(self) -> None:
        self.api = Api(self.store, self.url)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1.0"

    @property
    def attendee_writes(self) -> int:
        return self.api.attendee_writes if self.api else 0

    # --- setup and knobs -------------------------------------------------------------------

    def add_mailbox(self, address: str) -> Calendar:
        with self.store.lock:
            return self.store.add_owner(f"users/{address}")

    def add_group(self, group_id: str) -> Calendar:
        with self.store.lock:
            return self.store.add_owner(f"groups/{group_id}")

    def add_calendar(self, address: str, name: str) -> Calendar:
        with self.store.lock:
            return self.store.add_calendar(f"users/{address}", name)

    def _fault(self, kind: str, ops: tuple[str, ...] | None, count: int, skip: int = 0,
               retry_after: float = 0) -> None:
        with self._lock:
            self.faults.append(Fault(kind, frozenset(ops) if ops else None, count, skip, retry_after))

    def throttle(self, count: int, ops: tuple[str, ...] | None = None, retry_after: float = 0, skip: int = 0) -> None:
        """The next ``count`` matching requests get 429 with ``Retry-After``."""
        self._fault("throttle", ops, count, skip, retry_after)

    def unavailable(self, count: int, ops: tuple[str, ...] | None = None, retry_after: float = 0, skip: int = 0) -> None:
        """The next ``count`` matching requests get 503 with ``Retry-After``."""
        self._fault("unavailable", ops, count, skip, retry_after)

    def drop_after_apply(self, count: int, ops: tuple[str, ...] = ("batch",), skip: int = 0) -> None:
        """The next ``count`` matching requests are carried out, then the connection is closed
        without an answer."""
        self._fault("drop_after_apply", ops, count, skip)

    def empty_pages(self, count: int) -> None:
        """Every delta round from now on starts with ``count`` empty pages with next links."""
        self.delta.empty_pages = count

    def fired(self, kind: str | None = None) -> int:
        return sum(f.hits for f in self.faults if kind is None or f.kind == kind)

    def pending_fault(self, op: str, kinds: tuple[str, ...]) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.kind in kinds and f.hits < f.count and (f.ops is None or op in f.ops):
                    if f.skip > 0:
                        f.skip -= 1
                        continue
                    f.hits += 1
                    return f
        return None

    def count(self, op: str) -> int:
        return sum(1 for o, _ in self.log if o == op)

    # --- one request -----------------------------------------------------------------------

    def check_token(self, headers: dict[str, str]) -> Answer | None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            self.unauthorized += 1
            return 401, _err("InvalidAuthenticationToken", "Access token is empty."), {}
        self.tokens_seen.add(auth[7:])
        try:
            claims = self.tokens.verify(auth[7:], RESOURCE)
        except InvalidToken as exc:
            self.unauthorized += 1
            return 401, _err("InvalidAuthenticationToken", str(exc)), {}
        granted = set(claims.get("roles") or []) | set(str(claims.get("scp") or "").split())
        if not granted & (ROLES | SCOPES):
            return 403, _err("ErrorAccessDenied", "Access is denied. Check credentials and try again."), {}
        return None

    def enter(self, owner: str) -> bool:
        with self._lock:
            n = self._inflight.get(owner, 0) + 1
            self._inflight[owner] = n
            self.peak_concurrency = max(self.peak_concurrency, n)
            return n <= MAX_CONCURRENT

    def leave(self, owner: str) -> None:
        with self._lock:
            self._inflight[owner] -= 1

    def handle(self, method: str, url: str, headers: dict[str, str], body: Any) -> tuple[Answer, bool]:
        """(answer, drop the connection after applying)."""
        if 'IdType="ImmutableId"' not in headers.get("prefer", ""):
            self.without_immutable_ids += 1
        path, query = _split(url)
        op = _op(method, path)
        fault = self.pending_fault(op, ("throttle", "unavailable"))
        if fault is not None:
            status = 429 if fault.kind == "throttle" else 503
            code = "ApplicationThrottled" if status == 429 else "ServiceUnavailable"
            return (status, _err(code, "Too many requests" if status == 429 else "Service unavailable"),
                    {"Retry-After": f"{fault.retry_after:g}"}), False
        drop = self.pending_fault(op, ("drop_after_apply",)) is not None
        if op == "batch":
            return self.batch(body, headers), drop
        try:
            with self.store.lock:
                answer = self.route(method, path, query, headers, body, op)
        except GraphError as exc:
            answer = exc.status, _err(exc.code, exc.message), {}
        return answer, drop

    def batch(self, body: Any, headers: dict[str, str]) -> Answer:
        reqs = (body or {}).get("requests") if isinstance(body, dict) else None
        if not isinstance(reqs, list) or not reqs or len(reqs) > MAX_BATCH:
            return 400, _err("BadRequest", f"a batch holds 1 to {MAX_BATCH} requests"), {}
        out = []
        for r in reqs:
            sub_headers = {k.lower(): v for k, v in (r.get("headers") or {}).items()}
            sub_headers["authorization"] = headers.get("authorization", "")
            (status, sub_body, sub_h), _ = self.handle(str(r.get("method")), "/v1.0" + str(r.get("url")),
                                                     sub_headers, r.get("body"))
            out.append({"id": r.get("id"), "status": status, "headers": sub_h, "body": sub_body})
        return 200, {"responses": out}, {}

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
              body: Any, op: str) -> Answer:
        api = self.api
        assert api is not None
        m = _OWNER.match(path.removeprefix("/v1.0"))
        if not m:
            raise GraphError(400, "BadRequest", f"unsupported path {path}")
        owner = f"{m.group(1)}/{unquote(m.group(2)).lower()}"
        rest = m.group(3) or ""
        self.log.append((op, owner))
        cal_m = re.match(r"^/calendars/([^/]+)(/.*)?$", rest)
        if rest in ("/calendars",) and method == "GET":
            return api.list_calendars(owner)
        if rest.startswith("/calendar/") or rest == "/calendar" or cal_m:
            cal = self.store.calendar(owner, unquote(cal_m.group(1)) if cal_m else None)
            sub = (cal_m.group(2) if cal_m else rest[len("/calendar"):]) or ""
            if sub == "" and method == "GET":
                return api.get_calendar(cal)
            if sub == "/events" and method == "GET":
                return api.list_events(cal, query)
            if sub == "/events" and method == "POST":
                return api.create_event(cal, body or {})
            if sub == "/calendarView/delta" and method == "GET":
                size = _page_size(headers)
                return 200, self.delta.answer(self.url, path.removeprefix("/v1.0").lstrip("/"), cal, query, size), {}
        ev_m = re.match(r"^/events/([^/]+)(/instances)?$", rest)
        if ev_m:
            event_id = unquote(ev_m.group(1))
            if ev_m.group(2) and method == "GET":
                return api.instances(owner, event_id, query)
            if method == "GET":
                return api.get_event(owner, event_id, query)
            if method == "PATCH":
                return api.patch_event(owner, event_id, body or {}, headers)
            if method == "DELETE":
                return api.delete_event(owner, event_id, headers)
        raise GraphError(400, "BadRequest", f"unsupported {method} {path}")


def _err(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _split(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    query: dict[str, str] = {}
    for pair in parts.query.split("&") if parts.query else []:
        name, _, value = pair.partition("=")
        query[unquote(name)] = unquote(value)
    return parts.path, query


def _op(method: str, path: str) -> str:
    if path.rstrip("/").endswith("$batch"):
        return "batch"
    if "/calendarView/delta" in path:
        return "delta"
    if path.endswith("/instances"):
        return "instances"
    if method == "POST":
        return "create"
    return {"PATCH": "update", "DELETE": "delete"}.get(method, "get")


def _page_size(headers: dict[str, str]) -> int:
    m = re.search(r"odata\.maxpagesize=(\d+)", headers.get("prefer", ""))
    return max(1, min(int(m.group(1)), 1000)) if m else 10


def _owner_of(url: str) -> str:
    m = _OWNER.match(urlsplit(url).path.removeprefix("/v1.0"))
    return f"{m.group(1)}/{unquote(m.group(2)).lower()}" if m else ""


def _handler(emu: GraphEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return None

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, 8 * 1024 * 1024)) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            denied = emu.check_token(headers)
            if denied is not None:
                self._reply(*denied)
                return
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                self._reply(400, _err("BadRequest", "invalid JSON"), {})
                return
            owner = _owner_of(self.path)
            if owner == "" and isinstance(body, dict) and body.get("requests"):
                owner = _owner_of("/v1.0" + str(body["requests"][0].get("url", "")))
            if not emu.enter(owner):
                emu.leave(owner)
                self._reply(429, _err("ApplicationThrottled", "MailboxConcurrency limit"), {"Retry-After": "0"})
                return
            try:
                if emu.latency:
                    time.sleep(emu.latency)
                answer, drop = emu.handle(self.command, self.path, headers, body)
            finally:
                emu.leave(owner)
            if drop:
                self.close_connection = True
                self.connection.close()
                return
            self._reply(*answer)

        def _reply(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

    return Handler


__all__ = ["GraphEmulator"]
