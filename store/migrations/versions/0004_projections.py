"""A spoke's declared projection of each hub item it holds (what it changed to hold it), kept
per (spoke, hub item) so an operator can see it (``Store.list_projections``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projections",
        sa.Column("spoke_id", sa.String(36),
                  sa.ForeignKey("spokes.id", ondelete="CASCADE", name="fk_projections_spoke_id_spokes"),
                  nullable=False),
        sa.Column("hub_item_id", sa.String(36),
                  sa.ForeignKey("hub_items.id", ondelete="CASCADE",
                                name="fk_projections_hub_item_id_hub_items"),
                  nullable=False),
        sa.Column("uid", sa.Text(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("spoke_id", "hub_item_id", name="pk_projections"),
    )


def downgrade() -> None:
    op.drop_table("projections")
