"""The ``ews-mailbox`` spoke connector: change detection by ``SyncFolderItems``.

The cursor is the folder's sync state (no cursor = full sync, a complete listing), or JSON
``{"s": state, "new": [ids]}`` when items we created since are noted: SyncFolderItems reports
net changes, so an item created and deleted between two states is asked about with GetItem.
Reads and writes are the shared ones of :class:`~cirahub.connectors.ews.connector.EwsConnector`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, ClassVar

from exchangelib.folders import Folder

from cirahub.core.errors import CirahubError
from cirahub.core.model import Delta

from .client import map_error
from .connector import EwsConnector


class MailboxConnector(EwsConnector):
    kind: ClassVar[str] = "ews-mailbox"

    def _resolve_folder(self) -> Any:
        return self._walk(self.account.calendar)

    def delta(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        state, pending = _mailbox_cursor(cursor)
        try:
            delta = self._sync(state, known)
        except CirahubError as exc:
            if state and "ErrorInvalidSyncStateData" in str(exc.fields.get("error", "")):
                return self._sync(None, known)
            raise
        return self._check_created(delta, pending, known) if state else delta

    def cursor_after_writes(self, cursor: str | None, created: Sequence[str],
                            deleted: Sequence[str]) -> str | None:
        """``cursor`` noting items we created after its sync state was issued: SyncFolderItems
        reports net changes, so the deletion of an item created and deleted between two
        states is never reported; the next :meth:`delta` asks about those with GetItem.
        ``deleted`` needs no note: an item made again (a create of ours delivered late) has
        an ItemId of its own, which the next sync reports as a create."""
        state, pending = _mailbox_cursor(cursor)
        if not state or not created:
            return cursor
        notes = sorted(set(pending) | set(created))
        if len(notes) > MAX_PENDING_CREATES:
            return None  # a sync from scratch (a complete listing) is cheaper than asking
        return json.dumps({"s": state, "new": notes})

    def _check_created(self, delta: Delta, pending: Sequence[str], known: Mapping[str, str]) -> Delta:
        reported = {r.remote_id for r in delta.changed} | set(delta.deleted)
        unsure = [rid for rid in pending if rid in known and rid not in reported]
        if not unsure:
            return delta
        present = {r.remote_id for r in self.fetch(unsure, missing_ok=True)}
        gone = [rid for rid in unsure if rid not in present]  # ErrorItemNotFound: the server's word
        return replace(delta, deleted=tuple(sorted({*delta.deleted, *gone})))

    def _sync(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        def run() -> tuple[list[tuple[str, str, Any]], str]:
            folder: Folder = self.folder
            changes = []
            for kind, obj in folder.sync_items(sync_state=cursor, only_fields=["last_modified_time"]):
                changes.append((kind, obj.id, getattr(obj, "changekey", None)))
            return changes, folder.item_sync_state

        try:
            changes, state = self.call(run, "sync folder items")
        except AttributeError as exc:  # exchangelib: error message without SyncState
            raise map_error(exc, "sync folder items") from exc
        updated: dict[str, str] = {}
        gone: set[str] = set()
        for kind, rid, ck in changes:
            if kind == "delete":
                gone.add(rid)
                updated.pop(rid, None)
            elif kind in ("create", "update"):
                updated[rid] = ck
                gone.discard(rid)
        changed_ids = [rid for rid, ck in updated.items() if known.get(rid) != ck]
        items = self.fetch(changed_ids, missing_ok=True)
        if cursor is None:  # a sync from scratch lists everything: a complete listing
            deleted = tuple(sorted(set(known) - set(updated)))
            return Delta(tuple(items), deleted, state, complete=True, listing_size=len(updated))
        return Delta(tuple(items), tuple(sorted(gone & set(known))), state, complete=False)


#: created item ids a mailbox cursor remembers; past this the next poll syncs from scratch
MAX_PENDING_CREATES = 2000


def _mailbox_cursor(cursor: str | None) -> tuple[str | None, list[str]]:
    """(sync state, ids we created after it) from a mailbox cursor: a bare sync state, or
    JSON ``{"s": state, "new": [ids]}`` when creates are noted."""
    if not cursor or not cursor.startswith("{"):
        return cursor, []
    try:
        data = json.loads(cursor)
    except ValueError:
        return None, []
    state, notes = data.get("s"), data.get("new")
    ids = [i for i in notes if isinstance(i, str)] if isinstance(notes, list) else []
    return (state if isinstance(state, str) and state else None), ids
