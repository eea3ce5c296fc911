"""What the server's answer to a PUT or DELETE means: success, or the one error it raises.

A refusal of a component kind the collection does not hold, or of an item no text can store
there (:func:`.writing.unstorable`), is :class:`NotHeld` (a declared projection, not a
failure); 403 is :class:`AuthError`; anything else outside 2xx a :class:`ProtocolError`.
"""

from __future__ import annotations

import requests

from cirahub.connectors.caldav import dav, writing
from cirahub.core.errors import AuthError, NotHeld, ProtocolError
from cirahub.core.item import Item


def check_write(response: requests.Response, href: str, what: str,
                item: Item | None = None) -> None:
    """Return on a 2xx answer to the ``what`` (PUT, DELETE...) of ``href``; else raise."""
    if 200 <= response.status_code < 300:
        return
    kind = str(item.get("component") or "VEVENT") if item is not None else "VEVENT"
    if "supported-calendar-component" in dav.error_conditions(response.content) or (
            response.status_code in writing.REFUSED and kind not in writing.CALDAV_KINDS):
        raise NotHeld(f"the collection does not hold {kind} components (the server "
                      f"refused the {what}, HTTP {response.status_code})",
                      remote_id=href, status=response.status_code, kind=kind)
    why = writing.unstorable(item) if item is not None and writing.refused(response) \
        else None
    if why is not None:
        raise NotHeld(f"the collection does not hold {why} (the server refused the "
                      f"{what}, HTTP {response.status_code})",
                      remote_id=href, status=response.status_code, kind="VEVENT")
    if response.status_code == 403:
        raise AuthError(f"the server refused the {what}", remote_id=href, status=403)
    raise ProtocolError(
        f"the server rejected the {what}", remote_id=href, status=response.status_code
    )
