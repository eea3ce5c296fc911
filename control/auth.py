"""Bearer-token authentication of the control plane.

The server generates a random token on its first start into ``<data_dir>/control.token``
(mode 0600) and requires ``authorization: Bearer <token>`` on every call except gRPC health
checks. Tokens are compared in constant time (:func:`hmac.compare_digest`); a rejected call
learns nothing about the token, and the token is never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import grpc

# what clients read lives in a module of its own (on every command's path), the token file's
# checks in theirs; both re-exported here for the server, the demo and the tests
from cirahub.control.published import ADDRESS_FILE, HEADER, TOKEN_FILE, read_token
from cirahub.control.token_file import load_or_create_token, token_path

__all__ = ["ADDRESS_FILE", "HEADER", "OPEN_PREFIXES", "TOKEN_FILE", "TokenInterceptor",
           "load_or_create_token", "read_token", "token_matches", "token_path"]
#: methods callable without a token: load balancers and orchestrators probe health blind
OPEN_PREFIXES = ("/grpc.health.v1.Health/",)


def token_matches(metadata: Iterable[tuple[str, Any]] | None, token: str) -> bool:
    """Whether ``metadata`` carries ``authorization: Bearer <token>`` (constant-time)."""
    expected = f"Bearer {token}".encode()
    for key, value in metadata or ():
        if key.lower() == HEADER:
            given = value if isinstance(value, bytes) else str(value).encode()
            if hmac.compare_digest(given, expected):
                return True
    return False


def _deny(message: str, streaming: bool) -> Callable[..., Any]:
    async def unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - abort raises

    return stream if streaming else unary


class TokenInterceptor(grpc.aio.ServerInterceptor):
    """Rejects every call without the right bearer token with UNAUTHENTICATED (the asyncio
    server's interceptor; checking a header costs no thread)."""

    def __init__(self, token: str, open_prefixes: tuple[str, ...] = OPEN_PREFIXES) -> None:
        if not token:
            raise ValueError("the control token must not be empty")
        self._token = token
        self._open = open_prefixes

    def __repr__(self) -> str:
        return "TokenInterceptor(<token hidden>)"

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails],
                               Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = details.method or ""
        if method.startswith(self._open) or token_matches(details.invocation_metadata, self._token):
            return await continuation(details)
        handler = await continuation(details)
        if handler is None:
            return None  # an unknown method: UNIMPLEMENTED
        has_header = any(k.lower() == HEADER for k, _ in details.invocation_metadata or ())
        message = ("wrong control token" if has_header else
                   "missing control token (metadata 'authorization: Bearer <token>')")
        streaming = bool(handler.response_streaming)
        deny = _deny(message, streaming)
        if handler.request_streaming:
            # no method of ours streams requests; reflection does (it is token-protected too)
            if streaming:
                return grpc.stream_stream_rpc_method_handler(
                    deny, handler.request_deserializer, handler.response_serializer)
            return grpc.stream_unary_rpc_method_handler(
                deny, handler.request_deserializer, handler.response_serializer)
        if streaming:
            return grpc.unary_stream_rpc_method_handler(
                deny, handler.request_deserializer, handler.response_serializer)
        return grpc.unary_unary_rpc_method_handler(
            deny, handler.request_deserializer, handler.response_serializer)
