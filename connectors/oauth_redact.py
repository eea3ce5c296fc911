"""Keeping OAuth tokens, secrets and URL queries out of libraries' debug logs.

Importing this module installs :class:`RedactTokens` on each of :data:`LEAKY_LOGGERS` (once;
:mod:`cirahub.connectors.oauth` and :mod:`cirahub.connectors.bounded` import it, so every
sign-in path and every HTTP connector has it).
"""

from __future__ import annotations

import logging
import re

_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
_TOKEN_FIELD = re.compile(r"""(['"]?(?:access_token|refresh_token|id_token|client_secret|client_assertion)['"]?\s*[:=]\s*['"]?)[^'",&\s}]+""")
#: a request line's or URL's query (a feed's ``?token=…``), as urllib3 logs every request
_REQUEST_QUERY = re.compile(r'("[A-Z]+ [^\s?"]*)\?[^\s"]*')
_URL_QUERY = re.compile(r"(https?://[^\s?#\"'<>]*)\?[^\s#\"'<>]*")
#: loggers that print request headers, URLs or token dicts at DEBUG level
LEAKY_LOGGERS = ("exchangelib.util", "requests_oauthlib.oauth2_session", "requests_oauthlib.oauth2_auth",
                 "urllib3.connectionpool")


def redact(text: str) -> str:
    """``text`` with bearer tokens and token/secret fields replaced by ``<redacted>`` and
    URL queries (request lines, URLs) by ``?…``."""
    text = _TOKEN_FIELD.sub(r"\1<redacted>", _BEARER.sub(r"\1<redacted>", text))
    return _URL_QUERY.sub(r"\1?…", _REQUEST_QUERY.sub(r"\1?…", text))


class RedactTokens(logging.Filter):
    """Rewrites a record's message with :func:`redact` (libraries log request headers and
    token dicts at DEBUG level; a record is made on its own logger, so the filter is set on
    each of :data:`LEAKY_LOGGERS`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def _install_redaction() -> None:
    for name in LEAKY_LOGGERS:
        lg = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in lg.filters):
            lg.addFilter(RedactTokens())


_install_redaction()
