"""Batched, conditional, crash-safe writes of a ``graph`` spoke.

- creates: one ``$batch`` of lookups finds events already stamped with the hub item id (a
  create whose answer was lost is found and brought to the wanted content, never
  duplicated) or holding the item's UID (RemoteAlreadyExists); then one ``$batch`` of POSTs,
  each with a ``transactionId`` (a POST sent again after a dropped answer returns the event
  the first one made);
- updates: the current changeKey is checked (stale → PreconditionFailed, unless the event
  already holds the wanted content: the goal is reached), then PATCH with ``If-Match``;
- deletes: DELETE with ``If-Match``; an event already gone is success;
- series: EXDATEs become deleted occurrences and overrides patched occurrences, found through
  the series' instances; a removed EXDATE cannot be undone through Graph and stays;
- never an attendee: :func:`~.mapping.write_body` has no ``attendees`` (Graph would invite).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cirahub.connectors.base import Write, WriteOutcome, WriteResult
from cirahub.core.errors import (
    CirahubError,
    MalformedItem,
    PreconditionFailed,
    RemoteAlreadyExists,
)
from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item

from . import mapping
from .connector import change_key, generated_occurrence, instance_key, version_of
from .http import Answer, Request, error_for
from .recurrence import from_rrule

if TYPE_CHECKING:
    from .connector import GraphConnector


def _odata(value: str) -> str:
    return value.replace("'", "''")


def _if_match(event: Mapping[str, Any]) -> dict[str, str]:
    return {"If-Match": f'W/"{event.get("changeKey", "")}"'}


class Writer:
    """One ``write_many`` call."""

    def __init__(self, conn: GraphConnector) -> None:
        self.conn = conn
        self.http = conn.http

    def run(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        out: dict[int, WriteOutcome] = {}
        for op, phase in (("create", self._creates), ("update", self._updates),
                          ("delete", self._deletes)):
            group = [(n, w) for n, w in enumerate(writes) if w.op == op]
            if not group:
                continue
            try:
                out.update(phase(group))
            except CirahubError as exc:
                out.update({n: exc for n, _ in group if n not in out})
        for n, w in enumerate(writes):
            if n not in out:
                out[n] = ValueError(f"unknown write op {w.op!r}")  # type: ignore[assignment]
        return [out[n] for n in range(len(writes))]

    # --- bodies ----------------------------------------------------------------------------

    def body(self, item: Item, hub_item_id: str) -> dict[str, Any]:
        """The full event body for ``item`` (MalformedItem when Graph cannot express it)."""
        fields = item.fields
        body = mapping.write_body(fields)
        if fields.get("rrule"):
            zone = body["start"]["timeZone"]
            body["recurrence"] = from_rrule(fields["rrule"], fields["start"], item.uid, zone)
        else:
            body["recurrence"] = None
        keys = [*fields.get("exdates", ()), *item.overrides]
        body["singleValueExtendedProperties"] = mapping.stamp_properties(
            hub_item_id, item.uid, list(fields.get("alarms") or []), max(keys, default=""))
        return body

    def same(self, current: Mapping[str, Any], item: Item) -> bool:
        try:
            got = self.conn.to_item(current)
        except MalformedItem:
            return False
        ignore = self.conn.ignore
        return got.uid == item.uid and fingerprint(got, ignore) == fingerprint(item, ignore)

    # --- creates ---------------------------------------------------------------------------

    def _lookup(self, w: Write) -> Request:
        assert w.item is not None
        uid = _odata(w.item.uid)
        flt = (f"singleValueExtendedProperties/Any(ep: ep/id eq '{mapping.HUB_ID}' and ep/value eq "
               f"'{_odata(w.hub_item_id)}') or singleValueExtendedProperties/Any(ep: ep/id eq "
               f"'{mapping.HUB_UID}' and ep/value eq '{uid}') or iCalUId eq '{uid}'")
        return Request("GET", f"{self.conn.calendar_path}/events?$filter={quote(flt, safe='')}"
                              f"&$expand={quote(mapping.EXPAND, safe='')}&$top=10")

    def _creates(self, group: list[tuple[int, Write]]) -> dict[int, WriteOutcome]:
        out: dict[int, WriteOutcome] = {}
        bodies: dict[int, dict[str, Any]] = {}
        for n, w in group:
            assert w.item is not None
            try:
                bodies[n] = self.body(w.item, w.hub_item_id)
            except CirahubError as exc:
                out[n] = exc
        valid = [(n, w) for n, w in group if n in bodies]
        found: dict[int, dict[str, Any]] = {}
        for (n, w), answer in zip(valid, self.http.batch([self._lookup(w) for _, w in valid]), strict=True):
            if not answer.ok:
                out[n] = error_for(answer, "look up the hub id")
                continue
            events = list((answer.body or {}).get("value") or [])
            uid = w.item.uid if w.item else ""
            # ours: stamped with this hub item *and* holding its UID (a lost answer)
            mine = [e for e in events if mapping.stamps_of(e).get(mapping.HUB_ID) == w.hub_item_id
                    and mapping.stamps_of(e).get(mapping.HUB_UID) == uid]
            events = [e for e in events if mapping.stamps_of(e).get(mapping.HUB_UID, e.get("iCalUId")) == uid]
            if mine:
                found[n] = mine[0]
            elif events:
                out[n] = RemoteAlreadyExists("an event with this UID exists", uid=uid)
        todo = [(n, w) for n, w in valid if n not in out and n not in found]
        posts = [Request("POST", f"{self.conn.calendar_path}/events",
                         {**bodies[n], "transactionId": str(uuid.uuid4())}) for n, _ in todo]
        made: list[tuple[int, Write, dict[str, Any]]] = []
        for (n, w), answer in zip(todo, self.http.batch(posts), strict=True):
            if answer.ok and isinstance(answer.body, Mapping):
                made.append((n, w, dict(answer.body)))
            else:
                out[n] = error_for(answer, "create event")
        for n, w, event in made:
            out[n] = self._settle(w, event, fresh=True)
        if found:
            out.update(self._apply([(n, w, e) for (n, w), e in
                                    ((p, found[p[0]]) for p in valid if p[0] in found)]))
        return out

    # --- updates ---------------------------------------------------------------------------

    def _updates(self, group: list[tuple[int, Write]]) -> dict[int, WriteOutcome]:
        out: dict[int, WriteOutcome] = {}
        events = self.conn.read_events([w.remote_id or "" for _, w in group])
        todo: list[tuple[int, Write, dict[str, Any]]] = []
        for n, w in group:
            assert w.item is not None and w.remote_id is not None
            current = events[w.remote_id]
            if current is None:
                out[n] = error_for(Answer(404, None), "update event")
            elif version_of(current) != w.expected_version:
                if self.same(current, w.item):
                    out[n] = WriteResult(w.remote_id, version_of(current))
                else:
                    out[n] = PreconditionFailed("the event changed since it was read",
                                                remote_id=w.remote_id)
            else:
                todo.append((n, w, current))
        out.update(self._apply(todo))
        return out

    def _apply(self, todo: list[tuple[int, Write, dict[str, Any]]]) -> dict[int, WriteOutcome]:
        """PATCH each event (at its current changeKey) to its item, then settle."""
        out: dict[int, WriteOutcome] = {}
        patches: list[tuple[int, Write, dict[str, Any]]] = []
        for n, w, current in todo:
            assert w.item is not None
            if self.same(current, w.item):
                out[n] = WriteResult(str(current["id"]), version_of(current))
                continue
            try:
                patches.append((n, w, self.body(w.item, w.hub_item_id)))
            except CirahubError as exc:
                out[n] = exc
        currents = {n: c for n, _, c in todo}
        reqs = [Request("PATCH", self.conn.event_path(str(currents[n]["id"])), body,
                        _if_match(currents[n])) for n, _, body in patches]
        for (n, w, _), answer in zip(patches, self.http.batch(reqs), strict=True):
            if answer.ok and isinstance(answer.body, Mapping):
                out[n] = self._settle(w, dict(answer.body), fresh=False)
            else:
                out[n] = error_for(answer, "update event")
        return out

    # --- series ----------------------------------------------------------------------------

    def _settle(self, w: Write, event: dict[str, Any], *, fresh: bool) -> WriteOutcome:
        """Bring a written series' occurrences in line; the final id and version."""
        assert w.item is not None
        rid = str(event["id"])
        if not w.item.get("rrule"):
            return WriteResult(rid, version_of(event))
        try:
            self._occurrences(rid, w.item)
            [after] = self.conn.read_events([rid]).values()
        except CirahubError as exc:
            return exc
        if after is None:
            return error_for(Answer(404, None), "read the written series")
        return WriteResult(rid, version_of(after))

    def _occurrences(self, master_id: str, item: Item) -> None:
        fields = item.fields
        exdates = set(fields.get("exdates") or ())
        wanted = {k: dict(v) for k, v in item.overrides.items()}
        until = max([*exdates, *wanted, self.conn.horizon(fields, {})])
        all_day = "date" in fields["start"]
        zone = mapping.write_time(fields["start"])["timeZone"]
        stamps = {mapping.HUB_ALARMS: json.dumps(sorted(fields.get("alarms") or []))}
        reqs: list[Request] = []
        for inst in self.conn.instances(master_id, until):
            if not inst.get("originalStart"):
                continue
            key = instance_key(str(inst["originalStart"]), all_day, zone)
            path = self.conn.event_path(str(inst["id"]))
            if key in exdates:
                reqs.append(Request("DELETE", path))
                continue
            target = wanted.get(key)
            if target is None and inst.get("type") != "exception":
                continue
            goal = target if target is not None else generated_occurrence(fields, key)
            got = {k: v for k, v in mapping.read_fields(inst, stamps).items() if k != "last_modified"}
            if fingerprint(Item(item.uid, got), self.conn.ignore) != fingerprint(
                    Item(item.uid, goal), self.conn.ignore):
                reqs.append(Request("PATCH", path, mapping.write_body(goal)))
        for answer in self.http.batch(reqs):
            if not answer.ok and answer.status != 404:
                raise error_for(answer, "write an occurrence")

    # --- deletes ---------------------------------------------------------------------------

    def _deletes(self, group: list[tuple[int, Write]]) -> dict[int, WriteOutcome]:
        out: dict[int, WriteOutcome] = {}
        reqs = [Request("DELETE", self.conn.event_path(w.remote_id or ""), None,
                        {"If-Match": f'W/"{change_key(w.expected_version or "")}"'})
                for _, w in group]
        for (n, w), answer in zip(group, self.http.batch(reqs), strict=True):
            if answer.ok or answer.status == 404:
                out[n] = WriteResult(w.remote_id or "", "")
            else:
                out[n] = error_for(answer, "delete event")
        return out
