"""Real servers for the CalDAV / ICS-feed tests, all on 127.0.0.1:

- :class:`Radicale` — the real Radicale from PyPI as a subprocess, own storage folder, htpasswd
  auth; plus a "user" that edits it with plain ``requests`` (not our connector).
- :class:`Xandikos` — the real Xandikos from PyPI as a subprocess (git-backed storage, no
  auth of its own: it ignores our basic-auth header, as it does behind a proxy).
- :class:`FaultProxy` — an HTTP proxy in front of it that can drop connections, answer 5xx,
  be slow, strip ETags from PUT answers, or refuse sync-collection; counts requests.
- :class:`FeedServer` — serves .ics feeds with ETag/Last-Modified and conditional GET.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

import requests

USER, PASSWORD = "alice", "secret"
_METHODS = ("GET", "HEAD", "PUT", "DELETE", "PROPFIND", "REPORT", "MKCALENDAR", "OPTIONS", "POST")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Bounded polling for a condition."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out waiting for {what}")


class DavServer:
    """A CalDAV server subprocess on a free loopback port; subclasses say how to start it."""

    name = "dav"
    #: where this server keeps a user's calendars (its calendar-home-set)
    home = f"/{USER}/"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.session = requests.Session()
        self.session.auth = (USER, PASSWORD)
        # the free port is only free when asked: another process may take it before the
        # server binds it, so a server that exits with "address in use" gets another port
        for attempt in range(3):
            self.port = free_port()
            self.base = f"http://127.0.0.1:{self.port}"
            self.log = open(root / f"{self.name}.log", "wb")  # noqa: SIM115 - closed in stop()
            self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT)
            try:
                wait_until(self._answers, what=f"{self.name} to answer")
                return
            except RuntimeError as exc:
                self.log.close()
                if attempt == 2 or "in use" not in str(exc):
                    raise

    def command(self) -> list[str]:
        raise NotImplementedError

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError((self.root / f"{self.name}.log").read_text())
        try:
            return requests.get(self.base + "/", timeout=1).status_code in (200, 401, 302)
        except requests.RequestException:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        self.session.close()

    def mkcalendar(self, name: str | None = None, display: str | None = None) -> str:
        """A new empty calendar collection in the calendar home; returns its path."""
        name = name or "cal-" + uuid.uuid4().hex[:10]
        path = f"{self.home}{name}/"
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<D:displayname>{display or name}</D:displayname></D:prop></D:set></C:mkcalendar>"
        )
        r = self.session.request(
            "MKCALENDAR", self.base + path, data=body,
            headers={"Content-Type": "application/xml; charset=utf-8"},
        )
        assert r.status_code == 201, (r.status_code, r.text)
        return path


class Radicale(DavServer):
    """A Radicale subprocess with one htpasswd user."""

    name = "radicale"

    def command(self) -> list[str]:
        root = self.root
        (root / "users").write_text(f"{USER}:{PASSWORD}\n")
        (root / "config").write_text(
            "[server]\n"
            f"hosts = 127.0.0.1:{self.port}\n"
            "[auth]\n"
            "type = htpasswd\n"
            f"htpasswd_filename = {root / 'users'}\n"
            "htpasswd_encryption = plain\n"
            "delay = 0\n"
            "[storage]\n"
            f"filesystem_folder = {root / 'storage'}\n"
            "[web]\n"
            "type = none\n"
            "[logging]\n"
            "level = warning\n"
        )
        return [sys.executable, "-m", "radicale", "-C", str(root / "config")]


class Xandikos(DavServer):
    """A Xandikos subprocess serving ``/alice/`` (collections are git repositories)."""

    name = "xandikos"
    home = f"/{USER}/calendars/"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "xandikos", "serve",
            "-d", str(self.root / "data"), "--state-dir", str(self.root / "state"),
            "--current-user-principal", f"/{USER}/", "--autocreate",
            "-l", "127.0.0.1", "-p", str(self.port), "--no-detect-systemd",
        ]


@dataclass
class CalendarUser:
    """Someone editing one collection with a plain HTTP client (not our code).

    Items it creates get client-style random names (``user-<hex>.ics``), as real clients do.
    ``radicale`` is the server (Radicale or Xandikos; the name predates the second one).
    """

    radicale: DavServer
    path: str

    def url(self, href: str) -> str:
        return self.radicale.base + href

    def put(self, text: str, href: str | None = None) -> str:
        href = href or f"{self.path}user-{uuid.uuid4().hex[:12]}.ics"
        r = self.radicale.session.put(
            self.url(href), data=text.encode(), headers={"Content-Type": "text/calendar"}
        )
        assert r.status_code in (201, 204), (r.status_code, r.text)
        return href

    def hrefs(self) -> list[str]:
        """Every item href in the collection (PROPFIND Depth 1)."""
        body = '<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>'
        r = self.radicale.session.request(
            "PROPFIND", self.url(self.path), data=body,
            headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
        )
        assert r.status_code == 207, r.status_code
        hrefs = [unquote(e.text or "") for e in ElementTree.fromstring(r.content).iter("{DAV:}href")]
        return [h for h in hrefs if not h.endswith("/")]

    def hrefs_by_uid(self) -> dict[str, str]:
        """UID → href of every item in the collection (PROPFIND + GET each)."""
        out: dict[str, str] = {}
        for href in self.hrefs():
            for line in self.radicale.session.get(self.url(href)).text.splitlines():
                if line.startswith("UID:"):
                    out[line[4:].strip()] = href
                    break
        return out

    def get(self, href: str) -> requests.Response:
        response = self.radicale.session.get(self.url(href))
        response.encoding = "utf-8"  # iCalendar is UTF-8 (RFC 5545 §3.1.4), charset or not
        return response

    def delete(self, href: str) -> None:
        r = self.radicale.session.delete(self.url(href))
        assert r.status_code in (200, 204), r.status_code

    def upload_calendar(self, text: str) -> None:
        """Radicale's bulk path: PUT a whole VCALENDAR onto the collection URL."""
        r = self.radicale.session.put(
            self.url(self.path), data=text.encode(), headers={"Content-Type": "text/calendar"}
        )
        assert r.status_code in (201, 204), (r.status_code, r.text[:300])


