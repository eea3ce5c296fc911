"""The control plane's gRPC server.

:func:`create_server` serves ``cirahub.control.v1.ControlService`` on one runtime, with gRPC
health checking (open, no token) and reflection (token required, like every other call).
:func:`serve` is what ``cirahubctl server`` runs: start the runtime, create the token on first
start, listen, and publish the address for clients on the same machine.

Guarantees: the server binds exactly the address given (loopback by default, see
``Settings.listen``); with ``tls`` every connection is TLS, without it a warning is logged when
the address is not loopback (the token would travel in clear).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cirahub.cluster.heap import settle
from cirahub.control.auth import ADDRESS_FILE, TokenInterceptor, load_or_create_token
from cirahub.control.runlog import RunLogger
from cirahub.control.serverlock import DataFolderLock
from cirahub.control.servicer import ControlServicer
from cirahub.core.errors import InUse, InvalidInput, StoreError
from cirahub.core.limits import MAX_STREAMS
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from cirahub.proto.cirahub.control.v1 import control_pb2_grpc as pb_grpc
from cirahub.store.files import checkpoint, private_dir, private_files

log = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["ControlService"].full_name
T = TypeVar("T")


@dataclass(frozen=True)
class TlsConfig:
    """A PEM certificate chain and private key. Its repr never shows the key."""

    cert_chain: bytes
    private_key: bytes

    def __repr__(self) -> str:
        return "TlsConfig(<key hidden>)"

    @classmethod
    def from_files(cls, cert: Path | str, key: Path | str) -> TlsConfig:
        """Reads both files; InvalidInput naming the file that cannot be read."""
        out: list[bytes] = []
        for what, path in (("certificate", cert), ("key", key)):
            try:
                out.append(Path(path).read_bytes())
            except OSError as exc:
                raise InvalidInput(f"cannot read the TLS {what} {str(path)!r}: "
                                   f"{exc.strerror}", field=f"tls_{what}") from None
        return cls(out[0], out[1])


def split_address(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host, port); InvalidInput when malformed."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInput(f"listen address must be HOST:PORT, got {listen!r}", field="listen")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GrpcServer:
    """The asyncio gRPC server, running on its own event loop thread (the caller's thread
    stays free: :func:`serve` waits for signals, tests and the demo go on). ``stop(grace)``
    returns an event set once the server stopped."""

    def __init__(self, servicer: ControlServicer) -> None:
        self.servicer = servicer
        self.loop = asyncio.new_event_loop()
        self.server: grpc.aio.Server | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="cirahub-grpc-loop",
                                        daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self, grace: float | None = None) -> threading.Event:
        done = threading.Event()

        async def _stop() -> None:
            if self.server is not None:
                await self.server.stop(grace)

        def _finished(_: Any) -> None:
            self.servicer.close()
            self.loop.call_soon_threadsafe(self.loop.stop)
            done.set()

        asyncio.run_coroutine_threadsafe(_stop(), self.loop).add_done_callback(_finished)
        return done


def create_server(
    runtime: Any, listen: str, token: str, tls: TlsConfig | None = None,
    *, max_streams: int = MAX_STREAMS,
) -> tuple[GrpcServer, int]:
    """A started gRPC server for ``runtime`` on ``listen`` and the port it bound (useful
    with port 0). Raises InvalidInput for a bad address or one that cannot be bound. Open
    streams (SyncNow, WatchEvents) beyond ``max_streams`` get RESOURCE_EXHAUSTED."""
    host, port = split_address(listen)
    if tls is None and not is_loopback(host):
        log.warning("listening on %s without TLS: the control token travels in clear; "
                    "use --tls-cert/--tls-key", listen)
    handle = GrpcServer(ControlServicer(runtime, max_streams=max_streams))
    try:
        bound = handle.run(_start(handle, host, port, listen, token, tls))
    except BaseException:
        handle.stop(0).wait(10)
        raise
    log.info("cirahub control plane listening on %s:%d%s (at most %d open streams)", host,
             bound, " (TLS)" if tls else "", max_streams)
    return handle, bound


async def _start(handle: GrpcServer, host: str, port: int, listen: str, token: str,
                 tls: TlsConfig | None) -> int:
    server = grpc.aio.server(
        interceptors=[TokenInterceptor(token)],
        # Without this, gRPC binds with SO_REUSEPORT: a second server on the same port starts
        # silently and the kernel splits the clients' connections between the two.
        options=[("grpc.so_reuseport", 0)],
    )
    handle.server = server
    pb_grpc.add_ControlServiceServicer_to_server(handle.servicer, server)  # type: ignore[arg-type]
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if tls is not None:
            creds = grpc.ssl_server_credentials([(tls.private_key, tls.cert_chain)])
            bound = server.add_secure_port(bind, creds)
        else:
            bound = server.add_insecure_port(bind)
    except RuntimeError:
        bound = 0
    if not bound:
        raise (_bind_error(host, port, listen)
               or InvalidInput(f"cannot listen on {listen}", field="listen"))
    await server.start()
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return bound


def check_free(listen: str) -> None:
    """InUse when another process listens on ``listen``, InvalidInput when it is not an
    address of this machine; nothing for a free address (or port 0)."""
    host, port = split_address(listen)
    if port:
        error = _bind_error(host, port, listen)
        if error is not None:
            raise error


def _bind_error(host: str, port: int, listen: str) -> Exception | None:
    """Why ``listen`` cannot be bound: InUse when another process holds the address (found
    by trying it ourselves), InvalidInput when it is not local, None when it is free."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR only forgives TIME_WAIT leftovers; a listening socket still conflicts.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        probe.listen(1)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return InUse(f"cannot listen on {listen}: address in use (another cirahub server, "
                         "or another program, listens there); stop it or pick another "
                         "--listen", listen=listen)
        return InvalidInput(f"cannot listen on {listen}: {exc.strerror}", field="listen")
    finally:
        probe.close()
    return None


