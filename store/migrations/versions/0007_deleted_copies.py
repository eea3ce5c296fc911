"""The copies the pusher deleted (``deleted_copies``): a create of ours that reached a spoke
after the item's delete had (a request held in the network) made the copy again, and the next
pull took it for a new item of the spoke, bringing a deleted item back everywhere.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deleted_copies",
        sa.Column("spoke_id", sa.String(36),
                  sa.ForeignKey("spokes.id", ondelete="CASCADE",
                                name="fk_deleted_copies_spoke_id_spokes"), nullable=False),
        sa.Column("hub_item_id", sa.String(36),
                  sa.ForeignKey("hub_items.id", ondelete="CASCADE",
                                name="fk_deleted_copies_hub_item_id_hub_items"), nullable=False),
        sa.Column("hub_version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("spoke_id", "hub_item_id", name="pk_deleted_copies"),
    )
    op.create_index("ix_deleted_copies_hub_item_id", "deleted_copies", ["hub_item_id"])


def downgrade() -> None:
    op.drop_index("ix_deleted_copies_hub_item_id", "deleted_copies")
    op.drop_table("deleted_copies")
