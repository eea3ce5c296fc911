"""The Graph emulator's REST operations (one function per documented call), on the store.

Every handler takes the owner (``users/x`` or ``groups/y``), the path rest, the query and the
JSON body, and returns (status, body, headers) or raises GraphError.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .store import Calendar, Event, GraphError, Store

Answer = tuple[int, Any, dict[str, str]]

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_COND = re.compile(r"singleValueExtendedProperties/Any\(ep: ep/id eq '((?:[^']|'')*)' and "
                   r"ep/value eq '((?:[^']|'')*)'\)|iCalUId eq '((?:[^']|'')*)'")
_EXPAND_ID = re.compile(r"id eq '((?:[^']|'')*)'")


def _unq(text: str) -> str:
    return text.replace("''", "'")


def parse_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """The ``$filter`` shapes Graph documents for our use: an extended property equal to a
    value, ``iCalUId eq``, joined by ``or``. Anything else is a 400, as Graph refuses it."""
    conds: list[tuple[str, str, str]] = []
    rest = text
    for m in _COND.finditer(text):
        if m.group(3) is not None:
            conds.append(("uid", "", _unq(m.group(3))))
        else:
            conds.append(("prop", _unq(m.group(1)).lower(), _unq(m.group(2))))
        rest = rest.replace(m.group(0), "", 1)
    if not conds or rest.replace(" or ", "").strip():
        raise GraphError(400, "ErrorInvalidUrlQueryFilter", f"unsupported $filter: {text[:80]}")

    def match(data: dict[str, Any]) -> bool:
        props = {p["id"].lower(): p.get("value") for p in data.get("singleValueExtendedProperties") or []}
        return any((kind == "uid" and data.get("iCalUId") == value) or
                   (kind == "prop" and props.get(pid) == value) for kind, pid, value in conds)

    return match


def expand_ids(query: dict[str, str]) -> set[str] | None:
    text = query.get("$expand")
    if not text:
        return None
    if not text.startswith("singleValueExtendedProperties"):
        raise GraphError(400, "ErrorInvalidRequest", f"unsupported $expand: {text[:80]}")
    return {_unq(m.group(1)).lower() for m in _EXPAND_ID.finditer(text)}


def rendered(store: Store, ev: Event, query: dict[str, str]) -> dict[str, Any]:
    ids = expand_ids(query)
    out = store.render(ev, expand_props=ids is not None)
    if ids is not None:
        out["singleValueExtendedProperties"] = [
            p for p in out["singleValueExtendedProperties"] if p["id"].lower() in ids]
    return out


def _etag_ok(headers: dict[str, str], change_key: str) -> bool:
    want = headers.get("if-match")
    if want is None or want == "*":
        return True
    return want.removeprefix("W/").strip('"') == change_key


def _when(query: dict[str, str], name: str) -> datetime:
    try:
        return datetime.fromisoformat(query[name].replace("Z", "+00:00"))
    except (KeyError, ValueError):
        raise GraphError(400, "ErrorInvalidParameter", f"{name} is required (ISO 8601)") from None


class Api:
    def __init__(self, store: Store, base: str) -> None:
        self.store = store
        self.base = base  # http://127.0.0.1:PORT/v1.0
        self.attendee_writes = 0
        self.created = 0

    # --- calendars -------------------------------------------------------------------------

    def list_calendars(self, owner: str) -> Answer:
        cals = [self.store.calendars[c] for c in self.store.owners.get(owner, [])]
        if owner not in self.store.owners:
            raise GraphError(404, "ErrorInvalidUser", f"the mailbox {owner!r} does not exist")
        return 200, {"value": [{"id": c.id, "name": c.name, "canEdit": c.can_edit} for c in cals]}, {}

    def get_calendar(self, cal: Calendar) -> Answer:
        return 200, {"id": cal.id, "name": cal.name, "canEdit": cal.can_edit}, {}

    # --- events ----------------------------------------------------------------------------

    def list_events(self, cal: Calendar, query: dict[str, str]) -> Answer:
        match = parse_filter(query["$filter"]) if query.get("$filter") else (lambda d: True)
        events = [e for e in self.store.events.values() if e.calendar == cal.id and match(e.data)]
        top = int(query.get("$top") or 10)
        return 200, {"value": [rendered(self.store, e, query) for e in events[:top]]}, {}

    def _count_attendees(self, body: dict[str, Any]) -> None:
        if body.get("attendees"):
            self.attendee_writes += 1  # Graph would send invitations now

    def create_event(self, cal: Calendar, body: dict[str, Any]) -> Answer:
        self._count_attendees(body)
        before = len(self.store.events)
        ev = self.store.create(cal, body)
        self.created += len(self.store.events) - before
        return 201, self.store.render(ev), {}

    def get_event(self, owner: str, event_id: str, query: dict[str, str]) -> Answer:
        ev, key = self._mine(owner, event_id)
        if key is not None:
            inst = next((i for i in self.store.instances(ev, EARLIEST, LATEST) if i["id"] == event_id), None)
            if inst is None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            return 200, inst, {}
        return 200, rendered(self.store, ev, query), {}

    def _mine(self, owner: str, event_id: str) -> tuple[Event, str | None]:
        ev, key = self.store.find(event_id)
        if ev.owner != owner:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return ev, key

    def patch_event(self, owner: str, event_id: str, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        ev, key = self._mine(owner, event_id)
        current = ev.change_key if key is None else f"{ev.change_key}.{ev.exception_keys.get(key, '0')}"
        if not _etag_ok(headers, current):
            raise GraphError(412, "ErrorIrresolvableConflict", "The change key passed in the request does not match the current change key for the item.")
        self._count_attendees(body)
        self.store.update(ev, key, body)
        if key is not None:
            return self.get_event(owner, event_id, {})
        return 200, self.store.render(ev), {}

    def delete_event(self, owner: str, event_id: str, headers: dict[str, str]) -> Answer:
        ev, key = self._mine(owner, event_id)
        if key is None and not _etag_ok(headers, ev.change_key):
            raise GraphError(412, "ErrorIrresolvableConflict", "The change key passed in the request does not match the current change key for the item.")
        self.store.delete(ev, key)
        return 204, None, {}

    def instances(self, owner: str, event_id: str, query: dict[str, str]) -> Answer:
        ev, key = self._mine(owner, event_id)
        if key is not None or not ev.is_series:
            raise GraphError(400, "ErrorInvalidRequest", "instances of a non-recurring event")
        items = self.store.instances(ev, _when(query, "startDateTime"), _when(query, "endDateTime"))
        top, skip = min(int(query.get("$top") or 10), 1000), int(query.get("$skip") or 0)
        out: dict[str, Any] = {"value": items[skip:skip + top]}
        if skip + top < len(items):
            out["@odata.nextLink"] = (f"{self.base}/{owner}/events/{event_id}/instances?startDateTime="
                                      f"{query['startDateTime']}&endDateTime={query['endDateTime']}"
                                      f"&$top={top}&$skip={skip + top}")
        return 200, out, {}
