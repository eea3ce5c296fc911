"""A small HTTP client for spoke connectors: one pooled ``requests`` session, bounded retries
with back-off, and the mapping of HTTP failures onto the project's connector errors.

Guarantees:

- Connection failures, timeouts, resets and 5xx/429/423 answers are retried at most ``attempts``
  times with exponential back-off; a ``Retry-After`` the server sends is honoured when it is at
  most ``max_back_off`` seconds, otherwise the call gives up at once and the
  :class:`TransientError` carries the server's wish in ``back_off``, so the scheduler (not this
  thread) does the waiting.
- Redirects are followed (at most :data:`MAX_REDIRECTS`) with the same method and body — a
  PROPFIND stays a PROPFIND — but only within the same origin, so credentials never travel
  to another server (a cross-origin redirect raises :class:`ConfigError`).
- 401 → :class:`AuthError`. Every other status is returned to the caller, which knows what a
  404 or 412 means for its request.
- Every answer body is streamed and capped (``max_response_bytes``, default
  :func:`~cirahub.connectors.bounded.max_response_bytes`): past the cap the call raises
  :class:`ResponseTooLarge` naming the redacted URL and the limit, never retried.
- No ``requests`` exception escapes; messages never contain credentials, and URLs in error
  fields are redacted (no userinfo, a query shown as ``?…``).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from cirahub.connectors.bounded import ChallengeCappedAdapter, read_response, redact_url
from cirahub.core.errors import AuthError, ConfigError, TransientError

#: statuses worth retrying: the server is busy or broken for a moment (423: Xandikos answers
#: Locked while another write to the same collection holds its git repository)
RETRY_STATUSES = frozenset({423, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries. ``attempts`` counts the first try."""

    attempts: int = 3
    base_delay: float = 0.2
    max_back_off: float = 5.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class HttpClient:
    """A pooled, retrying HTTP client bound to one set of credentials.

    Thread-safe for concurrent ``request`` calls (one pool with ``max_parallel`` connections).
    """

    def __init__(
        self,
        *,
        username: str | None,
        password: str | None,
        verify_tls: bool = True,
        timeout: float = 30.0,
        max_parallel: int = 4,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_response_bytes: int | None = None,
    ) -> None:
        self.session = requests.Session()
        if username is not None:
            self.session.auth = (username, password or "")
        self.session.verify = verify_tls
        self.session.headers["User-Agent"] = "cirahub"
        # a 401 challenge may be read by an auth handler before we see the answer: capped too
        adapter = ChallengeCappedAdapter(pool_connections=2, pool_maxsize=max(2, max_parallel))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self.max_response_bytes = max_response_bytes
        #: requests actually sent (including retries); tests and benchmarks read it
        self.request_count = 0
        self._count_lock = threading.Lock()

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        what: str = "request",
    ) -> requests.Response:
        """Send one request, following same-origin redirects and retrying transient failures
        (see the module docstring).

        Raises AuthError on 401, TransientError when retries are exhausted, ConfigError when
        the URL, a redirect or the TLS setup cannot work. Returns the response for every other
        status.
        """
        body = data.encode("utf-8") if isinstance(data, str) else data
        for _ in range(MAX_REDIRECTS + 1):
            response = self._with_retries(method, url, headers, body, what)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return response
            target = urljoin(url, location)
            if _origin(target) != _origin(url):
                raise ConfigError(
                    "the server redirects to another server; configure that URL instead",
                    url=redact_url(url),
                    location=redact_url(target),
                )
            if response.status_code == 303:
                method, body = "GET", None
            url = target
        raise ConfigError("too many redirects", url=redact_url(url))

    def _with_retries(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        what: str,
    ) -> requests.Response:
        last_error: str = ""
        back_off: float | None = None
        for attempt in range(self.retry.attempts):
            if attempt:
                self._sleep(self._delay(attempt, back_off))
            back_off = None
            try:
                with self._count_lock:
                    self.request_count += 1
                response = self.session.request(
                    method,
                    url,
                    headers=dict(headers or {}),
                    data=body,
                    timeout=self.timeout,
                    allow_redirects=False,
                    stream=True,
                )
                # read the body now (capped), so a reset mid-body is retried here
                read_response(response, self.max_response_bytes)
            except requests.exceptions.SSLError as exc:
                raise ConfigError(
                    "TLS handshake or certificate check failed", url=redact_url(url), error=type(exc).__name__
                ) from None
            except (
                requests.exceptions.InvalidURL,
                requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema,
            ) as exc:
                raise ConfigError("invalid URL", url=redact_url(url), error=type(exc).__name__) from None
            except requests.exceptions.RequestException as exc:
                last_error = type(exc).__name__
                continue
            if response.status_code == 401:
                raise AuthError(
                    "the server rejected the credentials", url=redact_url(url), status=401, what=what
                )
            if response.status_code in RETRY_STATUSES:
                back_off = parse_retry_after(response.headers.get("Retry-After"))
                last_error = f"HTTP {response.status_code}"
                if back_off is not None and back_off > self.retry.max_back_off:
                    break
                continue
            return response
        raise TransientError(
            f"{what} failed: {last_error}",
            back_off=back_off,
            url=redact_url(url),
            error=last_error,
            attempts=self.retry.attempts,
        )

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.retry.max_back_off)
        return min(self.retry.base_delay * (2 ** (attempt - 1)), self.retry.max_back_off)


def header(response: requests.Response, name: str) -> str | None:
    """A response header, or None when absent or empty."""
    value = response.headers.get(name)
    return value or None


def describe(response: requests.Response) -> dict[str, Any]:
    """Structured, secret-free facts about a response for error fields."""
    return {"status": response.status_code, "url": redact_url(response.url or "")}
