"""One merge batch: the rows a batch of pull ops touches, changed in memory by the ops, then
written by :func:`cirahub.store.batch_flush.flush`.

Semantics per op (see ``cirahub.core.ops``), including what makes a re-run harmless:

- CreateHubItem: a new hub item (next version), its version row and its link — unless the
  remote id is already linked in this spoke, then nothing changes and the existing hub item
  id is reported (idempotent re-run); or unless an alive hub item already has that UID
  (another spoke brought it in since this one planned — the same invitation in two
  mailboxes), then the op is stale and the spoke re-plans, which links it to that item: a
  hub never holds two alive items with one UID.
- UpdateHubItem: at ``expected_version`` → next version (a tombstone is revived), version
  row, conflict log rows, link with ``hub_version`` = new version when ``in_sync`` else
  ``base_version``. Already past it with equal content → success without a new version
  (re-run). Past it with other content, or a missing item → stale (skipped, reported).
- TombstoneHubItem: at ``expected_version`` → tombstone (next version, content NULL), the
  spoke's link dropped. Already a tombstone → no-op. Changed since → stale.
- LinkOnly: set the link (and log its conflicts unless the link was already exactly that: a
  re-run). DropLink: remove the remote id's link (and log its conflicts if there was one).
  Quarantine: upsert the row.
Every op but Quarantine clears the remote id's quarantine row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from cirahub.core.errors import InvalidInput
from cirahub.core.fingerprint import fingerprint, match_key
from cirahub.core.item import FINGERPRINT_VERSION, Item
from cirahub.core.ops import (
    CreateHubItem,
    DropLink,
    HubOp,
    LinkOnly,
    Quarantine,
    TombstoneHubItem,
    UpdateHubItem,
)
from cirahub.store.batch_reads import (
    LinkTuple,
    alive_by_uid,
    first_seen,
    hub_items_by_id,
    links_by,
)
from cirahub.store.excerpt import detail, excerpt
from cirahub.store.records import Tally
from cirahub.store.rows import json_text, new_ids, read_back

#: ``value`` as it will read back from a JSON column (tuples → lists, …)
jsonable = read_back


@dataclass
class _Item:
    id: str
    uid: str
    version: int
    created_version: int
    #: the JSON text of the content as stored when loaded (None: SQL NULL); see :attr:`text`
    loaded: str | None
    fingerprint: str | None
    match_key: str | None
    deleted: bool
    new: bool = False
    dirty: bool = False
    #: the JSON text of the content this batch writes (``"null"``: a tombstone), once written
    text: str | None = None

    def current(self) -> dict[str, Any] | None:
        """The content as it reads back (what this batch wrote, else what was loaded)."""
        text = self.loaded if self.text is None else self.text
        return None if text is None else json.loads(text)


@dataclass(frozen=True)
class _Link:
    hub_item_id: str
    remote_version: str
    fingerprint: str
    hub_version: int
    fp_version: int = FINGERPRINT_VERSION  # every op carries fingerprints of the current one


class Batch:
    def __init__(self, conn: Connection, hub_id: str, spoke_id: str, version: int,
                 now: datetime, tally: Tally) -> None:
        self.conn, self.hub_id, self.spoke_id = conn, hub_id, spoke_id
        self.version, self.now, self.tally = version, now, tally
        self.items: dict[str, _Item] = {}
        self.by_remote: dict[str, _Link] = {}
        #: the links as stored when loaded, by remote id (``by_remote`` is changed in memory)
        self.stored: dict[str, _Link] = {}
        self.by_item: dict[str, str] = {}
        self.touched_remotes: set[str] = set()
        self.touched_items: set[str] = set()
        #: remote id → its quarantine row as written by this batch (None: cleared), or, as
        #: loaded, only its ``first_seen`` (what a row written again keeps)
        self.quarantine: dict[str, dict[str, Any] | None] = {}
        #: uid → id of the alive hub items with the UIDs this batch creates
        self.alive_uids: dict[str, str] = {}
        self.touched_quarantine: set[str] = set()
        #: (hub item id, version, content JSON text) of every version this batch writes
        self.version_rows: list[tuple[str, int, str]] = []
        self.conflict_rows: list[dict[str, Any]] = []
        #: ids for the hub items this batch creates (see :meth:`load`)
        self._ids: list[str] = []

    # --- load ----------------------------------------------------------------------------------

    def load(self, ops: Sequence[HubOp]) -> None:
        """Read every row the ops refer to (links by remote id and by hub item, hub items,
        quarantine rows)."""
        for op in ops:
            if not isinstance(op, LinkOnly | CreateHubItem | UpdateHubItem | TombstoneHubItem
                              | DropLink | Quarantine):
                raise InvalidInput(f"not a hub op: {type(op).__name__}", field="ops")
        remotes = {op.remote_id for op in ops}
        ids = {op.hub_item_id for op in ops if not isinstance(op, CreateHubItem | Quarantine)}
        conn, spoke_id = self.conn, self.spoke_id
        for link in (*links_by(conn, spoke_id, "remote_id", remotes),
                     *links_by(conn, spoke_id, "hub_item_id", ids)):
            self._remember_link(link)
        for row in hub_items_by_id(conn, self.hub_id, ids):
            self.items[row[0]] = _Item(*row)
        self._ids = new_ids(sum(isinstance(op, CreateHubItem) for op in ops))
        self.alive_uids.update(alive_by_uid(
            conn, self.hub_id, {op.item.uid for op in ops if isinstance(op, CreateHubItem)}))
        for remote_id, seen in first_seen(conn, spoke_id, remotes).items():
            self.quarantine[remote_id] = {"first_seen": seen}  # what a new row keeps of it

    def _remember_link(self, row: LinkTuple) -> None:
        hub_item_id, remote_id, remote_version, fp, hub_version, fp_version = row
        link = _Link(hub_item_id, remote_version, fp, hub_version, fp_version)
        self.by_remote[remote_id] = self.stored[remote_id] = link
        self.by_item[hub_item_id] = remote_id

    # --- apply ---------------------------------------------------------------------------------

    def apply(self, op: HubOp) -> None:
        if isinstance(op, CreateHubItem):
            self._create(op)
        elif isinstance(op, UpdateHubItem):
            self._update(op)
        elif isinstance(op, TombstoneHubItem):
            self._tombstone(op)
        elif isinstance(op, LinkOnly):
            self._link_only(op)
        elif isinstance(op, DropLink):
            dropped = self._drop_remote(op.remote_id)
            item = self.items.get(op.hub_item_id)
            if dropped and item is not None:
                for record in op.conflicts:
                    self._conflict(item, record)
            self._done(op.remote_id, "unlinked" if dropped else None)
        else:
            self._quarantine(op)
        return None

    def _link_only(self, op: LinkOnly) -> None:
        item = self.items.get(op.hub_item_id)
        if item is None:
            return self._stale(op.remote_id)
        link = _Link(op.hub_item_id, op.remote_version, op.fingerprint, op.hub_version)
        if self.by_remote.get(op.remote_id) != link:  # a re-run logs its conflicts once
            for record in op.conflicts:
                self._conflict(item, record)
        self._set_link(op.remote_id, link)
        return self._done(op.remote_id, "linked")

    def _create(self, op: CreateHubItem) -> None:
        existing = self.by_remote.get(op.remote_id)
        if existing is not None:
            self.tally.created[op.remote_id] = existing.hub_item_id
            return self._done(op.remote_id, "unchanged")
        if op.item.uid in self.alive_uids:
            return self._stale(op.remote_id)
        version = self._next_version()
        item = _Item(self._ids.pop() if self._ids else str(uuid.uuid4()), op.item.uid,
                     version, version, None, None, None, False, new=True)
        self.alive_uids[item.uid] = item.id
        self.items[item.id] = item
        self._write_content(item, op.item, fp=op.hub_fingerprint, key=op.hub_match_key)
        self._set_link(op.remote_id, _Link(item.id, op.remote_version, op.fingerprint, version))
        self.tally.created[op.remote_id] = item.id
        return self._done(op.remote_id, None)

    def _update(self, op: UpdateHubItem) -> None:
        item = self.items.get(op.hub_item_id)
        if item is None:
            return self._stale(op.remote_id)
        if item.version == op.expected_version:
            self._write_content(item, op.item, self._next_version(), op.hub_fingerprint,
                                op.hub_match_key)
            for record in op.conflicts:
                self._conflict(item, record)
            hub_version = item.version if op.in_sync else op.base_version
            self._set_link(op.remote_id, _Link(item.id, op.remote_version, op.fingerprint,
                                               hub_version))
            return self._done(op.remote_id, "updated")
        if item.version > op.expected_version and item.current() == jsonable(op.item.to_json()):
            # A re-run of an update that already committed: keep the link it left behind.
            current = self.by_remote.get(op.remote_id)
            if not (current and current.hub_item_id == item.id
                    and current.remote_version == op.remote_version):
                hub_version = item.version if op.in_sync else op.base_version
                self._set_link(op.remote_id, _Link(item.id, op.remote_version, op.fingerprint,
                                                   hub_version))
            return self._done(op.remote_id, "unchanged")
        return self._stale(op.remote_id)

    def _tombstone(self, op: TombstoneHubItem) -> None:
        item = self.items.get(op.hub_item_id)
        if item is None:
            return self._stale(op.remote_id)
        if item.deleted:
            self._drop_remote(op.remote_id)
            return self._done(op.remote_id, "unchanged")
        if item.version != op.expected_version:
            return self._stale(op.remote_id)
        self._write_content(item, None, self._next_version())
        self._drop_remote(op.remote_id)
        self._drop_item(item.id)
        return self._done(op.remote_id, "tombstoned")

    def _quarantine(self, op: Quarantine) -> None:
        old = self.quarantine.get(op.remote_id)
        self.quarantine[op.remote_id] = dict(
            spoke_id=self.spoke_id, remote_id=op.remote_id, remote_version=op.remote_version,
            # never a whole raw body: a bounded, redacted excerpt of calendar data only
            uid=op.uid, reason=op.reason[:32], detail=detail(op.detail, op.raw),
            raw=excerpt(op.raw),
            first_seen=old["first_seen"] if old else self.now, last_seen=self.now)
        self.touched_quarantine.add(op.remote_id)
        self.tally.add("quarantined")

    # --- in-memory state -----------------------------------------------------------------------

    def _next_version(self) -> int:
        self.version += 1
        return self.version

    def _write_content(self, item: _Item, content: Item | None, version: int | None = None,
                       fp: str | None = None, key: str | None = None) -> None:
        """``fp``, ``key``: the hub fingerprint and match key of ``content``, when the planner
        knew them."""
        if version is not None:
            item.version = version
        text = item.text = json_text(content.to_json() if content is not None else None)
        item.deleted = content is None
        item.fingerprint = None if content is None else fp or fingerprint(content)
        item.match_key = None if content is None else key or match_key(content)
        if content is not None:
            item.uid = content.uid
        item.dirty = True
        self.version_rows.append((item.id, item.version, text))

    def _conflict(self, item: _Item, record: Any) -> None:
        self.conflict_rows.append(conflict_row(
            self.hub_id, item.id, self.spoke_id, record.uid or item.uid, record, self.now))
        self.tally.add("conflicts")

    def _set_link(self, remote_id: str, link: _Link) -> None:
        self._drop_remote(remote_id)
        self._drop_item(link.hub_item_id)
        self.by_remote[remote_id] = link
        self.by_item[link.hub_item_id] = remote_id
        self.touched_remotes.add(remote_id)
        self.touched_items.add(link.hub_item_id)

    def _drop_remote(self, remote_id: str) -> bool:
        old = self.by_remote.pop(remote_id, None)
        if old is None:
            return False
        self.by_item.pop(old.hub_item_id, None)
        self.touched_remotes.add(remote_id)
        self.touched_items.add(old.hub_item_id)
        return True

    def _drop_item(self, hub_item_id: str) -> None:
        remote_id = self.by_item.get(hub_item_id)
        if remote_id is not None:
            self._drop_remote(remote_id)

    def _done(self, remote_id: str, counter: str | None) -> None:
        if counter:
            self.tally.add(counter)
        if remote_id in self.quarantine or remote_id in self.touched_quarantine:
            self.quarantine[remote_id] = None
            self.touched_quarantine.add(remote_id)

    def _stale(self, remote_id: str) -> None:
        self.tally.stale.append(remote_id)


def conflict_row(
    hub_id: str, hub_item_id: str | None, spoke_id: str, uid: str, record: Any, now: Any
) -> dict[str, Any]:
    """The conflicts-table row of a :class:`~cirahub.core.model.ConflictRecord`."""
    return dict(
        id=str(uuid.uuid4()), hub_id=hub_id, hub_item_id=hub_item_id, spoke_id=spoke_id,
        uid=uid, kind=record.kind, fields=jsonable([asdict(f) for f in record.fields]),
        losing_item=jsonable(dict(record.losing_item)) if record.losing_item else None,
        created_at=now)
