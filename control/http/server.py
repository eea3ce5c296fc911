"""Running the HTTP side next to the gRPC server, in the same process.

:func:`start_http` starts an aiohttp server with its own event loop in one thread (so the
gRPC server's thread pool is untouched), the event pump, and the metrics. TLS uses the same
certificate and key as gRPC. The returned :class:`HttpServer` is stopped with ``stop()``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from cirahub.control.handlers import Handlers
from cirahub.control.http.app import build_app
from cirahub.control.http.context import Console
from cirahub.control.http.events import EventPump
from cirahub.control.http.metrics import Metrics, watch_engine
from cirahub.core.errors import InvalidInput

log = logging.getLogger(__name__)
STARTUP_TIMEOUT = 30.0


@dataclass
class HttpServer:
    host: str
    port: int
    console: Console
    _loop: asyncio.AbstractEventLoop
    _runner: web.AppRunner
    _thread: threading.Thread
    #: the published URL (see start_console), removed on stop
    address_file: Path | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.console.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def stop(self) -> None:
        self.console.pump.stop()
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        try:
            future.result(15)
        except Exception:  # pragma: no cover - shutting down anyway
            log.exception("console: stopping the HTTP server failed")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)
        self.console.pool.shutdown(wait=False, cancel_futures=True)
        if self.address_file is not None:
            self.address_file.unlink(missing_ok=True)


def ssl_context(tls: Any) -> ssl.SSLContext:
    """A server TLS context from the gRPC server's TlsConfig (PEM bytes)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # load_cert_chain reads files only: a private temporary folder, removed at once
    with tempfile.TemporaryDirectory(prefix="cirahub-tls-") as tmp:
        cert, key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert.write_bytes(tls.cert_chain)
        key.touch(mode=0o600)
        key.write_bytes(tls.private_key)
        ctx.load_cert_chain(cert, key)
    return ctx


def start_http(runtime: Any, listen: str, token: str, data_dir: Path,
               tls: Any = None) -> HttpServer:
    """Serve the console, ``/metrics`` and health on ``listen`` (port 0: a free one).
    InvalidInput for a bad address or one that cannot be bound."""
    from cirahub.control.server import is_loopback, split_address

    host, port = split_address(listen)
    if tls is None and not is_loopback(host):
        log.warning("console on %s without TLS: sign-in secrets travel in clear; use "
                    "--tls-cert/--tls-key", listen)
    handlers = Handlers(runtime)
    metrics = Metrics(handlers)
    engine = getattr(runtime.store, "engine", None)
    if engine is not None:
        watch_engine(engine, metrics)
    pump = EventPump(handlers, metrics.observe)
    console = Console(handlers=handlers, token=token, data_dir=Path(data_dir),
                      tls=tls is not None, metrics=metrics, pump=pump)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            runner = web.AppRunner(build_app(console), access_log=None,
                                   handle_signals=False)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context(tls) if tls else None,
                               reuse_address=True)
            loop.run_until_complete(site.start())
            box["runner"] = runner
            box["port"] = runner.addresses[0][1]
        except Exception as exc:
            box["error"] = exc
            started.set()
            return
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="cirahub-http", daemon=True)
    thread.start()
    if not started.wait(STARTUP_TIMEOUT) or "error" in box:
        exc = box.get("error")
        raise InvalidInput(f"cannot serve the console on {listen}: {exc}", field="http_listen")
    pump.start()
    server = HttpServer(host, box["port"], console, loop, box["runner"], thread)
    log.info("cirahub console listening on %s", server.url)
    return server
