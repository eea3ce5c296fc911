"""A halt is a record an operator answers: its id, the deletions it holds back, and the
confirmation bound to it (replaces the unbound ``confirm_deletes`` flag).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("spokes", sa.Column("halt", sa.JSON(), nullable=True))
    op.add_column("spokes", sa.Column("confirmed_halt", sa.String(36), nullable=True))
    # A plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35), never a batch rebuild: dropping
    # the old table with foreign keys on would cascade into links, runs and quarantine.
    op.drop_column("spokes", "confirm_deletes")
