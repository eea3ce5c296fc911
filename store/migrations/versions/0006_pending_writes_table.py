"""Pending writes get a table of their own (``pending_writes``) instead of two columns on
``links``: a create has no link to hold one (so the read-back of a create whose answer was
lost was taken for a rival copy and made conflicts), and a second write sent before the first
was read back overwrote it. Outstanding link values are carried over.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_writes",
        sa.Column("spoke_id", sa.String(36),
                  sa.ForeignKey("spokes.id", ondelete="CASCADE",
                                name="fk_pending_writes_spoke_id_spokes"), nullable=False),
        sa.Column("hub_item_id", sa.String(36),
                  sa.ForeignKey("hub_items.id", ondelete="CASCADE",
                                name="fk_pending_writes_hub_item_id_hub_items"), nullable=False),
        sa.Column("hub_version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("spoke_id", "hub_item_id", "hub_version",
                                name="pk_pending_writes"),
    )
    op.create_index("ix_pending_writes_hub_item_id", "pending_writes", ["hub_item_id"])
    op.execute(
        "INSERT INTO pending_writes (spoke_id, hub_item_id, hub_version, fingerprint) "
        "SELECT spoke_id, hub_item_id, pending_hub_version, pending_fingerprint FROM links "
        "WHERE pending_fingerprint IS NOT NULL AND pending_hub_version IS NOT NULL")
    with op.batch_alter_table("links") as batch:
        batch.drop_column("pending_hub_version")
        batch.drop_column("pending_fingerprint")


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("pending_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("pending_hub_version", sa.Integer(), nullable=True))
    op.drop_index("ix_pending_writes_hub_item_id", "pending_writes")
    op.drop_table("pending_writes")
