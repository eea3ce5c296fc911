"""The start/stop of the test emulators' HTTP(S) servers (EWS, Graph, the OAuth login host).

:class:`LoopbackHttp` serves a handler class on 127.0.0.1 and a port the system picks (never a
fixed one: engineers and CI share the machine), in a daemon thread, optionally over TLS;
``start()`` / ``stop()`` or ``with``. An emulator subclasses it and says what to serve.
"""

from __future__ import annotations

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class LoopbackHttp:
    """Base of an emulator served over HTTP(S) on a loopback port.

    Subclasses implement :meth:`_handler_class` and set :attr:`thread_name`; they may give a
    (certificate file, key file) pair by :meth:`_tls_files` and do more on start in
    :meth:`_started`. :attr:`port` is valid between ``start()`` and ``stop()``.
    """

    thread_name = "http-emulator"
    _server: ThreadingHTTPServer | None = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _tls_files(self) -> tuple[str, str] | None:
        """(certificate file, key file) to serve https with, or None for plain http."""
        return None

    def _started(self) -> None:
        """Called once the server listens (its port is known), before serving starts."""

    def start(self) -> Self:
        server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        server.daemon_threads = True
        tls = self._tls_files()
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._started()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True, name=self.thread_name).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "emulator not started"
        return int(self._server.server_address[1])
