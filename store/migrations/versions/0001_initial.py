"""Initial schema: hubs, spokes, hub items and their versions, links, runs, conflicts,
quarantine.

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(36)
TS = sa.DateTime(timezone=True)


def _fk(column: str, target: str, ondelete: str, table: str, nullable: bool = False) -> sa.Column:
    ref_table = target.split(".")[0]
    return sa.Column(
        column, ID,
        sa.ForeignKey(target, ondelete=ondelete, name=f"fk_{table}_{column}_{ref_table}"),
        nullable=nullable,
    )


def upgrade() -> None:
    op.create_table(
        "hubs",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("writer_epoch", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hubs"),
        sa.UniqueConstraint("name", name="uq_hubs_name"),
    )
    op.create_table(
        "spokes",
        sa.Column("id", ID, nullable=False),
        _fk("hub_id", "hubs.id", "CASCADE", "spokes"),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.Column("pull_cursor", sa.Text(), nullable=True),
        sa.Column("push_cursor", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_error", sa.JSON(), nullable=True),
        sa.Column("halted_reason", sa.Text(), nullable=True),
        sa.Column("confirm_deletes", sa.Boolean(), nullable=False),
        sa.Column("initial_done", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_spokes"),
        sa.UniqueConstraint("hub_id", "name", name="uq_spokes_hub_id_name"),
    )
    op.create_table(
        "hub_items",
        sa.Column("id", ID, nullable=False),
        _fk("hub_id", "hubs.id", "CASCADE", "hub_items"),
        sa.Column("uid", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("match_key", sa.String(64), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hub_items"),
    )
    op.create_index("ix_hub_items_hub_id_version", "hub_items", ["hub_id", "version"],
                    unique=True)
    op.create_index("ix_hub_items_hub_id_uid", "hub_items", ["hub_id", "uid"])
    op.create_index("ix_hub_items_hub_id_match_key", "hub_items", ["hub_id", "match_key"])
    op.create_table(
        "hub_item_versions",
        _fk("hub_item_id", "hub_items.id", "CASCADE", "hub_item_versions"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=True),
        _fk("spoke_id", "spokes.id", "SET NULL", "hub_item_versions", nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("hub_item_id", "version", name="pk_hub_item_versions"),
    )
    op.create_table(
        "links",
        _fk("spoke_id", "spokes.id", "CASCADE", "links"),
        _fk("hub_item_id", "hub_items.id", "CASCADE", "links"),
        sa.Column("remote_id", sa.Text(), nullable=False),
        sa.Column("remote_version", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("hub_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("spoke_id", "hub_item_id", name="pk_links"),
        sa.UniqueConstraint("spoke_id", "remote_id", name="uq_links_spoke_id_remote_id"),
    )
    op.create_index("ix_links_hub_item_id", "links", ["hub_item_id"])
    op.create_table(
        "sync_runs",
        sa.Column("id", ID, nullable=False),
        _fk("hub_id", "hubs.id", "CASCADE", "sync_runs"),
        _fk("spoke_id", "spokes.id", "CASCADE", "sync_runs"),
        sa.Column("trigger", sa.String(32), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sync_runs"),
    )
    op.create_index("ix_sync_runs_hub_id_started_at", "sync_runs", ["hub_id", "started_at"])
    op.create_index("ix_sync_runs_spoke_id", "sync_runs", ["spoke_id"])
    op.create_table(
        "conflicts",
        sa.Column("id", ID, nullable=False),
        _fk("hub_id", "hubs.id", "CASCADE", "conflicts"),
        _fk("hub_item_id", "hub_items.id", "SET NULL", "conflicts", nullable=True),
        _fk("spoke_id", "spokes.id", "SET NULL", "conflicts", nullable=True),
        sa.Column("uid", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("losing_item", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conflicts"),
    )
    op.create_index("ix_conflicts_hub_id_created_at", "conflicts", ["hub_id", "created_at"])
    op.create_table(
        "quarantine",
        _fk("spoke_id", "spokes.id", "CASCADE", "quarantine"),
        sa.Column("remote_id", sa.Text(), nullable=False),
        sa.Column("remote_version", sa.Text(), nullable=True),
        sa.Column("uid", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.PrimaryKeyConstraint("spoke_id", "remote_id", name="pk_quarantine"),
    )


def downgrade() -> None:
    for table in ("quarantine", "conflicts", "sync_runs", "links", "hub_item_versions",
                  "hub_items", "spokes", "hubs"):
        op.drop_table(table)
