"""Loopback servers for hostile-input tests: an endless body, a fixed body, silence."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Hostile(BaseHTTPRequestHandler):
    """GET/POST/PROPFIND/REPORT answer 200 with a body that never ends (``/endless``), 401
    with an NTLM challenge whose body never ends (``/challenge``), or a fixed body set on
    the server (any other path)."""

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        server: HostileServer = self.server  # type: ignore[assignment]
        server.paths.append(self.path)
        if self.path.startswith(("/endless", "/challenge")):
            if self.path.startswith("/challenge"):  # a sign-in challenge that never ends
                self.send_response(401)
                self.send_header("WWW-Authenticate", "NTLM")
            else:
                self.send_response(200)
            self.send_header("Content-Type", server.content_type)
            self.end_headers()
            chunk = b"X" * 65536
            try:
                while not server.stopping.is_set():
                    self.wfile.write(chunk)
                    server.sent += len(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        body = server.body
        self.send_response(server.status)
        self.send_header("Content-Type", server.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PROPFIND = do_REPORT = _answer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Hostile)
        self.stopping = threading.Event()
        self.sent = 0
        self.paths: list[str] = []  # every request's path and query, in order
        self.body = b""
        self.content_type = "text/calendar"
        self.status = 200

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextmanager
def hostile_server() -> Iterator[HostileServer]:
    server = HostileServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


class SilentServer:
    """Accepts TCP connections on loopback and never answers (a feed that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        """Stops accepting, then closes every connection it held (a client waiting on one
        sees it end at once; a new connection is refused)."""
        self.stop.set()
        self._thread.join(5)  # no connection is accepted after this
        self.sock.close()
        for conn in self.held:
            conn.close()
