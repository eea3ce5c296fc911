"""Fingerprint version 2 (STATUS:CONFIRMED and the texts' LANGUAGE/ALTREP... parameters are
part of an item's meaning between iCalendar spokes) without a rewrite storm on upgrade.

- ``links``, ``pending_writes`` and ``deleted_copies`` get ``fp_version``: the rows stored
  before are version 1 (they hold only a fingerprint of a spoke's content, not the content,
  so they cannot be recomputed); the planner compares them as version 1 did and stamps them
  again when it next reads the item (``core/fingerprint_versions.py``).
- Every stored hub content (``hub_items`` and ``hub_item_versions``, the merge bases) is given
  what its iCalendar source says to version 2 (``core/content_upgrade.py``), and the hub
  items' fingerprints are recomputed; no hub version moves.

docs/sync.md, "Fingerprint versions", says why and what an upgraded hub does.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TABLES = ("links", "pending_writes", "deleted_copies")
#: hub items read at once (their versions with them)
_PAGE = 200

_items = sa.table("hub_items", sa.column("id", sa.String), sa.column("content", sa.JSON),
                  sa.column("fingerprint", sa.String))
_versions = sa.table("hub_item_versions", sa.column("hub_item_id", sa.String),
                     sa.column("version", sa.Integer), sa.column("content", sa.JSON))


def _contents(change: Callable[[Mapping[str, Any]], dict[str, Any] | None]) -> None:
    """Apply ``change`` to every stored content, a page of hub items at a time; a hub item's
    fingerprint is recomputed with its content."""
    from cirahub.core.fingerprint import fingerprint
    from cirahub.core.item import Item

    conn = op.get_bind()
    after = ""
    while True:
        page = conn.execute(sa.select(_items.c.id, _items.c.content).where(_items.c.id > after)
                            .order_by(_items.c.id).limit(_PAGE)).all()
        if not page:
            return
        after = page[-1].id
        for row in page:
            new = change(row.content) if row.content is not None else None
            if new is not None:
                conn.execute(sa.update(_items).where(_items.c.id == row.id).values(
                    content=new, fingerprint=fingerprint(Item.from_json(new))))
        ids = [row.id for row in page]
        for v in conn.execute(sa.select(_versions.c.hub_item_id, _versions.c.version,
                                        _versions.c.content)
                              .where(_versions.c.hub_item_id.in_(ids))).all():
            new = change(v.content) if v.content is not None else None
            if new is not None:
                conn.execute(sa.update(_versions).where(
                    _versions.c.hub_item_id == v.hub_item_id,
                    _versions.c.version == v.version).values(content=new))


def upgrade() -> None:
    from cirahub.core.content_upgrade import upgraded

    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("fp_version", sa.Integer(), nullable=False,
                                       server_default="2"))
        op.execute(f"UPDATE {table} SET fp_version = 1")
    _contents(upgraded)


def downgrade() -> None:
    from cirahub.core.content_upgrade import downgraded

    _contents(downgraded)  # without it, versions 1 and 2 compute the same
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("fp_version")
