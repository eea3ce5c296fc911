"""One CalDAV resource: the name a new item gets, and the item a fetched resource holds."""

from __future__ import annotations

import hashlib
import re

from cirahub.core import ical
from cirahub.core.errors import MalformedItem
from cirahub.core.model import RemoteItem

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_@-][A-Za-z0-9_.@-]{0,150}$")
#: a marker Radicale's parser (vobject) adds to every floating date-time it writes back: its
#: own bookkeeping, not the item's (the text we wrote did not have it)
_VOBJECT_MARK = re.compile(r";X-VOBJ-FLOATINGTIME-ALLOWED=TRUE(?=[;:])", re.I)


def resource_name(uid: str) -> str:
    """File name for a new item: the UID when it is a safe path segment, else its SHA-1 (an
    injective, stable mapping, so a retried create lands on the same href)."""
    if _SAFE_NAME.match(uid):
        return uid + ".ics"
    return hashlib.sha1(uid.encode("utf-8")).hexdigest() + ".ics"


def stored_text(text: str) -> str:
    """A resource's text without a server's own markers (what :func:`remote_item` reads)."""
    return _VOBJECT_MARK.sub("", text)


def remote_item(href: str, version: str, text: str) -> RemoteItem:
    """The parsed item (an event series, or a task, journal entry, free/busy... carried
    verbatim), or one with an error (quarantined). A server's own markers are left out."""
    text = stored_text(text)
    try:
        # a resource without UID gets one derived from its href (stable across polls)
        item = ical.parse_item(text, fallback_uid=ical.derived_uid(f"caldav:{href}"))
        return RemoteItem(href, version, item)
    except MalformedItem as exc:
        return RemoteItem(href, version, None, error=exc.message, raw=text)
