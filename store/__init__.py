"""cirahub.store — the canonical store (SQLAlchemy 2, Alembic; SQLite default, PostgreSQL).

Entry point: ``Store.open(url)``; see :mod:`cirahub.store.repository`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: imported on first use: the repository pulls in SQLAlchemy and Alembic (~1 s per command),
#: and even the records (plain dataclasses over the core's item and options, ~11 ms) are more
#: than a CLI command needs of this package: ``cirahub.store.paths``, its data folder
_RECORDS = ("LEAVE", "ConflictEntry", "HaltInfo", "HubRecord", "ItemVersion", "MergeResult",
            "PendingDelete", "ProjectionEntry", "QuarantineEntry", "RunRecord", "SpokeRecord")
_LAZY = {"Store": "cirahub.store.repository", "default_data_dir": "cirahub.store.repository",
         "load_or_create_key": "cirahub.store.secrets",
         **dict.fromkeys(_RECORDS, "cirahub.store.records")}


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
