"""SQLAlchemy 2 table definitions of the canonical store.

These models are the *description* the repository's Core statements are built from and the
target Alembic's migrations are checked against (``tests/store`` compares them); the schema in
a database is only ever created by the migrations in ``store/migrations/versions``.

Ids are ``str`` UUIDs. Hub versions are per-hub integers assigned by the merge step, strictly
increasing. Deleting a hub cascades to everything under it; deleting a spoke cascades to its
links, quarantine rows and runs, while the conflict log and version history keep their rows
with the spoke reference cleared (the losing version of a conflict is never dropped).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cirahub.core.item import FINGERPRINT_VERSION

#: constraint names are fixed so migrations and models agree on every backend
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(36)
TS = DateTime(timezone=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class HubRow(Base):
    __tablename__ = "hubs"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    object_type: Mapped[str] = mapped_column(String(32), default="calendar")
    policy: Mapped[str] = mapped_column(String(16))
    #: last hub version assigned to an item of this hub
    version: Mapped[int] = mapped_column(Integer, default=0)
    #: fencing token of the current writer (see Store.acquire_writer)
    writer_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(TS)


class SpokeRow(Base):
    __tablename__ = "spokes"
    __table_args__ = (UniqueConstraint("hub_id", "name", name="uq_spokes_hub_id_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    hub_id: Mapped[str] = mapped_column(ID, ForeignKey("hubs.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Fernet token of the spoke's secret (password, token); never plaintext
    secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    pull_cursor: Mapped[str | None] = mapped_column(Text, nullable=True)
    push_cursor: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="idle")
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    halted_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: the current (or last confirmed) halt: id, digest, reason, pending deletions
    #: (see Store.record_halt); NULL when the spoke is not halted
    halt: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: id of the halt an operator confirmed; its deletions apply once, if still the same
    confirmed_halt: Mapped[str | None] = mapped_column(String(36), nullable=True)
    #: the first complete run finished (SpokeRecord.first_attach is its negation)
    initial_done: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TS)
    updated_at: Mapped[datetime] = mapped_column(TS)


class HubItemRow(Base):
    __tablename__ = "hub_items"
    __table_args__ = (
        # one current version per item, and versions are unique within a hub
        Index("ix_hub_items_hub_id_version", "hub_id", "version", unique=True),
        Index("ix_hub_items_hub_id_uid", "hub_id", "uid"),
        Index("ix_hub_items_hub_id_match_key", "hub_id", "match_key"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    hub_id: Mapped[str] = mapped_column(ID, ForeignKey("hubs.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    created_version: Mapped[int] = mapped_column(Integer)
    #: Item.to_json(); NULL for a tombstone
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    match_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(TS)


class HubItemVersionRow(Base):
    """Every version a hub item had: the three-way merge base of a link is the row at
    ``link.hub_version``."""

    __tablename__ = "hub_item_versions"

    hub_item_id: Mapped[str] = mapped_column(
        ID, ForeignKey("hub_items.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: the spoke whose change produced this version (NULL: unknown / spoke removed)
    spoke_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("spokes.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(TS)


class LinkRow(Base):
    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("spoke_id", "remote_id", name="uq_links_spoke_id_remote_id"),
    )

    spoke_id: Mapped[str] = mapped_column(
        ID, ForeignKey("spokes.id", ondelete="CASCADE"), primary_key=True
    )
    hub_item_id: Mapped[str] = mapped_column(
        ID, ForeignKey("hub_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    remote_id: Mapped[str] = mapped_column(Text)
    remote_version: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    hub_version: Mapped[int] = mapped_column(Integer)
    #: the fingerprint function's version (core.item.FINGERPRINT_VERSION; docs/sync.md)
    fp_version: Mapped[int] = mapped_column(Integer, default=FINGERPRINT_VERSION)


class PendingWriteRow(Base):
    """A create or update the pusher sent to a spoke and never saw confirmed (see
    core.model.PendingWrite): stored before the write is sent, deleted once its success is
    committed or a pull read the item back; at most a few per (spoke, hub item)."""

    __tablename__ = "pending_writes"

    spoke_id: Mapped[str] = mapped_column(
        ID, ForeignKey("spokes.id", ondelete="CASCADE"), primary_key=True
    )
    hub_item_id: Mapped[str] = mapped_column(
        ID, ForeignKey("hub_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    hub_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    fp_version: Mapped[int] = mapped_column(Integer, default=FINGERPRINT_VERSION)


class DeletedCopyRow(Base):
    """A spoke's copy the pusher deleted (see core.model.DeletedCopy): written in the
    transaction that drops the copy's link, removed when the hub item is linked in that spoke
    again; at most one per (spoke, hub item), gone with the hub item's tombstone."""

    __tablename__ = "deleted_copies"

    spoke_id: Mapped[str] = mapped_column(
        ID, ForeignKey("spokes.id", ondelete="CASCADE"), primary_key=True
    )
    hub_item_id: Mapped[str] = mapped_column(
        ID, ForeignKey("hub_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    hub_version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    fp_version: Mapped[int] = mapped_column(Integer, default=FINGERPRINT_VERSION)


class SyncRunRow(Base):
    __tablename__ = "sync_runs"
    __table_args__ = (
        Index("ix_sync_runs_hub_id_started_at", "hub_id", "started_at"),
        # the few "running" rows, found without a scan of the whole history (migration 0008)
        Index("ix_sync_runs_status_started_at", "status", "started_at"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    hub_id: Mapped[str] = mapped_column(ID, ForeignKey("hubs.id", ondelete="CASCADE"))
    spoke_id: Mapped[str] = mapped_column(
        ID, ForeignKey("spokes.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(TS)
    finished_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ConflictRow(Base):
    __tablename__ = "conflicts"
    __table_args__ = (Index("ix_conflicts_hub_id_created_at", "hub_id", "created_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    hub_id: Mapped[str] = mapped_column(ID, ForeignKey("hubs.id", ondelete="CASCADE"))
    hub_item_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("hub_items.id", ondelete="SET NULL"), nullable=True
    )
    spoke_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("spokes.id", ondelete="SET NULL"), nullable=True
    )
    uid: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    losing_item: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TS)


class QuarantineRow(Base):
    __tablename__ = "quarantine"

    spoke_id: Mapped[str] = mapped_column(
        ID, ForeignKey("spokes.id", ondelete="CASCADE"), primary_key=True
    )
    remote_id: Mapped[str] = mapped_column(Text, primary_key=True)
    remote_version: Mapped[str | None] = mapped_column(Text, nullable=True)
    uid: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(TS)
    last_seen: Mapped[datetime] = mapped_column(TS)


class RuntimeLeaseRow(Base):
    """One row per lease (``runtime``): the epoch of the runtime that owns the actors."""

    __tablename__ = "runtime_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime] = mapped_column(TS)


class ProjectionRow(Base):
    """A spoke's declared projection of a hub item (what it changed to hold it), per write."""

    __tablename__ = "projections"

    spoke_id: Mapped[str] = mapped_column(
        ID, ForeignKey("spokes.id", ondelete="CASCADE"), primary_key=True
    )
    hub_item_id: Mapped[str] = mapped_column(
        ID, ForeignKey("hub_items.id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[str] = mapped_column(Text)
    notes: Mapped[list[str]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(TS)


def _table(row: type[Base]) -> Table:
    """The Core table of a mapped class (typed ``FromClause`` by SQLAlchemy, a `Table` here)."""
    table = row.__table__
    assert isinstance(table, Table)
    return table


hubs = _table(HubRow)
spokes = _table(SpokeRow)
hub_items = _table(HubItemRow)
hub_item_versions = _table(HubItemVersionRow)
links = _table(LinkRow)
sync_runs = _table(SyncRunRow)
conflicts = _table(ConflictRow)
quarantine = _table(QuarantineRow)
runtime_lease = _table(RuntimeLeaseRow)
projections = _table(ProjectionRow)
pending_writes = _table(PendingWriteRow)
deleted_copies = _table(DeletedCopyRow)
