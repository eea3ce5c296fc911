"""Operator reads of a hub's items: pages of items, their copies in the spokes, one item's
history of versions (what ``cirahubctl items`` and ``item show`` show).

Bounded by construction: a page reads at most ``limit`` item rows, the copies and quarantine
rows of those items only, and a history at most ``limit + 1`` version rows (the one before
the oldest shown is what its changed fields are computed against).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from cirahub.core.errors import InvalidInput
from cirahub.core.model import HubItem, Link
from cirahub.store import models as m
from cirahub.store.base import LINK_SELECT, StoreBase, aware, hub_item, item_of, link
from cirahub.store.engine import guarded
from cirahub.store.records import ItemVersion, QuarantineEntry
from cirahub.store.runs import WRITE_FAILED_PREFIX

_I, _V, _Q = m.hub_items.c, m.hub_item_versions.c, m.quarantine.c
#: quarantine columns but the raw text (which may be large)
_Q_COLUMNS = (_Q.spoke_id, _Q.remote_id, _Q.remote_version, _Q.uid, _Q.reason, _Q.detail,
              _Q.first_seen, _Q.last_seen)
#: most rows one call reads (a page, a history)
MAX_ROWS = 1000


@dataclass(frozen=True)
class StoredItem:
    """A hub item at its current version, with when that version was written."""

    item: HubItem
    updated_at: datetime


def _stored(row: object) -> StoredItem:
    return StoredItem(hub_item(row), aware(row.updated_at))  # type: ignore[attr-defined,arg-type]


def _bounded(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_ROWS:
        raise InvalidInput(f"limit must be a whole number from 1 to {MAX_ROWS}", field="limit")
    return limit


class ItemsMixin(StoreBase):
    @guarded
    def item_page(self, hub_id: str, after_version: int, limit: int) -> list[StoredItem]:
        """Alive items of the hub whose current version is above ``after_version``, in
        version order, at most ``limit``: page on by passing the last version returned."""
        stmt = (select(m.hub_items)
                .where(_I.hub_id == hub_id, _I.version > after_version, _I.deleted.is_(False))
                .order_by(_I.version).limit(_bounded(limit)))
        with self._read() as conn:
            return [_stored(r) for r in conn.execute(stmt)]

    @guarded
    def item_by_uid(self, hub_id: str, uid: str) -> StoredItem | None:
        """The hub's alive item with this UID, else its most recently deleted one, else None."""
        stmt = (select(m.hub_items).where(_I.hub_id == hub_id, _I.uid == uid)
                .order_by(_I.deleted, _I.version.desc()).limit(1))
        with self._read() as conn:
            row = conn.execute(stmt).first()
        return _stored(row) if row is not None else None

    @guarded
    def item_links(self, ids: Iterable[str]) -> dict[tuple[str, str], Link]:
        """Every spoke's link of these hub items, by (spoke id, hub item id)."""
        with self._read() as conn:
            rows = self._in_chunks(conn, lambda part: LINK_SELECT.where(
                m.links.c.hub_item_id.in_(part)), set(ids))
        return {(r.spoke_id, r.hub_item_id): link(r) for r in rows}

    @guarded
    def item_quarantine(self, spoke_ids: Iterable[str], uids: Iterable[str],
                        ids: Iterable[str]) -> list[QuarantineEntry]:
        """Quarantine rows of these spokes about these items: a copy that could not be read
        (by UID) or a write that failed (``write:<hub item id>``)."""
        spokes = sorted(set(spoke_ids))
        if not spokes:
            return []
        keys = sorted(set(uids)) + [WRITE_FAILED_PREFIX + i for i in sorted(set(ids))]
        with self._read() as conn:
            rows = self._in_chunks(conn, lambda part: select(*_Q_COLUMNS).where(
                _Q.spoke_id.in_(spokes), or_(_Q.uid.in_(part), _Q.remote_id.in_(part))), keys)
        seen: dict[tuple[str, str], QuarantineEntry] = {}
        for r in rows:
            seen[(r.spoke_id, r.remote_id)] = QuarantineEntry(
                spoke_id=r.spoke_id, remote_id=r.remote_id, remote_version=r.remote_version,
                uid=r.uid, reason=r.reason, detail=r.detail, raw=None,
                first_seen=aware(r.first_seen),  # type: ignore[arg-type]
                last_seen=aware(r.last_seen),  # type: ignore[arg-type]
            )
        return [seen[k] for k in sorted(seen)]

    @guarded
    def item_projections(self, ids: Iterable[str]) -> dict[tuple[str, str], tuple[str, ...]]:
        """What each spoke declared it holds of these hub items when it is not the item (its
        notes, ``Store.record_projections``), by (spoke id, hub item id)."""
        with self._read() as conn:
            rows = self._in_chunks(conn, lambda part: select(
                m.projections.c.spoke_id, m.projections.c.hub_item_id, m.projections.c.notes,
            ).where(m.projections.c.hub_item_id.in_(part)), set(ids))
        return {(r.spoke_id, r.hub_item_id): tuple(str(n) for n in r.notes or ()) for r in rows}

    @guarded
    def recent_versions(self, hub_item_id: str, limit: int) -> tuple[list[ItemVersion], int]:
        """(the newest ``limit`` + 1 stored versions of a hub item, newest first; how many are
        stored). The extra, oldest one is the base the oldest shown one changed."""
        stmt = (select(m.hub_item_versions).where(_V.hub_item_id == hub_item_id)
                .order_by(_V.version.desc()).limit(_bounded(limit) + 1))
        count = select(func.count()).select_from(m.hub_item_versions).where(
            _V.hub_item_id == hub_item_id)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            total = int(conn.execute(count).scalar_one())
        return [ItemVersion(hub_item_id=r.hub_item_id, version=r.version,
                            item=item_of(r.content), spoke_id=r.spoke_id,
                            created_at=aware(r.created_at))  # type: ignore[arg-type]
                for r in rows], total
