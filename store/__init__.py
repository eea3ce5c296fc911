"""cirahub.store — the canonical store (SQLAlchemy 2, Alembic; SQLite default, PostgreSQL).

Entry point: ``Store.open(url)``; see :mod:`cirahub.store.repository`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from cirahub.store.repository import Store, default_data_dir
    from cirahub.store.secrets import load_or_create_key

#: imported on first use: the records are plain dataclasses the control plane's client side
#: (the CLI) needs, while the repository pulls in SQLAlchemy and Alembic (~1 s per command)
_LAZY = {"Store": "cirahub.store.repository", "default_data_dir": "cirahub.store.repository",
         "load_or_create_key": "cirahub.store.secrets"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
