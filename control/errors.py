"""Error translation at the control plane's two edges.

Server side: a :class:`~cirahub.core.errors.CirahubError` becomes a gRPC status code plus the
trailing metadata ``cirahub-error-code`` and ``cirahub-error-fields`` (JSON). Client side: a
gRPC status becomes a :class:`ClientError` with a one-line message and a process exit code.
Messages never contain secrets (errors are built without them, see core/errors.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import IntEnum
from typing import Any, cast

import grpc

from cirahub.core import errors as e

CODE_KEY = "cirahub-error-code"
FIELDS_KEY = "cirahub-error-fields"


class ExitCode(IntEnum):
    """``cirahubctl`` exit codes (documented in ``--help`` and docs/cli.md)."""

    OK = 0
    SYNC_FAILED = 1  # a sync run of at least one spoke did not succeed, or a hub did not converge
    BAD_INPUT = 2  # usage error or input the server rejected; nothing was changed
    NOT_FOUND = 3  # the named hub / spoke does not exist
    UNREACHABLE = 4  # no server answered at the address (or TLS mismatch)
    AUTH = 5  # the token was missing or wrong
    EXISTS = 6  # already exists / conflicting concurrent change
    PRECONDITION = 7  # the spoke cannot work as configured (halted, auth rejected, ...)
    INTERNAL = 8  # the server failed unexpectedly
    IN_USE = 9  # server: the listen address or the data folder is held by another process
    LIMIT = 10  # a message larger than the gRPC limit, or the server's open-stream limit


#: exit status after Ctrl-C (128 + SIGINT, as shells report it); not an ExitCode of ours
INTERRUPTED = 130

EXIT_CODE_HELP = "\n".join(
    f"  {int(code)}  {text}"
    for code, text in (
        (ExitCode.OK, "success"),
        (ExitCode.SYNC_FAILED, "sync: a spoke's run failed or was halted, or a hub did not "
                                "converge"),
        (ExitCode.BAD_INPUT, "usage error or bad input (nothing was changed)"),
        (ExitCode.NOT_FOUND, "hub or spoke not found"),
        (ExitCode.UNREACHABLE, "server unreachable (not running, wrong address, TLS mismatch)"),
        (ExitCode.AUTH, "authentication failed (missing or wrong token)"),
        (ExitCode.EXISTS, "already exists"),
        (ExitCode.PRECONDITION, "spoke cannot work as configured (halted, rejected credentials)"),
        (ExitCode.INTERNAL, "internal server error"),
        (ExitCode.IN_USE, "server: address in use, or another server runs on the data folder"),
        (ExitCode.LIMIT, "a size limit was reached (message too large, too many open streams)"),
        (INTERRUPTED, "interrupted (Ctrl-C): stopped waiting; the server's runs go on"),
    )
)

#: error class → gRPC status; the most specific class listed wins (checked in MRO order)
_STATUS: dict[type[e.CirahubError], grpc.StatusCode] = {
    e.InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    e.NotFound: grpc.StatusCode.NOT_FOUND,
    e.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    e.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    e.StoreError: grpc.StatusCode.UNAVAILABLE,
    e.WriterFenced: grpc.StatusCode.ABORTED,
    e.VersionConflict: grpc.StatusCode.ABORTED,
    e.MalformedItem: grpc.StatusCode.INVALID_ARGUMENT,
    e.ConnectorError: grpc.StatusCode.FAILED_PRECONDITION,
    e.TransientError: grpc.StatusCode.UNAVAILABLE,
    e.AuthError: grpc.StatusCode.FAILED_PRECONDITION,
    e.ConfigError: grpc.StatusCode.FAILED_PRECONDITION,
    e.SafetyHalt: grpc.StatusCode.FAILED_PRECONDITION,
    e.SpokeHalted: grpc.StatusCode.FAILED_PRECONDITION,
}


def status_for(error: e.CirahubError) -> grpc.StatusCode:
    """The gRPC status code for a cirahub error (INTERNAL for anything unmapped)."""
    for cls in type(error).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return grpc.StatusCode.INTERNAL


def trailing_metadata(error: e.CirahubError) -> tuple[tuple[str, str], ...]:
    """The structured error as trailing metadata (ASCII-safe JSON)."""
    fields = json.dumps({k: _plain(v) for k, v in error.fields.items()}, ensure_ascii=True)
    return ((CODE_KEY, error.code), (FIELDS_KEY, fields))


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


# --- client side ---------------------------------------------------------------------------

_EXIT: dict[grpc.StatusCode, ExitCode] = {
    grpc.StatusCode.INVALID_ARGUMENT: ExitCode.BAD_INPUT,
    grpc.StatusCode.OUT_OF_RANGE: ExitCode.BAD_INPUT,
    grpc.StatusCode.NOT_FOUND: ExitCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: ExitCode.EXISTS,
    grpc.StatusCode.ABORTED: ExitCode.EXISTS,
    grpc.StatusCode.UNAUTHENTICATED: ExitCode.AUTH,
    grpc.StatusCode.PERMISSION_DENIED: ExitCode.AUTH,
    grpc.StatusCode.FAILED_PRECONDITION: ExitCode.PRECONDITION,
    grpc.StatusCode.UNAVAILABLE: ExitCode.UNREACHABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: ExitCode.UNREACHABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ExitCode.LIMIT,
}


class ClientError(Exception):
    """A failed control-plane call, ready to show: ``message`` is one line, ``exit_code`` the
    process exit code, ``code`` the server's error code when it sent one."""

    def __init__(self, message: str, exit_code: ExitCode, code: str | None = None,
                 status: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return self.message


def from_rpc_error(error: grpc.RpcError, address: str) -> ClientError:
    """Translates a gRPC failure into a :class:`ClientError`.

    UNAVAILABLE without a cirahub error code means no cirahub server answered (nothing
    listening, wrong address, or a TLS / plaintext mismatch)."""
    status = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (error.details() if isinstance(error, grpc.Call) else None) or str(error)
    meta: dict[str, str | bytes] = {}
    if isinstance(error, grpc.Call):
        # at run time the entries are plain (key, value) tuples, whatever the stubs say
        pairs = cast("Iterable[tuple[str, str | bytes]]", error.trailing_metadata() or ())
        meta = dict(pairs)
    code = meta.get(CODE_KEY)
    if isinstance(code, bytes):
        code = code.decode("ascii", "replace")
    name = status.name if status is not None else "UNKNOWN"
    if code is None and status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return ClientError(_unreachable(address, details), ExitCode.UNREACHABLE, None, name)
    if status == grpc.StatusCode.UNAUTHENTICATED:
        return ClientError(f"authentication failed: {details}", ExitCode.AUTH, code, name)
    if status == grpc.StatusCode.RESOURCE_EXHAUSTED and code is None:
        return ClientError(_too_large(details), ExitCode.LIMIT, None, name)
    exit_code = _EXIT.get(status, ExitCode.INTERNAL) if status is not None else ExitCode.INTERNAL
    if status == grpc.StatusCode.UNAVAILABLE:
        exit_code = ExitCode.PRECONDITION  # a spoke's server is down, not ours
    return ClientError(details, exit_code, code, name)


def _too_large(details: str) -> str:
    """gRPC's own size errors ("Received message larger than max (5000000 vs. 4194304)",
    metadata over its limit) as one line saying what to do."""
    lowered = details.lower()
    if "sent message" in lowered or "received message" in lowered or "larger than" in lowered:
        where = "the request" if "sent" in lowered else "a message"
        return (f"{where} is larger than the gRPC message limit ({details.strip()}): send a "
                "smaller value, or list fewer entries (--limit)")
    if "metadata" in lowered or "header" in lowered:
        return f"the answer's headers exceed the gRPC limit ({details.strip()[:200]})"
    return f"a size limit was reached: {details.strip()[:200]}"


def _unreachable(address: str, details: str) -> str:
    hint = "is `cirahubctl server` running there?"
    lowered = details.lower()
    if any(word in lowered for word in ("ssl", "tls", "handshake", "socket closed", "eof")):
        hint = ("the server closed the connection: if it uses TLS pass --ca-cert "
                "(or CIRAHUB_CA_CERT); if it does not, drop --ca-cert")
    return f"cannot reach the cirahub server at {address}: {hint}"
