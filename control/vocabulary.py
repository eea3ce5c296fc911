"""One vocabulary for sync options, as a user says them.

User-facing names are DESIGN's: ``hub_writes``, ``contributes``, ``days_back``/``days_ahead``,
``interval`` … (flags ``--hub-writes``, ``--contributes``, ``--interval``). Older or API
spellings are accepted as aliases in topology files (``allow_hub``, ``contribute``,
``interval_seconds``); values are shown as a user writes them: ``5m`` rather than ``300``,
``all`` rather than ``-1``.
"""

from __future__ import annotations

import re

from cirahub.core.options import duration_text

__all__ = ["ALIASES", "API_FIELD", "USER_NAME", "canonical", "days_text", "duration_text",
           "parse_days", "parse_duration"]

#: alias → user-facing option name (topology files, messages)
ALIASES = {
    "allow_hub": "hub_writes", "allow-hub": "hub_writes", "hub-writes": "hub_writes",
    "contribute": "contributes",
    "interval_seconds": "interval",
    "days-back": "days_back", "days-ahead": "days_ahead",
    "tag-category": "tag_category",
    "meetings-as-appointments": "meetings_as_appointments",
    "categories-include": "categories_include", "categories-exclude": "categories_exclude",
}
#: user-facing option name → the API's field (SyncOptions in control.proto)
API_FIELD = {"interval": "interval_seconds"}
#: API field → user-facing name
USER_NAME = {v: k for k, v in API_FIELD.items()}

_DURATION = re.compile(r"\s*(\d+)\s*([smh]?)\s*")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def canonical(name: str) -> str:
    """The user-facing name of an option given under any accepted spelling."""
    return ALIASES.get(name, name)


def parse_duration(value: object) -> int:
    """``300``, ``"90s"``, ``"5m"``, ``"1h"`` → seconds; ValueError otherwise (the console
    parses the same way)."""
    if isinstance(value, bool):
        raise ValueError("a duration like 5m")
    if isinstance(value, int):
        return value
    m = _DURATION.fullmatch(str(value))
    if not m:
        raise ValueError("a duration like 300, 90s, 5m or 1h")
    return int(m.group(1)) * _UNITS[m.group(2)]


def days_text(days: int | None) -> str:
    """A window bound: ``30``, or ``all`` when unbounded."""
    return "all" if days is None or days < 0 else str(days)


def parse_days(value: object) -> int | None:
    """A window bound as a user writes it: a whole number of days >= 0, or ``all`` (None) for
    unbounded; ValueError otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("all", "unbounded")):
        return None
    if isinstance(value, bool) or not (isinstance(value, int) or str(value).strip().isdigit()):
        raise ValueError("a whole number of days >= 0, or all")
    days = int(str(value).strip()) if not isinstance(value, int) else value
    if days < 0:
        raise ValueError("a whole number of days >= 0, or all")
    return days
