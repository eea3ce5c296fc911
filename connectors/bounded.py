"""Bounded reading of HTTP answers, shared by every connector that speaks HTTP.

Guarantees:

- no answer body is held in memory beyond :func:`max_response_bytes` (default 50 MB, set by
  ``$CIRAHUB_MAX_RESPONSE_BYTES``) plus one chunk (:data:`CHUNK`): bodies are streamed and
  reading stops as soon as the cap is passed, raising :class:`ResponseTooLarge` naming the
  redacted URL and the limit;
- sign-in answers (token endpoints, 401 challenges) are capped at :func:`small_cap` (1 MB);
  a 401 is capped *lazily* (:func:`bound_later`), as NTLM needs its connection unread;
- :func:`redact_url` drops userinfo and replaces a query string by ``?…``, so a feed's
  ``?token=…`` or a ``user:pw@`` never reaches a message, a run record or a log.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.adapters

# urllib3 logs every request line with its query (a feed's token) at DEBUG: redacted there
import cirahub.connectors.oauth_redact  # noqa: F401
from cirahub.core.errors import InvalidInput, ResponseTooLarge

DEFAULT_MAX_RESPONSE_BYTES = 50 * 1024 * 1024
#: bytes read from the socket at a time; the cap is overshot by at most this much
CHUNK = 64 * 1024
_ENV = "CIRAHUB_MAX_RESPONSE_BYTES"


def max_response_bytes() -> int:
    """The cap per answer: ``$CIRAHUB_MAX_RESPONSE_BYTES`` (a positive integer) or 50 MB."""
    raw = os.environ.get(_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_RESPONSE_BYTES
    if not raw.isdigit() or int(raw) <= 0:
        raise InvalidInput(f"${_ENV} must be a positive number of bytes", key=_ENV)
    return int(raw)


def redact_url(url: str) -> str:
    """``url`` without userinfo, its query shown as ``?…`` (a feed's query may be a token)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class ReadMeter:
    """Counts bytes read from the network by bounded reads (tests and benchmarks read it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.last = 0

    def add(self, n: int) -> None:
        with self._lock:
            self.total += n

    def finish(self, n: int) -> None:
        with self._lock:
            self.last = n


#: process-wide meter of every bounded read
METER = ReadMeter()


def read_bounded(chunks: Iterable[bytes], url: str, limit: int | None = None) -> bytes:
    """The joined ``chunks``, or ResponseTooLarge once more than ``limit`` bytes arrived."""
    cap = max_response_bytes() if limit is None else limit
    parts: list[bytes] = []
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            METER.add(len(chunk))
            if size > cap:
                raise ResponseTooLarge(
                    f"the answer from {redact_url(url)} is larger than the limit of {cap} bytes "
                    f"(${_ENV})", url=redact_url(url), limit=cap, bytes_read=size)
            parts.append(chunk)
    finally:
        METER.finish(size)
    return b"".join(parts)


def read_response(response: requests.Response, limit: int | None = None) -> bytes:
    """Read a streamed ``requests`` answer into ``response._content`` within the cap; the
    connection is closed (not reused) when the cap is passed."""
    try:
        body = read_bounded(response.iter_content(CHUNK), response.url or "", limit)
    except ResponseTooLarge:
        response.close()
        raise
    response._content = body  # the documented way requests caches a body it read
    response._content_consumed = True  # type: ignore[attr-defined]
    return body


#: sign-in answers (token endpoints, 401 challenges) are small; more is refused
SMALL_ANSWER_BYTES = 1024 * 1024


def small_cap() -> int:
    """The cap for sign-in answers: 1 MB, or the general cap when that is lower."""
    return min(SMALL_ANSWER_BYTES, max_response_bytes())


def bound_later(response: requests.Response, limit: int | None = None) -> requests.Response:
    """Cap whoever reads ``response`` later, reading nothing now: an auth handler (NTLM,
    digest) reads a 401 challenge itself after looking at the connection, which must be
    left as it is (NTLM's channel binding reads the server certificate from its socket).
    A declared ``Content-Length`` over the cap is refused at once; a longer body raises
    ResponseTooLarge from ``iter_content`` (and so from ``content``) once the cap is passed."""
    cap = small_cap() if limit is None else limit
    url = response.url or ""
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > cap:
        response.close()
        raise ResponseTooLarge(
            f"the answer from {redact_url(url)} is larger than the limit of {cap} bytes",
            url=redact_url(url), limit=cap, bytes_read=0)
    original = response.iter_content

    def iter_content(chunk_size: int | None = 1, decode_unicode: bool = False) -> Any:
        try:
            yield from read_bounded_iter(original(chunk_size, decode_unicode), url, cap)
        except ResponseTooLarge:
            response.close()
            raise

    response.iter_content = iter_content  # type: ignore[method-assign]
    return response


def read_bounded_iter(chunks: Iterable[Any], url: str, cap: int) -> Iterator[Any]:
    """``chunks`` passed through, ResponseTooLarge once more than ``cap`` bytes arrived."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        METER.add(len(chunk))
        if size > cap:
            raise ResponseTooLarge(
                f"the answer from {redact_url(url)} is larger than the limit of {cap} bytes "
                f"(${_ENV})", url=redact_url(url), limit=cap, bytes_read=size)
        yield chunk


class BoundedAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose answers are read within the cap before anyone sees them
    (for clients that read ``response.content`` themselves, e.g. exchangelib); a 401
    challenge is left unread for the auth handler, capped for when it reads it."""

    def build_response(self, req: Any, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        if response.status_code == 401:
            return bound_later(response)
        read_response(response)
        return response


class ChallengeCappedAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter for clients that read (and cap) answers themselves after the
    request: only 401 challenges, read by auth handlers before that, are capped here."""

    def build_response(self, req: Any, resp: Any) -> requests.Response:
        response = super().build_response(req, resp)
        if response.status_code == 401:
            bound_later(response)
        return response


__all__ = [
    "CHUNK",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "METER",
    "BoundedAdapter",
    "ChallengeCappedAdapter",
    "bound_later",
    "max_response_bytes",
    "read_bounded",
    "read_response",
    "redact_url",
    "small_cap",
]
