"""Alembic migrations of the canonical store (run by ``Store.open``; no alembic.ini needed)."""
