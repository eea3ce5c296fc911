"""cirahub.store — the canonical store (SQLAlchemy 2, Alembic; SQLite default, PostgreSQL).

Entry point: ``Store.open(url)``; see :mod:`cirahub.store.repository`.
"""

from __future__ import annotations

from cirahub.store.records import (
    LEAVE,
    ConflictEntry,
    HaltInfo,
    HubRecord,
    ItemVersion,
    MergeResult,
    PendingDelete,
    ProjectionEntry,
    QuarantineEntry,
    RunRecord,
    SpokeRecord,
)
from cirahub.store.repository import Store, default_data_dir
from cirahub.store.secrets import load_or_create_key

__all__ = [
    "LEAVE",
    "ConflictEntry",
    "HaltInfo",
    "HubRecord",
    "ItemVersion",
    "MergeResult",
    "PendingDelete",
    "ProjectionEntry",
    "QuarantineEntry",
    "RunRecord",
    "SpokeRecord",
    "Store",
    "default_data_dir",
    "load_or_create_key",
]
