"""Batched, conditional, crash-safe writes for the EWS connectors.

- creates: one FindItem looks up the hub-id stamps of the whole batch first, so a create
  whose answer was lost (crash, dropped connection) is found and updated, never duplicated;
  then one CreateItem for the rest.
- updates: one GetItem checks every expected ChangeKey (stale → PreconditionFailed, unless the
  item already holds exactly the wanted content: the goal is reached), then one UpdateItem with
  NeverOverwrite carrying only the changed fields.
- deletes: one GetItem checks ChangeKeys (EWS DeleteItem has no precondition), one DeleteItem.
- series: exdates become deleted occurrences and overrides modified occurrences, addressed by
  instance index. A deleted occurrence cannot be undone through EWS: a series whose hub copy
  excludes fewer occurrences than Exchange's is recreated (:mod:`.recreate`); a removed
  override stays a modified occurrence.

Every request carries SendToNone and MessageDisposition SaveOnly: no meeting mail, ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, time
from typing import TYPE_CHECKING, Any

from exchangelib import EWSDateTime, EWSTimeZone, Q
from exchangelib.items import AUTO_RESOLVE, HARD_DELETE, NEVER_OVERWRITE, SEND_TO_NONE, CalendarItem
from exchangelib.properties import OccurrenceItemId

from cirahub.connectors.base import Write, WriteOutcome, WriteResult
from cirahub.core.errors import (
    AuthError,
    CirahubError,
    PreconditionFailed,
    RemoteAlreadyExists,
    RemoteNotFound,
    TransientError,
)
from cirahub.core.item import Item
from cirahub.core.model import RemoteItem

from . import mapping, sidecar
from .client import item_error, map_error, raise_delete_failures
from .projection import Projected, project
from .recreate import recreate, restored_occurrences
from .recurrence import from_rrule, instance_indexes

if TYPE_CHECKING:
    from .connector import EwsConnector

_SERIES_FIELDS = ("rrule", "exdates")


class Writer:
    """One ``write_many`` call."""

    def __init__(self, conn: EwsConnector) -> None:
        self.conn = conn
        self.acc = conn.account
        self.folder = conn.folder
        self.attendees = not conn.cfg.meetings_as_appointments
        self.tz = mapping.ews_zone(conn.cfg.timezone, EWSTimeZone("UTC"))
        #: hub item id → what Exchange will hold of its item (see :mod:`.projection`)
        self.projected: dict[str, Projected] = {}

    def run(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        out: dict[int, WriteOutcome] = {}
        for n, w in enumerate(writes):
            if w.item is not None:
                try:
                    self.projected[w.hub_item_id] = project(w.item, self.conn.cfg.timezone)
                except CirahubError as exc:  # Exchange cannot store it at all: this item fails
                    out[n] = exc
        for op, phase in (("create", self._creates), ("update", self._updates), ("delete", self._deletes)):
            group = [(n, w) for n, w in enumerate(writes) if w.op == op and n not in out]
            if not group:
                continue
            try:
                out.update(phase(group))
            except CirahubError as exc:
                out.update({n: exc for n, _ in group if n not in out})
        for n, w in enumerate(writes):
            if n not in out:
                out[n] = ValueError(f"unknown write op {w.op!r}")  # type: ignore[assignment]
            else:
                done = out[n]
                if isinstance(done, WriteResult) and w.hub_item_id in self.projected:
                    out[n] = replace(done, notes=self.projected[w.hub_item_id].notes)
        return [out[n] for n in range(len(writes))]

    # --- helpers ---------------------------------------------------------------------------

    def _held(self, w: Write) -> Item:
        """What Exchange holds of ``w``'s item (its projection)."""
        return self.projected[w.hub_item_id].item

    def _values(self, w: Write) -> dict[str, Any]:
        assert w.item is not None
        held = self._held(w)
        values = mapping.write_values(held.fields, self.tz, attendees=self.attendees,
                                      kept=sidecar.entries(w.item, held))
        if held.get("rrule"):
            values["recurrence"] = from_rrule(held.fields["rrule"], held.fields["start"], held.uid)
        return values

    def _change_key(self, rid: str) -> str:
        got = self.conn.call(lambda: list(self.acc.fetch([(rid, None)], folder=self.folder,
                                                         only_fields=["last_modified_time"])), "get change key")
        if not got or isinstance(got[0], Exception):
            raise RemoteNotFound("item vanished after write", remote_id=rid)
        return str(got[0].changekey)

    # --- creates ---------------------------------------------------------------------------

    def _creates(self, group: list[tuple[int, Write]]) -> dict[int, WriteOutcome]:
        out: dict[int, WriteOutcome] = {}
        valid: list[tuple[int, Write, dict[str, Any]]] = []
        for n, w in group:
            assert w.item is not None
            try:
                values = self._values(w)
                self._check(self._new_item(w, values), "create item")
                valid.append((n, w, values))
            except CirahubError as exc:
                out[n] = exc
        done = self._create_batch(valid, out)
        redo: list[tuple[int, Write]] = []
        for n, w, _ in valid:
            if n in out:
                continue
            rid, ck, existed = done[n]
            if existed:  # written before its link was committed: bring it up to date
                redo.append((n, Write("update", w.hub_item_id, w.item, rid, ck)))
            else:
                out[n] = self._finish(rid, ck, self._held(w))
        if redo:
            out.update(self._updates(redo))
        return out

    def _new_item(self, w: Write, values: dict[str, Any]) -> CalendarItem:
        return CalendarItem(account=self.acc, folder=self.folder, uid=w.item.uid if w.item else None,
                            hub_id=w.hub_item_id, **values)

    def _check(self, ci: CalendarItem, what: str) -> None:
        """exchangelib's own validation, per item, before any batch is sent: an item it
        refuses fails alone instead of failing the whole request."""
        try:
            ci.clean(version=self.acc.version)
        except (ValueError, TypeError) as exc:
            raise item_error(exc, what) from exc

    def _create_batch(self, valid: list[tuple[int, Write, dict[str, Any]]],
                      out: dict[int, WriteOutcome]) -> dict[int, tuple[str, str, bool]]:
        """(id, ChangeKey, existed before) per created input; per-item failures go to ``out``.
        A request failing as a whole (one value the server's schema refuses) is retried item
        by item, so only the bad item fails."""
        try:
            return self.conn.call(lambda: self._attempt_create(valid, out), "create items")
        except CirahubError as exc:
            if isinstance(exc, TransientError | AuthError) or len(valid) < 2:
                out.update({n: exc for n, _, _ in valid if n not in out})
                return {}
        done: dict[int, tuple[str, str, bool]] = {}
        for entry in valid:
            if entry[0] in out:
                continue
            try:
                done.update(self.conn.call(lambda e=entry: self._attempt_create([e], out), "create item"))
            except CirahubError as exc:
                out[entry[0]] = exc
        return done

    def _attempt_create(self, valid: list[tuple[int, Write, dict[str, Any]]],
                        out: dict[int, WriteOutcome]) -> dict[int, tuple[str, str, bool]]:
        found, uids = self._existing(valid)
        res = {n: (found[w.hub_item_id].id, found[w.hub_item_id].changekey, True)
               for n, w, _ in valid if w.hub_item_id in found}
        for n, w, _ in valid:
            if n not in res and w.item is not None and w.item.uid in uids:
                out[n] = RemoteAlreadyExists("an item with this UID exists", uid=w.item.uid)
        todo = [(n, w, v) for n, w, v in valid if n not in res and n not in out]
        if todo:
            created = self.acc.bulk_create(self.folder, [self._new_item(w, v) for _, w, v in todo],
                                           send_meeting_invitations=SEND_TO_NONE)
            for (n, _, _), r in zip(todo, created, strict=True):
                if isinstance(r, Exception):
                    out[n] = item_error(r, "create item")
                else:
                    res[n] = (r.id, r.changekey, False)
        return res

    def _existing(self, valid: list[tuple[int, Write, dict[str, Any]]]) -> tuple[dict[str, Any], set[str]]:
        """Items of this batch already in the folder: by hub-id stamp (our own earlier write,
        whose answer was lost) and UIDs taken by other items starting at the same instant
        (UID itself is not searchable in EWS)."""
        if not valid:
            return {}, set()
        q = Q(hub_id__in=[w.hub_item_id for _, w, _ in valid])
        for _, _, v in valid:
            start = v.get("start")
            if start is not None:
                if not isinstance(start, datetime):
                    start = EWSDateTime.from_datetime(datetime.combine(start, time(0), tzinfo=self.tz))
                q |= Q(start=start)
        stamps = {w.hub_item_id for _, w, _ in valid}
        wanted_uids: dict[str, set[str]] = {}
        for _, w, _ in valid:
            wanted_uids.setdefault(w.hub_item_id, set()).add(w.item.uid if w.item else "")
        found: dict[str, Any] = {}
        uids: set[str] = set()
        for ci in self.folder.filter(q).only("hub_id", "uid"):
            if ci.hub_id in stamps and ci.uid in wanted_uids.get(ci.hub_id, ()):
                found[ci.hub_id] = ci
            elif ci.uid:
                uids.add(ci.uid)
        return found, uids

    def _finish(self, rid: str, ck: str, item: Item | None) -> WriteOutcome:
        """Apply a series' exdates and overrides; the result carries the final ChangeKey."""
        if item is None or not item.get("rrule") or not (item.get("exdates") or item.overrides):
            return WriteResult(rid, ck)
        try:
            self._occurrences(rid, item)
            return WriteResult(rid, self._change_key(rid))
        except CirahubError as exc:
            return exc

    # --- updates ---------------------------------------------------------------------------

    def _updates(self, group: list[tuple[int, Write]]) -> dict[int, WriteOutcome]:
        out: dict[int, WriteOutcome] = {}
        current = {r.remote_id: r for r in self.conn.fetch([w.remote_id or "" for _, w in group], missing_ok=True)}
        batch: list[tuple[int, Write, Any, list[str]]] = []
        restore = self._to_recreate(group, current)
        for n, w in group:
            assert w.item is not None and w.remote_id is not None
            cur = current.get(w.remote_id)
            if cur is None:
                out[n] = RemoteNotFound("item not found", remote_id=w.remote_id)
            elif self.conn.same(cur.item, w.item):
                out[n] = WriteResult(w.remote_id, cur.remote_version)
            elif cur.remote_version != w.expected_version or cur.item is None:
                out[n] = PreconditionFailed("item changed on the server", remote_id=w.remote_id)
            elif n in restore:  # it excludes fewer occurrences than Exchange: only a new item can
                out[n] = recreate(self, w, w.remote_id)
            else:
                try:
                    fields = mapping.changed_fields(cur.item.fields, w.item.fields, attendees=self.attendees)
                    values = self._values(w)
                    if values.get("hub_extra") != self.conn.extras.get(w.remote_id) and "hub_extra" not in fields:
                        fields.append("hub_extra")  # the hub's values behind the projection moved
                    ci = CalendarItem(account=self.acc, folder=self.folder, id=w.remote_id,
                                      changekey=w.expected_version, **values)
                    self._check(ci, "update item")
                except CirahubError as exc:
                    out[n] = exc
                    continue
                batch.append((n, w, ci, fields))
        todo = [(n, w, ci, f) for n, w, ci, f in batch if f]
        results: list[Any] = []
        if todo:
            try:
                results = self._bulk_update(todo)
            except PreconditionFailed as exc:  # a retried batch whose first try was applied
                results = [exc] * len(todo)
            except CirahubError as exc:
                if isinstance(exc, TransientError | AuthError) or len(todo) < 2:
                    raise
                results = [self._update_alone(entry) for entry in todo]  # find the bad one
        keys = {n: r for (n, *_), r in zip(todo, results, strict=True)}
        keys.update(self._reached(todo, keys))
        for n, w, _, _ in batch:
            r = keys.get(n, (w.remote_id, w.expected_version))
            if isinstance(r, Exception):
                out[n] = item_error(r, "update item")
            else:
                out[n] = self._finish(r[0], r[1], self._held(w))
        return out

    def _to_recreate(self, group: list[tuple[int, Write]], current: dict[str, RemoteItem]) -> set[int]:
        """Inputs whose series Exchange holds with occurrences deleted that the hub's does not
        exclude (see :mod:`.recreate`), judged on what Exchange holds (one GetItem for all)."""
        series = [(n, w) for n, w in group if w.remote_id in current and self._held(w).get("rrule")
                  and (current[w.remote_id].item or Item("x", {})).get("rrule")]
        if not series:
            return set()
        held = {r.remote_id: r.item for r in self.conn.fetch([w.remote_id or "" for _, w in series],
                                                               missing_ok=True, restore=False)}
        return {n for n, w in series if restored_occurrences(held.get(w.remote_id or ""), self._held(w))}

    def _bulk_update(self, todo: list[tuple[int, Write, Any, list[str]]]) -> list[Any]:
        return self.conn.call(lambda: list(self.acc.bulk_update(
            [(ci, f) for _, _, ci, f in todo], conflict_resolution=NEVER_OVERWRITE,
            send_meeting_invitations_or_cancellations=SEND_TO_NONE, suppress_read_receipts=True)),
            "update items")

    def _update_alone(self, entry: tuple[int, Write, Any, list[str]]) -> Any:
        """One update of a batch that failed as a whole: its result or its error."""
        try:
            return self._bulk_update([entry])[0]
        except CirahubError as exc:
            return exc

    def _reached(self, todo: list[tuple[int, Write, Any, list[str]]], keys: dict[int, Any]) -> dict[int, Any]:
        """Conflicted updates whose item already holds the wanted content (our own write whose
        answer was lost) are successes, with the item's current ChangeKey."""
        failed = [(n, w) for n, w, _, _ in todo
                  if isinstance(keys.get(n), Exception) and isinstance(map_error(keys[n], ""), PreconditionFailed)]
        if not failed:
            return {}
        now = {r.remote_id: r for r in self.conn.fetch([w.remote_id or "" for _, w in failed], missing_ok=True)}
        out: dict[int, Any] = {}
        for n, w in failed:
            cur = now.get(w.remote_id or "")
            if cur is not None and w.item is not None and self.conn.same(cur.item, w.item):
                out[n] = (cur.remote_id, cur.remote_version)
        return out

    def _occurrences(self, rid: str, wanted: Item) -> None:
        """Bring the series' deleted and modified occurrences to ``wanted`` (a projection:
        compared with what Exchange holds, not with the hub's values behind it)."""
        cur = self.conn.fetch([rid], missing_ok=False, restore=False)[0].item
        rule, start = wanted.fields["rrule"], wanted.fields["start"]
        have = cur.fields.get("exdates", []) if cur else []
        ck = self._change_key(rid)
        index = instance_indexes(rule, start, [*(wanted.get("exdates") or []), *wanted.overrides])
        gone = [i for i in (index.get(k) for k in wanted.get("exdates") or [] if k not in have) if i]
        if gone:
            ids = [OccurrenceItemId(id=rid, changekey=ck, instance_index=i) for i in gone]
            res = self.conn.call(lambda: list(self.acc.bulk_delete(
                ids, delete_type=HARD_DELETE, send_meeting_cancellations=SEND_TO_NONE)), "delete occurrences")
            raise_delete_failures(res, "delete occurrence")
            ck = self._change_key(rid)
        base = {k: v for k, v in (cur.fields if cur else {}).items() if k not in _SERIES_FIELDS}
        # an occurrence of a series kept in UTC is written in UTC too (not the spoke's zone)
        zone = self.tz if start.get("tz") or "utc" not in start else EWSTimeZone("UTC")
        updates = []
        for key, ov in sorted(wanted.overrides.items()):
            position = index.get(key)
            old = (cur.overrides.get(key) if cur else None)
            if position is None or key in (wanted.get("exdates") or []) or (
                old is not None and self.conn.same(Item("x", old), Item("x", ov))
            ):
                continue
            fields = mapping.changed_fields(old or base, ov, attendees=self.attendees)
            fields += [f for f in ("start", "end", "is_all_day") if f not in fields]
            values = mapping.write_values(ov, zone, attendees=self.attendees)
            ci = CalendarItem(account=self.acc, folder=self.folder,
                              _id=OccurrenceItemId(id=rid, changekey=ck, instance_index=position), **values)
            updates.append((ci, [f for f in fields if f not in ("recurrence",)]))
        if updates:
            # the master-level NeverOverwrite check already passed; exception writes each move
            # the master's ChangeKey, so they resolve against it
            res = self.conn.call(lambda: list(self.acc.bulk_update(
                updates, conflict_resolution=AUTO_RESOLVE,
                send_meeting_invitations_or_cancellations=SEND_TO_NONE, suppress_read_receipts=True)),
                "update occurrences")
            for r in res:
                if isinstance(r, Exception):
                    raise map_error(r, "update occurrence")

    # --- deletes ---------------------------------------------------------------------------

    def _deletes(self, group: list[tuple[int, Write]]) -> dict[int, WriteOutcome]:
        def attempt() -> dict[int, WriteOutcome]:
            out: dict[int, WriteOutcome] = {}
            got = list(self.acc.fetch([(w.remote_id, None) for _, w in group], folder=self.folder,
                                      only_fields=["last_modified_time"]))
            todo = []
            for (n, w), ci in zip(group, got, strict=True):
                rid = w.remote_id or ""
                if isinstance(ci, Exception):
                    err = map_error(ci, "delete item")
                    out[n] = WriteResult(rid, "") if isinstance(err, RemoteNotFound) else err
                elif ci.changekey != w.expected_version:
                    out[n] = PreconditionFailed("item changed on the server", remote_id=rid)
                else:
                    todo.append((n, rid, ci.changekey))
            if todo:
                res = self.acc.bulk_delete([(rid, ck) for _, rid, ck in todo], delete_type=HARD_DELETE,
                                           send_meeting_cancellations=SEND_TO_NONE)
                for (n, rid, _), r in zip(todo, res, strict=True):
                    failure = map_error(r, "delete item") if isinstance(r, Exception) else None
                    out[n] = (failure if failure is not None and not isinstance(failure, RemoteNotFound)
                              else WriteResult(rid, ""))
            return out

        return self.conn.call(attempt, "delete items")
