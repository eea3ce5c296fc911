"""Pruning of hub item versions: ``hub_item_versions`` stays bounded per item.

A version row serves two readers: a link's three-way merge base (the row at
``link.hub_version``, and at a pending write's ``hub_version`` while it is unconfirmed) and
``cirahubctl item show --history``. After every merge batch, in the same transaction, the
versions of the items that batch changed are cut to what those readers need:

- the newest :data:`KEEP_VERSIONS` versions of the item (the history the default
  ``--history`` shows, plus the version before the oldest shown, whose fields it changed;
  among the newest two there is always one with content when the item ever had any, so a
  deleted item's last content — what a spoke's edit revives — is kept too);
- every version a link or a pending write of the item names.

Everything older that no link or pending write names is deleted. A version is only ever added
by a merge, and every merge prunes the items it touched, so an item holds at most
:data:`KEEP_VERSIONS` plus one per link and pending write (plus the versions added since) rows.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, func, select

from cirahub.store import models as m
from cirahub.store.base import chunks

#: versions of every hub item kept for its history, whatever the links need (docs/sync.md)
KEEP_VERSIONS = 51

_V, _L, _P = m.hub_item_versions.c, m.links.c, m.pending_writes.c


def prune_versions(conn: Connection, hub_item_ids: Iterable[str],
                   keep: int = KEEP_VERSIONS) -> int:
    """Delete the versions of ``hub_item_ids`` that neither the history (the newest ``keep``)
    nor any link needs; returns how many were deleted. Runs in the caller's transaction."""
    if keep < 2:
        raise ValueError("keep must be at least 2 (a deleted item's last content)")
    deleted = 0
    for part in chunks(sorted(set(hub_item_ids))):
        over = [r[0] for r in conn.execute(  # usually none: one cheap aggregate per batch
            select(_V.hub_item_id).where(_V.hub_item_id.in_(part))
            .group_by(_V.hub_item_id).having(func.count() > keep))]
        if not over:
            continue
        versions: dict[str, list[int]] = {}
        for item_id, version in conn.execute(
                select(_V.hub_item_id, _V.version).where(_V.hub_item_id.in_(over))):
            versions.setdefault(item_id, []).append(int(version))
        needed: dict[str, set[int]] = {}
        for item_id, version in conn.execute(
                select(_L.hub_item_id, _L.hub_version).where(_L.hub_item_id.in_(over))
                .union_all(select(_P.hub_item_id, _P.hub_version)
                           .where(_P.hub_item_id.in_(over)))):
            needed.setdefault(item_id, set()).add(int(version))
        for item_id, held in versions.items():
            old = sorted(held, reverse=True)[keep:]
            drop = [v for v in old if v not in needed.get(item_id, set())]
            for group in chunks(drop):
                deleted += conn.execute(delete(m.hub_item_versions).where(
                    _V.hub_item_id == item_id, _V.version.in_(group))).rowcount or 0
    return deleted
