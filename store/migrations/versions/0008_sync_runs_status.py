"""An index on ``sync_runs (status, started_at)``: the supervisor's check for runs still
``running`` whose process is gone (``Store.running_spoke_ids``, after every reconcile, every
5 s) and the close of such runs (``Store.interrupt_runs``) read the few ``running`` rows
through it instead of scanning the whole run history, which only grows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sync_runs_status_started_at", "sync_runs", ["status", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_sync_runs_status_started_at", "sync_runs")