def address_text(host: str, port: int) -> str:
    """``HOST:PORT`` as clients dial it (a wildcard host as loopback)."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"{'[' + host + ']' if ':' in host else host}:{port}"


def write_address(data_dir: Path, host: str, port: int, tls: bool) -> Path:
    """Publishes where this server listens, for clients on this machine (``cirahubctl``
    without --address). A wildcard host is published as loopback."""
    path = Path(data_dir) / ADDRESS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(address_text(host, port) + "\n" + ("tls\n" if tls else ""))
    tmp.chmod(0o600)
    os.replace(tmp, path)
    return path


def remove_address(path: Path, written: str) -> None:
    """Delete the published address only if it is still the one this server wrote (another
    server may have published its own since)."""
    try:
        if path.read_text() == written:
            path.unlink()
    except FileNotFoundError:
        pass


def serve(
    settings: Any, tls: TlsConfig | None = None,
    ready: Callable[[str, int], None] | None = None, stop: threading.Event | None = None,
    http_listen: str | None = None, max_streams: int = MAX_STREAMS,
) -> None:
    """Runs the control plane until SIGINT/SIGTERM (or ``stop`` is set): locks the data folder
    (InUse when another server holds it), makes it private, starts the runtime, creates the
    token on first start, listens on ``settings.listen`` (InUse when the address is taken),
    publishes the address. ``ready(host, port)`` is called once it listens. On a clean stop
    the SQLite store is checkpointed, so ``cirahub.db`` alone holds everything. The console,
    ``/metrics`` and the health endpoints listen on ``http_listen`` (see
    :func:`cirahub.control.http.start_console`: None is the default address, "off" none).
    At most ``max_streams`` SyncNow / WatchEvents streams are open at once."""
    from cirahub.actors.runtime import Runtime

    private_dir(settings.data_dir)
    lock = DataFolderLock(settings.data_dir).acquire()
    try:
        check_free(settings.listen)  # fail on a taken or bad address before starting Ray
        if http_listen not in (None, "off"):
            split_address(http_listen)
        token = load_or_create_token(settings.data_dir)  # refuses an unsafe one: before chmod
        private_files(settings.data_dir)
        if not settings.ray_address:  # embedded: hub writers and the first spoke actor
            settings = settings.with_changes(hubs_in_supervisor=True,  # need no process of
                                             spokes_in_supervisor=True)  # their own
        runtime = Runtime.start(settings)
        runs = RunLogger(runtime).start()  # the runs, halts, ... of the actors, on our log
        try:
            _listen_until_stopped(runtime, settings, token, tls, lock, ready, stop, http_listen,
                                  max_streams)
        finally:
            runs.stop()
            db = runtime.store.sqlite_file
            runtime.shutdown()
            if db is not None:
                try:
                    frames, _ = checkpoint(db)
                    log.info("store checkpointed (%d log frames moved into %s)", frames, db.name)
                except StoreError as exc:  # the data is safe in the -wal file all the same
                    log.warning("%s", exc)
    finally:
        lock.release()


def _listen_until_stopped(
    runtime: Any, settings: Any, token: str, tls: TlsConfig | None, lock: DataFolderLock,
    ready: Callable[[str, int], None] | None, stop: threading.Event | None,
    http_listen: str | None = None, max_streams: int = MAX_STREAMS,
) -> None:
    from cirahub.control.http import start_console

    host, _ = split_address(settings.listen)
    stop = stop or threading.Event()
    server, port = create_server(runtime, settings.listen, token, tls,
                                 max_streams=max_streams)
    try:
        console = start_console(runtime, http_listen, token, settings.data_dir, tls)
    except BaseException:
        server.stop(grace=0)
        raise
    settle()  # started: what lives on is out of the collector's way (cluster/heap.py)
    address_file = write_address(settings.data_dir, host, port, tls is not None)
    written = address_file.read_text()
    lock.publish(address_text(host, port))
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    if ready is not None:
        ready(host, port)
    stop.wait()
    log.info("stopping the control plane")
    if console is not None:
        console.stop()
    server.stop(grace=5).wait()
    remove_address(address_file, written)
