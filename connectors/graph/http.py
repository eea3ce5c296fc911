"""The HTTP side of a ``graph`` spoke: bearer tokens, Graph's headers, throttling, ``$batch``.

Guarantees:

- every request carries a bearer token from the spoke's :class:`~cirahub.connectors.oauth.
  TokenProvider` and ``Prefer: IdType="ImmutableId"``; a 401 drops the token and the request
  is sent once more with a fresh one (a second 401 is an AuthError);
- at most ``max_concurrency`` (≤ 4, Graph's limit) requests are in flight per mailbox in this
  process, whatever number of spokes share it;
- 429, 503 and 504 are retried after the server's ``Retry-After`` (else a short exponential
  wait) for at most ``max_retry_seconds`` in all; then a TransientError carrying the server's
  back-off, so the spoke actor waits at least that long;
- ``$batch`` sends at most 20 requests at once; a throttled sub-request is sent again on its
  own schedule; every other sub-answer is returned to its caller, in order;
- answers are streamed and bounded (:func:`~cirahub.connectors.bounded.max_response_bytes`,
  past it :class:`ResponseTooLarge`); errors name the request, never the token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from cirahub.connectors.bounded import CHUNK, read_bounded
from cirahub.connectors.oauth import AccessToken, TokenProvider
from cirahub.core.errors import (
    AuthError,
    ConnectorError,
    ConsentMissing,
    PreconditionFailed,
    ProtocolError,
    RemoteNotFound,
    TransientError,
)

log = logging.getLogger(__name__)

BATCH_LIMIT = 20
_RETRY_STATUS = frozenset({429, 503, 504})
_PREFER_IDS = 'IdType="ImmutableId"'

_slots_lock = threading.Lock()
_slots: dict[str, threading.BoundedSemaphore] = {}


def _slot(mailbox: str, limit: int) -> threading.BoundedSemaphore:
    with _slots_lock:
        sem = _slots.get(mailbox.lower())
        if sem is None:
            sem = _slots[mailbox.lower()] = threading.BoundedSemaphore(limit)
        return sem


@dataclass(frozen=True)
class Request:
    """One Graph request (also a ``$batch`` sub-request). ``url`` is relative to the
    endpoint (``/users/…``) or absolute (a next/delta link)."""

    method: str
    url: str
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def error_for(answer: Answer, what: str) -> ConnectorError:
    """The connector error for a failed answer."""
    err = answer.body.get("error") if isinstance(answer.body, Mapping) else None
    code = str((err or {}).get("code") or answer.status)
    message = str((err or {}).get("message") or "")[:300]
    if answer.status == 404:
        return RemoteNotFound(f"{what}: not found", error=code)
    if answer.status == 412 or code in ("ErrorIrresolvableConflict", "PreconditionFailed"):
        return PreconditionFailed(f"{what}: the item changed meanwhile", error=code)
    if answer.status == 403:
        return ConsentMissing(
            f"{what}: Microsoft Graph refused access ({code}). Grant the app the application "
            "permission Calendars.ReadWrite with admin consent (or scope it to the mailbox "
            "with an application access policy / RBAC for Applications).", error=code,
            advice="grant Calendars.ReadWrite with admin consent")
    if answer.status == 401:
        return AuthError(f"{what}: Microsoft Graph refused the access token ({code})", error=code)
    if answer.status in _RETRY_STATUS or answer.status >= 500:
        return TransientError(f"{what}: Microsoft Graph is busy ({answer.status} {code})",
                              back_off=retry_after(answer), error=code)
    return ProtocolError(f"{what}: Microsoft Graph answered {answer.status} {code}: {message}",
                         error=code, status=answer.status)


def retry_after(answer: Answer) -> float | None:
    value = {k.lower(): v for k, v in answer.headers.items()}.get("retry-after")
    try:
        return max(0.0, min(float(value), 600.0)) if value is not None else None
    except ValueError:
        return None


class GraphHttp:
    """HTTP client of one spoke. ``mailbox`` keys the concurrency limit."""

    def __init__(self, base_url: str, tokens: TokenProvider, mailbox: str, *,
                 max_concurrency: int = 4, max_retry_seconds: float = 60.0, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep,
                 max_response_bytes: int | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.slot = _slot(mailbox, max(1, min(4, max_concurrency)))
        self.max_retry_seconds = max_retry_seconds
        self.sleep = sleep
        self.client = httpx.Client(timeout=timeout, follow_redirects=False)
        self.requests = 0
        self.max_response_bytes = max_response_bytes

    def close(self) -> None:
        self.client.close()

    def _url(self, url: str) -> str:
        return url if url.startswith(("http://", "https://")) else self.base_url + url

    def _send_once(self, req: Request, token: AccessToken) -> Answer:
        headers = {"Authorization": f"Bearer {token.value}", "Accept": "application/json",
                   **req.headers, "Prefer": _prefer(req.headers)}
        try:
            with self.slot:
                self.requests += 1
                with self.client.stream(
                        req.method, self._url(req.url), headers=headers,
                        json=dict(req.body) if req.body is not None else None) as resp:
                    data = read_bounded(resp.iter_bytes(CHUNK), self._url(req.url),
                                        self.max_response_bytes)
        except httpx.HTTPError as exc:
            raise TransientError(f"{req.method} {_path(req.url)}: connection failed "
                                 f"({type(exc).__name__})", error=type(exc).__name__) from None
        try:
            body = json.loads(data) if data else None
        except ValueError:
            body = None
        return Answer(resp.status_code, body, dict(resp.headers))

    def send(self, req: Request) -> Answer:
        """One request, with token refresh and throttling retries (see the module docstring).
        Returns any answer that is not a 401/429/503/504; raises for those when exhausted."""
        started, attempt, refreshed = time.monotonic(), 0, False
        while True:
            token = self.tokens.token()
            answer = self._send_once_retrying_connection(req, token, started)
            if answer.status == 401 and not refreshed:
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if answer.status == 401:
                raise error_for(answer, f"{req.method} {_path(req.url)}")
            if answer.status not in _RETRY_STATUS:
                return answer
            attempt += 1
            wait = retry_after(answer)
            wait = wait if wait is not None else min(0.05 * 2 ** attempt, 5.0)
            if time.monotonic() - started + wait > self.max_retry_seconds:
                raise error_for(answer, f"{req.method} {_path(req.url)} (after {attempt} tries)")
            log.info("Graph %s %s: %s, retrying in %.2fs", req.method, _path(req.url),
                     answer.status, wait)
            self.sleep(wait)

    def _send_once_retrying_connection(self, req: Request, token: AccessToken,
                                       started: float) -> Answer:
        attempt = 0
        while True:
            try:
                return self._send_once(req, token)
            except TransientError:
                attempt += 1
                wait = min(0.05 * 2 ** attempt, 2.0)
                if time.monotonic() - started + wait > self.max_retry_seconds:
                    raise
                self.sleep(wait)

    def call(self, req: Request, what: str) -> Any:
        """The JSON body of a successful answer; the mapped error otherwise."""
        answer = self.send(req)
        if not answer.ok:
            raise error_for(answer, what)
        return answer.body

    def batch(self, reqs: Sequence[Request]) -> list[Answer]:
        """Answers to ``reqs`` in order, through ``$batch`` (≤ 20 per request). Throttled
        sub-requests are retried; other failures are returned as answers."""
        out: dict[int, Answer] = {}
        pending = list(range(len(reqs)))
        started, attempt = time.monotonic(), 0
        while pending:
            throttled: list[int] = []
            waits: list[float] = []
            for chunk in _chunks(pending, BATCH_LIMIT):
                for n, answer in zip(chunk, self._batch_once([reqs[n] for n in chunk]), strict=True):
                    if answer.status in _RETRY_STATUS:
                        throttled.append(n)
                        waits.append(retry_after(answer) or 0.0)
                    out[n] = answer
            pending = throttled
            if pending:
                attempt += 1
                wait = max(waits) if any(waits) else min(0.05 * 2 ** attempt, 5.0)
                if time.monotonic() - started + wait > self.max_retry_seconds:
                    break  # the throttled answers stay: callers turn them into TransientError
                self.sleep(wait)
        return [out[n] for n in range(len(reqs))]

    def _batch_once(self, reqs: Sequence[Request]) -> list[Answer]:
        body = {"requests": [
            {"id": str(n), "method": r.method, "url": r.url,
             "headers": {**({"Content-Type": "application/json"} if r.body is not None else {}),
                         **r.headers, "Prefer": _prefer(r.headers)},
             **({"body": dict(r.body)} if r.body is not None else {})}
            for n, r in enumerate(reqs)]}
        data = self.call(Request("POST", "/$batch", body), "$batch")
        answers = {str(a.get("id")): a for a in (data or {}).get("responses") or []}
        out = []
        for n in range(len(reqs)):
            a = answers.get(str(n))
            if a is None:
                raise ProtocolError(f"$batch answer lacks the response to request {n}")
            out.append(Answer(int(a.get("status") or 0), a.get("body"), a.get("headers") or {}))
        return out


def _prefer(headers: Mapping[str, str]) -> str:
    """Our ``Prefer`` values plus the request's own (Graph takes them comma-separated)."""
    extra = [v for k, v in headers.items() if k.lower() == "prefer"]
    return ", ".join([_PREFER_IDS, *extra])


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _path(url: str) -> str:
    """A URL for messages: path only (query strings may hold tokens of delta links)."""
    return url.split("?", 1)[0][-120:]
