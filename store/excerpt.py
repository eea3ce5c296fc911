"""What a quarantine row keeps of a remote item: a bounded, redacted excerpt, never the body.

A quarantined item is by definition something we could not read, and a connector may have
been pointed at anything (a link to ``secret.key``, ``/proc/self/environ``, a server's error
page). So the store keeps, whatever the spoke kind:

- nothing of a body that does not look like iCalendar, XML or JSON (calendar data): only its
  size, in the detail;
- of calendar data, at most :data:`MAX_LINES` lines and :data:`MAX_CHARS` characters, with
  every token-like value (a run of :data:`TOKEN_MIN` or more base64/hex characters, as keys,
  passwords, tokens and attachments are), URL query and ``user:pw@`` replaced by ``…``;
- a detail of at most :data:`MAX_DETAIL` characters, redacted the same way.
"""

from __future__ import annotations

import re

MAX_LINES = 40
MAX_CHARS = 4000
MAX_DETAIL = 2000
TOKEN_MIN = 24
#: the start of what counts as calendar data (after leading white space)
_CALENDAR_STARTS = ("BEGIN:", "<", "{", "[")

_TOKEN = re.compile(rf"[A-Za-z0-9+/=_-]{{{TOKEN_MIN},}}")
_QUERY = re.compile(r"(https?://[^\s?#\"'<>]*)\?[^\s#\"'<>]*", re.IGNORECASE)
_USERINFO = re.compile(r"(https?://)[^/\s@\"'<>]*@", re.IGNORECASE)
REDACTED = "…"


def _token(match: re.Match[str]) -> str:
    text = match.group(0)
    # words and names are kept (UIDs, long property names); keys and tokens mix in digits
    if any(c.isdigit() for c in text) and any(c.isalpha() for c in text):
        return REDACTED
    return text


def redact(text: str) -> str:
    """``text`` with token-like runs, URL queries and URL userinfo replaced by ``…``."""
    text = _USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)
    text = _QUERY.sub(lambda m: m.group(1) + "?" + REDACTED, text)
    return _TOKEN.sub(_token, text)


def excerpt(raw: str | None) -> str | None:
    """The part of ``raw`` a quarantine row may keep (see the module docstring); None when
    nothing may be kept."""
    if not raw:
        return None
    head = raw[: MAX_CHARS * 2].lstrip("\ufeff \t\r\n")
    if not head.upper().startswith(_CALENDAR_STARTS) or "\x00" in head:
        return None
    kept = "\n".join(head.splitlines()[:MAX_LINES])[:MAX_CHARS]
    out = redact(kept)
    if len(kept) < len(raw.strip()) - 1:
        out += f"\n{REDACTED} ({len(raw)} characters in all)"
    return out


def detail(text: str, raw: str | None = None) -> str:
    """A quarantine detail within :data:`MAX_DETAIL` characters, redacted; when ``raw`` is
    kept by no excerpt, its size is said."""
    out = redact(text)
    if raw and excerpt(raw) is None:
        out += f" (content not kept: {len(raw)} characters, not calendar data)"
    return out[:MAX_DETAIL]


__all__ = ["MAX_CHARS", "MAX_DETAIL", "MAX_LINES", "detail", "excerpt", "redact"]