# --- fault-injecting proxy --------------------------------------------------------------------


@dataclass
class Fault:
    """What to do to the next ``count`` requests matching ``method`` (None: any) and whose
    body contains ``body_contains`` (None: any). Kinds: ``drop`` (close before forwarding),
    ``drop-after`` (forward, then close without answering: the server applied it, the client
    never hears), ``status`` (answer ``status`` without forwarding), ``slow`` (wait ``delay``
    first), ``strip-etag`` (remove the ETag header), ``truncate`` (half the body, then close)."""

    kind: str
    count: int = 1
    method: str | None = None
    body_contains: str | None = None
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    release: threading.Event = field(default_factory=threading.Event)
    forwarded: threading.Event = field(default_factory=threading.Event)

    def matches(self, method: str, body: bytes) -> bool:
        return (self.method is None or self.method == method) and (
            self.body_contains is None or self.body_contains.encode() in body
        )


@dataclass
class FaultProxy:
    """HTTP/1.1 proxy to ``upstream`` (host, port) on a free loopback port."""

    upstream_port: int
    faults: list[Fault] = field(default_factory=list)
    #: (method, path) of every request received, faulted or not
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def _serve(self) -> None:
                proxy._handle(self)

        for m in _METHODS:
            setattr(Handler, f"do_{m}", Handler._serve)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a client that hung up on an injected fault is expected, not an error to print
        self.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def add(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()

    def count(self, method: str | None = None) -> int:
        with self.lock:
            return sum(1 for m, _ in self.requests if method is None or m == method)

    def reset_count(self) -> None:
        with self.lock:
            self.requests.clear()

    def stop(self) -> None:
        with self.lock:
            for fault in self.faults:
                fault.release.set()  # a held request must not outlive the proxy
        self.server.shutdown()
        self.server.server_close()

    def _take(self, method: str, body: bytes) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count != 0 and fault.matches(method, body):
                    fault.count -= 1  # a negative count never runs out
                    return fault
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((h.command, h.path))
        fault = self._take(h.command, body)
        if fault is not None and fault.kind == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "status":
            payload = b"injected failure"
            h.send_response(fault.status)
            if fault.retry_after is not None:
                h.send_header("Retry-After", fault.retry_after)
            h.send_header("Content-Length", str(len(payload)))
            h.end_headers()
            h.wfile.write(payload)
            return
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.kind == "hold":
            fault.release.wait()
            self._forward(h, body)
            fault.forwarded.set()
            return  # the client hung up long ago
        status, headers, data = self._forward(h, body)
        if fault is not None and fault.kind == "drop-after":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault is not None and fault.kind == "strip-etag":
            headers = [(k, v) for k, v in headers if k.lower() != "etag"]
        h.send_response(status)
        for k, v in headers:
            if k.lower() not in (
                "content-length",
                "connection",
                "transfer-encoding",
                "server",
                "date",
            ):
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if fault is not None and fault.kind == "truncate":
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        h.wfile.write(data)

    def _forward(
        self, h: BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        try:
            headers = {
                k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection")
            }
            conn.request(h.command, h.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()


# --- static feed server ---------------------------------------------------------------------


@dataclass
class Feed:
    body: bytes
    status: int = 200
    etag: bool = True
    last_modified: bool = True
    version: int = 0


class FeedServer:
    """Serves ``feeds[path]`` with a content-hash ETag and a Last-Modified that moves with
    each :meth:`set`, answering conditional GETs with 304. Counts requests."""

    def __init__(self) -> None:
        self.feeds: dict[str, Feed] = {}
        self.hits: list[tuple[str, int]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                server._get(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def set(self, path: str, text: str | bytes, **options: object) -> str:
        """Serve ``text`` (bytes as they are) at ``path``; returns the feed's URL."""
        old = self.feeds.get(path)
        version = old.version + 1 if old else 1
        body = text if isinstance(text, bytes) else text.encode()
        self.feeds[path] = Feed(body, version=version, **options)  # type: ignore[arg-type]
        return self.base + path

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _get(self, h: BaseHTTPRequestHandler) -> None:
        feed = self.feeds.get(h.path)
        status = 404 if feed is None else feed.status
        if feed is None or status != 200:
            self.hits.append((h.path, status))
            h.send_response(status)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        etag = '"' + hashlib.sha1(feed.body).hexdigest() + '"'
        modified = formatdate(1_700_000_000 + feed.version * 60, usegmt=True)
        not_modified = (feed.etag and h.headers.get("If-None-Match") == etag) or (
            not feed.etag and feed.last_modified and h.headers.get("If-Modified-Since") == modified
        )
        status = 304 if not_modified else 200
        self.hits.append((h.path, status))
        h.send_response(status)
        if feed.etag:
            h.send_header("ETag", etag)
        if feed.last_modified:
            h.send_header("Last-Modified", modified)
        h.send_header("Content-Type", "text/calendar; charset=utf-8")
        h.send_header("Content-Length", "0" if not_modified else str(len(feed.body)))
        h.end_headers()
        if not not_modified:
            h.wfile.write(feed.body)
