"""A small client of the control API, used by ``cirahubctl`` and usable from scripts.

How it finds the server, first match wins:

- address: the ``address`` argument (``--address``), ``$CIRAHUB_ADDRESS``, the address a
  running server published in its data folder (``control.address``), ``127.0.0.1:7443``;
- token: the ``token`` argument (``--token``), ``$CIRAHUB_TOKEN``, the server's token file in
  the data folder (``control.token``);
- data folder: the ``data_dir`` argument (``--data-dir``), ``$CIRAHUB_DATA_DIR``, the same
  per-user folder the server uses by default.

So on one machine with defaults no flag is needed. Every failure is raised as
:class:`~cirahub.control.errors.ClientError` (message + exit code), never as a gRPC error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import grpc

from cirahub.control.errors import ClientError, ExitCode, from_rpc_error

# (not cirahub.control.auth: its server side costs every command ~3 ms of imports; nor pathlib)
from cirahub.control.published import HEADER, read_address, read_token
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from cirahub.proto.cirahub.control.v1 import control_pb2_grpc as pb_grpc

DEFAULT_ADDRESS = "127.0.0.1:7443"
#: the data folder's variable (cirahub.store.paths.DATA_DIR_ENV, not imported: see resolve)
DATA_DIR_ENV = "CIRAHUB_DATA_DIR"
#: seconds a unary call may take (adding a spoke reconciles the cluster)
DEFAULT_TIMEOUT = 120.0
#: most pages one listing fetches (a server that never ends a list stops here)
MAX_PAGES = 10000


@dataclass(frozen=True)
class Target:
    """Where and how to reach a server. Its repr never shows the token."""

    address: str
    token: str | None
    token_source: str
    ca_cert: bytes | None = None
    tls: bool = False
    server_name: str | None = None

    def __repr__(self) -> str:
        return f"Target(address={self.address!r}, tls={self.tls}, token_source={self.token_source!r})"


def resolve(
    address: str | None = None, token: str | None = None,
    data_dir: os.PathLike[str] | str | None = None, ca_cert: os.PathLike[str] | str | None = None,
    server_name: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Target:
    """The :class:`Target` from arguments, environment and the data folder (see module doc).
    Raises ClientError (BAD_INPUT) when a given CA certificate cannot be read."""
    env = os.environ if env is None else env
    given = data_dir or env.get(DATA_DIR_ENV)
    if given:
        folder = path_text(os.path.expanduser(os.fspath(given)))
    else:  # only here: platformdirs costs ~5 ms of every command
        from cirahub.store.paths import default_data_dir

        folder = str(default_data_dir(env))
    published_tls = False
    address = address or env.get("CIRAHUB_ADDRESS") or None
    if address is None:
        lines = read_address(folder)
        address = lines[0] if lines else DEFAULT_ADDRESS
        published_tls = "tls" in lines[1:]
    if token:
        source = "--token"
    elif env.get("CIRAHUB_TOKEN"):
        token, source = env["CIRAHUB_TOKEN"], "CIRAHUB_TOKEN"
    else:
        token = read_token(folder)
        source = f"token file in {folder}" if token else f"none found (no token file in {folder})"
    ca_path = ca_cert or env.get("CIRAHUB_CA_CERT") or None
    ca = None
    if ca_path:
        try:
            with open(ca_path, "rb") as fh:
                ca = fh.read()
        except OSError as exc:
            raise ClientError(f"cannot read the CA certificate {str(ca_path)!r}: {exc.strerror}",
                              ExitCode.BAD_INPUT) from None
    return Target(address, token, source, ca, tls=ca is not None or published_tls,
                  server_name=server_name)


def path_text(text: str) -> str:
    """``str(pathlib.Path(text))`` on POSIX (empty and ``.`` parts and a trailing slash
    dropped, ``..`` kept), without importing pathlib on every command's path."""
    lead = "/" if text.startswith("/") else ""
    if text.startswith("//") and not text.startswith("///"):
        lead = "//"  # POSIX keeps exactly two leading slashes
    return lead + "/".join(p for p in text.split("/") if p and p != ".") or "."


