"""A link remembers the write the pusher sent before it is sent (``pending_fingerprint``,
``pending_hub_version``), so the read-back of a write whose answer was lost is recognized as
our own echo, not a spoke edit (no false conflict).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.add_column(sa.Column("pending_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("pending_hub_version", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("links") as batch:
        batch.drop_column("pending_hub_version")
        batch.drop_column("pending_fingerprint")
