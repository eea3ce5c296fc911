"""Planning reads: what the planner needs from the hub and from a spoke's links.

All take ids (not names) because they sit on the sync hot path; big inputs are sent in
IN-lists of at most 500 values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from cirahub.core.errors import NotFound
from cirahub.core.item import Item
from cirahub.core.model import DeletedCopy, HubItem, Link, PendingWrite
from cirahub.store import models as m
from cirahub.store.base import (
    HUB_ITEM_COLUMNS,
    LINK_SELECT,
    StoreBase,
    chunks,
    hub_item,
    hub_item_rows,
    item_of,
    link,
    plain_hub_item,
    plain_rows,
)
from cirahub.store.engine import guarded

_HI, _P = m.hub_items.c, m.pending_writes.c
#: (hub item, version) pairs per read of merge bases: a cross product of at most 50 × 50
_PAIRS = 50


class ReadsMixin(StoreBase):
    @guarded
    def links(self, spoke_id: str) -> dict[str, Link]:
        """Every link of the spoke, by remote id."""
        with self._read() as conn:
            rows = conn.execute(LINK_SELECT.where(m.links.c.spoke_id == spoke_id))
            return {r.remote_id: link(r) for r in rows}

    @guarded
    def link_versions(self, spoke_id: str) -> dict[str, str]:
        """Remote id → remote version of every link of the spoke (two columns, no join:
        what a listing compares against)."""
        with self._read() as conn:
            return dict(plain_rows(conn, select(m.links.c.remote_id, m.links.c.remote_version)
                                   .where(m.links.c.spoke_id == spoke_id)))

    @guarded
    def link_versions_of(self, spoke_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        """:meth:`link_versions` of many spokes in one query per chunk of them (the spoke
        actor's batch of idle polls of listing connectors); a spoke without links maps to
        an empty dict."""
        ids = list(dict.fromkeys(spoke_ids))
        out: dict[str, dict[str, str]] = {i: {} for i in ids}
        with self._read() as conn:
            for part in chunks(ids):
                for spoke, remote_id, version in plain_rows(conn, select(
                        m.links.c.spoke_id, m.links.c.remote_id, m.links.c.remote_version)
                        .where(m.links.c.spoke_id.in_(part))):
                    out[spoke][remote_id] = version
        return out

    @guarded
    def links_for(
        self, spoke_id: str, *, remote_ids: Iterable[str] = (), uids: Iterable[str] = ()
    ) -> dict[str, Link]:
        """The spoke's links of these remote ids and of the hub items with these UIDs, by
        remote id: what planning one delta needs, without reading every link of the spoke."""
        out: dict[str, Link] = {}
        with self._read() as conn:
            rows = self._in_chunks(conn, lambda part: LINK_SELECT.where(
                m.links.c.spoke_id == spoke_id, m.links.c.remote_id.in_(part)), set(remote_ids))
            # By UID: the hub items of the spoke's hub with these UIDs first (their
            # (hub_id, uid) index), then their links; joined the other way round, SQLite
            # walks every link of the spoke (8 ms instead of 0.3 ms at 5,000 links).
            rows += self._in_chunks(conn, lambda part: LINK_SELECT.where(
                m.links.c.spoke_id == spoke_id, m.links.c.hub_item_id.in_(
                    select(_HI.id).join(m.spokes, m.spokes.c.hub_id == _HI.hub_id)
                    .where(m.spokes.c.id == spoke_id, _HI.uid.in_(part)))), set(uids))
            out.update((r.remote_id, link(r)) for r in rows)
        return out

    @guarded
    def links_by_item(self, spoke_id: str, ids: Iterable[str]) -> dict[str, Link]:
        """The spoke's links of these hub items, by hub item id (unlinked items are absent)."""
        with self._read() as conn:
            rows = self._in_chunks(conn, lambda part: LINK_SELECT.where(
                m.links.c.spoke_id == spoke_id, m.links.c.hub_item_id.in_(part)), set(ids))
            return {r.hub_item_id: link(r) for r in rows}

    @guarded
    def pending_writes(self, spoke_id: str, *, hub_item_ids: Iterable[str] = (),
                       uids: Iterable[str] = ()) -> dict[str, tuple[PendingWrite, ...]]:
        """The writes sent to the spoke and never confirmed (``note_pending_writes``) of these
        hub items and of the hub items (tombstones too) with these UIDs, by hub item id,
        oldest first; items without any are absent."""
        out: dict[str, list[PendingWrite]] = {}
        cols = (_P.hub_item_id, _P.fingerprint, _P.hub_version, _P.fp_version)
        with self._read() as conn:
            rows = [*self._in_chunks(conn, lambda part: select(*cols).where(
                        _P.spoke_id == spoke_id, _P.hub_item_id.in_(part)), set(hub_item_ids)),
                    *self._in_chunks(conn, lambda part: select(*cols).join(
                        m.hub_items, _HI.id == _P.hub_item_id).where(
                        _P.spoke_id == spoke_id, _HI.uid.in_(part)), set(uids))]
        for r in {(r.hub_item_id, r.hub_version): r for r in rows}.values():
            out.setdefault(r.hub_item_id, []).append(
                PendingWrite(r.hub_item_id, r.fingerprint, int(r.hub_version),
                             int(r.fp_version)))
        return {i: tuple(sorted(w, key=lambda p: p.hub_version)) for i, w in out.items()}

    @guarded
    def deleted_copies(self, spoke_id: str, uids: Iterable[str]) -> dict[str, DeletedCopy]:
        """The copies the pusher deleted from the spoke (``put_links``) of the hub items with
        these UIDs that are still deleted, by hub item id."""
        _D = m.deleted_copies.c
        with self._read() as conn:
            rows = self._in_chunks(conn, lambda part: select(
                _D.hub_item_id, _D.fingerprint, _D.hub_version, _D.fp_version).join(
                m.hub_items, _HI.id == _D.hub_item_id).where(
                _D.spoke_id == spoke_id, _HI.deleted.is_(True), _HI.uid.in_(part)), set(uids))
            return {r.hub_item_id: DeletedCopy(r.hub_item_id, r.fingerprint, int(r.hub_version),
                                               int(r.fp_version)) for r in rows}

    @guarded
    def hub_items(self, hub_id: str, ids: Iterable[str]) -> dict[str, HubItem]:
        """These hub items (tombstones included), by id; ids not in the hub are absent."""
        with self._read() as conn:
            return {r.id: hub_item(r) for r in hub_item_rows(conn, hub_id, ids)}

    @guarded
    def hub_items_by_uid(self, hub_id: str, uids: Iterable[str]) -> dict[str, HubItem]:
        """Alive hub items by UID. Should a UID be alive twice, the oldest item is returned."""
        return self._alive_by(hub_id, _HI.uid, uids)

    @guarded
    def hub_items_by_match_key(self, hub_id: str, keys: Iterable[str]) -> dict[str, HubItem]:
        """Alive hub items by ``core.fingerprint.match_key`` (first-attach matching); the
        oldest item wins when several share a key."""
        return self._alive_by(hub_id, _HI.match_key, keys)

    def _alive_by(self, hub_id: str, column: Any, values: Iterable[str]) -> dict[str, HubItem]:
        with self._read() as conn:
            rows = self._in_chunks(conn, lambda part: select(m.hub_items).where(
                _HI.hub_id == hub_id, column.in_(part), _HI.deleted.is_(False)), set(values))
        out: dict[str, HubItem] = {}
        key = column.name
        for row in sorted(rows, key=lambda r: (r.created_version, r.id), reverse=True):
            out[getattr(row, key)] = hub_item(row)
        return out

    @guarded
    def item_versions(
        self, pairs: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], Item | None]:
        """Contents of hub items at given versions (merge bases); None for a tombstone
        version; pairs never stored are absent."""
        col = m.hub_item_versions.c
        wanted = set(pairs)
        out: dict[tuple[str, int], Item | None] = {}
        # ids IN (…) AND versions IN (…) per few pairs: both backends probe the primary key
        # for each (id, version) of the cross product, and the pairs not asked for are
        # dropped here. (A row-value IN list makes SQLite scan every stored version; one
        # (id AND version) term per pair costs SQLAlchemy 8 ms to build for 50 pairs.)
        with self._read() as conn:
            for part in chunks(sorted(wanted), _PAIRS):
                rows = conn.execute(select(col.hub_item_id, col.version, col.content).where(
                    col.hub_item_id.in_({i for i, _ in part}),
                    col.version.in_({v for _, v in part})))
                out.update(((r.hub_item_id, r.version), item_of(r.content)) for r in rows
                           if (r.hub_item_id, r.version) in wanted)
        return out

    @guarded
    def hub_items_changed_since(
        self, hub_id: str, version: int, *, limit: int | None = None
    ) -> list[HubItem]:
        """Hub items (tombstones included) whose version is greater than ``version``, ordered
        by version; at most ``limit`` when given (page by passing the last version seen)."""
        stmt = (select(*HUB_ITEM_COLUMNS).where(_HI.hub_id == hub_id, _HI.version > version)
                .order_by(_HI.version))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._read() as conn:
            return [plain_hub_item(r) for r in plain_rows(conn, stmt)]

    @guarded
    def hub_version(self, hub_id: str) -> int:
        """The hub's last assigned version. NotFound for an unknown hub id."""
        with self._read() as conn:
            value = conn.execute(select(m.hubs.c.version).where(m.hubs.c.id == hub_id)).scalar()
        if value is None:
            raise NotFound(f"hub {hub_id!r} does not exist", hub=hub_id)
        return int(value)

    @guarded
    def count_links(self, spoke_id: str) -> int:
        """Number of hub items linked in the spoke (what the spoke holds of the hub)."""
        stmt = select(func.count()).select_from(m.links).where(m.links.c.spoke_id == spoke_id)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    @guarded
    def count_projections(self, spoke_id: str) -> int:
        """Number of hub items the spoke holds as its declared projection (not the item as
        it is: a field it cannot carry, a component it cannot store...)."""
        stmt = select(func.count()).select_from(m.projections).where(
            m.projections.c.spoke_id == spoke_id)
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())

    @guarded
    def count_items(self, hub_id: str, *, include_deleted: bool = False) -> int:
        """Number of alive hub items (tombstones too with ``include_deleted``)."""
        stmt = select(func.count()).select_from(m.hub_items).where(_HI.hub_id == hub_id)
        if not include_deleted:
            stmt = stmt.where(_HI.deleted.is_(False))
        with self._read() as conn:
            return int(conn.execute(stmt).scalar_one())
