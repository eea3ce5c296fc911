"""Per-spoke sync options (CiraHub's "Sync Options") and the per-hub conflict policy.

Values only; :func:`SyncOptions.from_dict` validates operator input and names the bad option
the way a user writes it (``interval``, ``hub_writes``, ``contributes``; values as ``5m``,
``all``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from cirahub.core import limits
from cirahub.core.errors import InvalidInput

#: widest time window, in days either side of now (a date beyond year 9999 cannot be computed)
MAX_DAYS = 100_000
#: longest polling period: one year
MAX_INTERVAL = 366 * 86400

#: option fields whose user-facing name differs (flags, topology files, messages use these)
USER_NAMES = {"interval_seconds": "interval"}


def duration_text(seconds: int) -> str:
    """Seconds as a user writes them: ``5m``, ``1h``, ``90s``."""
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _given(value: object) -> str:
    """A polling period as given, in the user's words when it is a number of seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return duration_text(value) if value > 0 else f"{value}s"
    return repr(value)


@dataclass(frozen=True)
class Permissions:
    """Which of create / update / delete are allowed in one direction."""

    create: bool = True
    update: bool = True
    delete: bool = True

    @classmethod
    def parse(cls, value: str | Iterable[str] | Permissions, *, name: str) -> Permissions:
        """``"create,update,delete"``, ``"all"``, ``"none"`` or a list of those words."""
        if isinstance(value, Permissions):
            return value
        words = value.split(",") if isinstance(value, str) else list(value)
        words = [w.strip().lower() for w in words if w.strip()]
        if words == ["all"]:
            return cls()
        if words == ["none"] or not words:
            return cls(False, False, False)
        bad = sorted(set(words) - {"create", "update", "delete"})
        if bad:
            raise InvalidInput(
                f"{name}: unknown permission(s) {', '.join(bad)}; "
                "use create,update,delete, all or none",
                option=name,
            )
        return cls("create" in words, "update" in words, "delete" in words)

    def __str__(self) -> str:
        words = [w for w in ("create", "update", "delete") if getattr(self, w)]
        return ",".join(words) or "none"

    @property
    def any(self) -> bool:
        return self.create or self.update or self.delete


NONE = Permissions(False, False, False)
ALL = Permissions()


class PrivateMode(StrEnum):
    """What happens to private (PRIVATE/CONFIDENTIAL) items written to a spoke."""

    SYNC = "sync"  # copied as they are
    SKIP = "skip"  # never copied into this spoke (and removed if they become private)
    BUSY = "busy"  # copied as a "Busy" block: times only, no title, description or location


class ConflictPolicy(StrEnum):
    """How a field changed on both sides is settled (per hub). The loser is always logged."""

    LATEST = "latest"  # latest LAST-MODIFIED wins; ties broken deterministically
    HUB = "hub"  # the hub's value wins
    SPOKE = "spoke"  # the incoming spoke's value wins


@dataclass(frozen=True)
class SyncOptions:
    """A spoke's sync options. The defaults are full two-way sync of everything."""

    hub_writes: Permissions = ALL  # "Allow Hub": may the hub create/update/delete here
    contributes: Permissions = ALL  # may this spoke's changes flow into the hub
    days_back: int | None = None  # window start, days before now (None = unbounded)
    days_ahead: int | None = None  # window end, days after now (None = unbounded)
    private: PrivateMode = PrivateMode.SYNC
    categories_include: frozenset[str] = field(default_factory=frozenset)
    categories_exclude: frozenset[str] = field(default_factory=frozenset)
    tentative: bool = True  # sync tentative items
    tag_category: str | None = None  # category added to every item the hub writes here
    meetings_as_appointments: bool = False  # never write organizer/attendees here
    reminders: bool = True  # write reminders (alarms) here
    interval_seconds: int = 300  # continuous polling period
    enabled: bool = True

    def __post_init__(self) -> None:
        for name in ("days_back", "days_ahead"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or not 0 <= value <= MAX_DAYS):
                raise InvalidInput(f"{name} must be a whole number of days from 0 to {MAX_DAYS}, "
                                   f"or all (got {value!r})", option=name)
        if (not isinstance(self.interval_seconds, int)
                or not 5 <= self.interval_seconds <= MAX_INTERVAL):
            raise InvalidInput(
                f"interval must be at least 5s and at most {duration_text(MAX_INTERVAL)} "
                f"(got {_given(self.interval_seconds)})", option="interval")
        if self.tag_category is not None and not self.tag_category.strip():
            raise InvalidInput("tag_category must not be blank", option="tag_category")
        both = self.categories_include & self.categories_exclude
        if both:
            raise InvalidInput(
                f"categories both included and excluded: {', '.join(sorted(both))}",
                option="categories_include",
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (stored, and shown by the API)."""
        out = asdict(self)
        out["hub_writes"] = str(self.hub_writes)
        out["contributes"] = str(self.contributes)
        out["private"] = self.private.value
        out["categories_include"] = sorted(self.categories_include)
        out["categories_exclude"] = sorted(self.categories_exclude)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> SyncOptions:
        """Build from a (partial) dict; unknown keys and bad values raise InvalidInput."""
        return cls().with_changes(data or {})

    def with_changes(self, changes: Mapping[str, Any]) -> SyncOptions:
        """A copy with ``changes`` applied, validated like :meth:`from_dict`."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            names = [USER_NAMES.get(k, k) for k in unknown]
            raise InvalidInput(f"unknown sync option(s): {', '.join(names)}; known: "
                               f"{', '.join(sorted(USER_NAMES.get(k, k) for k in known))}",
                               option=names[0])
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key in ("hub_writes", "contributes"):
                value = Permissions.parse(value, name=key)
            elif key == "private":
                try:
                    value = PrivateMode(str(value).lower())
                except ValueError:
                    raise InvalidInput(
                        f"private must be one of sync, skip, busy (got {value!r})", option=key
                    ) from None
            elif key in ("categories_include", "categories_exclude"):
                if isinstance(value, str):
                    value = [v for v in value.split(",")]
                value = frozenset(v.strip() for v in limits.check_list(
                    value, field=key, item_limit=limits.MAX_CATEGORY) if v.strip())
            elif key == "tag_category" and value is not None:
                limits.check_text(value, field=key, limit=limits.MAX_CATEGORY)
            elif key in ("tentative", "meetings_as_appointments", "reminders", "enabled"):
                if not isinstance(value, bool):
                    raise InvalidInput(f"{key} must be true or false", option=key)
            elif key in ("days_back", "days_ahead", "interval_seconds") and (
                value is not None and (isinstance(value, bool) or not isinstance(value, int))
            ):
                name = USER_NAMES.get(key, key)
                raise InvalidInput(f"{name} must be a whole number (got {value!r})", option=name)
            values[key] = value
        return replace(self, **values)