class ControlClient(Protocol):
    """What the CLI and the demo use of a control-plane client (:class:`Client` over gRPC;
    tests give a fake). Errors are :class:`~cirahub.control.errors.ClientError`."""

    def __enter__(self) -> ControlClient: ...
    def __exit__(self, *exc: object) -> None: ...
    def call(self, method: str, request: Any, timeout: float | None = None) -> Any: ...
    def list_all(self, method: str, request: Any, field: str, limit: int = 0) -> list[Any]: ...
    def stream(self, method: str, request: Any) -> Iterator[Any]: ...
    def create_hub(self, name: str, policy: str = "") -> pb.Hub: ...
    def add_spoke(self, hub: str, name: str, config: pb.SpokeConfig,
                  options: pb.SyncOptions | None = None, secret: str | None = None) -> pb.Spoke: ...
    def sync(self, hub: str = "", spoke: str = "") -> Iterator[pb.SyncProgress]: ...


class CallsByName:
    """What every :class:`ControlClient` builds on ``call`` and ``stream``: paged lists and
    the conveniences the CLI and the demo use. Subclasses implement ``call`` and ``stream``."""

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        raise NotImplementedError

    def stream(self, method: str, request: Any) -> Iterator[Any]:
        raise NotImplementedError

    def list_all(self, method: str, request: Any, field: str, limit: int = 0) -> list[Any]:
        """Every entry of a paged list call (``field`` of each answer), page after page,
        until the server says the list ended or ``limit`` entries (0 = no limit) came."""
        out: list[Any] = []
        for _ in range(MAX_PAGES):
            answer = self.call(method, request)
            out.extend(getattr(answer, field))
            if not answer.next_page_token or (limit and len(out) >= limit):
                return out[:limit] if limit else out
            request.page_token = answer.next_page_token
        raise ClientError(f"{method}: the server kept sending pages (more than {MAX_PAGES})",
                          ExitCode.INTERNAL)

    def create_hub(self, name: str, policy: str = "") -> pb.Hub:
        return self.call("CreateHub", pb.CreateHubRequest(name=name, policy=policy))

    def add_spoke(self, hub: str, name: str, config: pb.SpokeConfig,
                  options: pb.SyncOptions | None = None, secret: str | None = None) -> pb.Spoke:
        return self.call("AddSpoke", pb.AddSpokeRequest(
            hub=hub, name=name, config=config, options=options, secret=secret or ""))

    def sync(self, hub: str = "", spoke: str = "") -> Iterator[pb.SyncProgress]:
        return self.stream("SyncNow", pb.SyncNowRequest(hub=hub, spoke=spoke))


class Client(CallsByName):
    """Calls the control API on one channel. Use as a context manager or call close()."""

    def __init__(self, target: Target, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.target = target
        self.timeout = timeout
        if target.tls:
            creds = grpc.ssl_channel_credentials(root_certificates=target.ca_cert)
            options = ([("grpc.ssl_target_name_override", target.server_name)]
                       if target.server_name else [])
            self._channel = grpc.secure_channel(target.address, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(target.address)
        self.stub = pb_grpc.ControlServiceStub(self._channel)
        self._metadata = ((HEADER, f"Bearer {target.token}"),) if target.token else ()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _error(self, exc: grpc.RpcError) -> ClientError:
        err = from_rpc_error(exc, self.target.address)
        if err.exit_code == ExitCode.AUTH:
            return ClientError(f"{err.message} (token from: {self.target.token_source}; pass "
                               "--token, set CIRAHUB_TOKEN or point --data-dir at the "
                               "server's data folder)", err.exit_code, err.code, err.status)
        return err

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        """Calls a unary method by name (``"CreateHub"``)."""
        try:
            return getattr(self.stub, method)(request, timeout=timeout or self.timeout,
                                              metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(exc) from None

    def stream(self, method: str, request: Any) -> Iterator[Any]:
        """Iterates a server-streaming method by name (``"SyncNow"``); no deadline."""
        try:
            yield from getattr(self.stub, method)(request, metadata=self._metadata)
        except grpc.RpcError as exc:
            raise self._error(exc) from None
