"""Time zones for Exchange: an IANA zone (or any TZID the core resolves) → the exchangelib
zone whose Windows id Exchange expands the series in, and Windows ids → IANA on the way back.

exchangelib maps Windows ids with its own CLDR copy and returns None (with a warning) for an
id it does not know; :func:`install` extends that lookup, through exchangelib's documented
translation map, with the core's resolver (the CLDR table, vendor prefixes, Windows display
names), so a series read from Exchange keeps its zone wherever one can be resolved.
"""

from __future__ import annotations

from typing import Any

from exchangelib import EWSTimeZone
from exchangelib.errors import UnknownTimeZone

from cirahub.core.timezones import iana_to_windows, resolve_tzid, windows_to_iana


class _ResolvingMap(dict[str, str]):
    """exchangelib's Windows id → IANA map, falling back to the core's resolver."""

    def __missing__(self, key: str) -> str:
        iana = resolve_tzid(str(key)) if key else None
        if iana is None:
            raise KeyError(key)
        return iana


def install() -> None:
    """Extend exchangelib's Windows → IANA lookup once per process (idempotent)."""
    if not isinstance(EWSTimeZone.MS_TO_IANA_MAP, _ResolvingMap):
        EWSTimeZone.MS_TO_IANA_MAP = _ResolvingMap(EWSTimeZone.MS_TO_IANA_MAP)


def ews_timezone(name: str | None) -> EWSTimeZone | None:
    """The exchangelib zone for a zone name (IANA, Windows, vendor-prefixed), or None when
    neither exchangelib nor the core's resolver knows it. The zone returned carries the
    Windows id of the CLDR table, which is what Exchange expands a series in."""
    if not name:
        return None
    resolved = resolve_tzid(name)
    for candidate in (name, resolved, _unprefixed(resolved)):
        if not candidate:
            continue
        try:
            return EWSTimeZone(candidate)
        except (UnknownTimeZone, ValueError, KeyError):
            pass
        windows = iana_to_windows(candidate)
        iana = windows_to_iana(windows) if windows else None
        if iana:
            try:
                return EWSTimeZone(iana)
            except (UnknownTimeZone, ValueError, KeyError):
                pass
    return None


#: tzdata's copy of every zone under this folder is the same zone (POSIX-style, no leap seconds)
_POSIX = "posix/"


def _unprefixed(name: str | None) -> str | None:
    """``posix/Europe/Vaduz`` → ``Europe/Vaduz`` (None for other names)."""
    return name[len(_POSIX):] if name and name.startswith(_POSIX) else None


def windows_of(name: str | None) -> str | None:
    """The Windows id Exchange keeps a zone name in (None when it has none)."""
    zone = ews_timezone(name)
    return windows_id(zone) if zone is not None else None


def windows_id(zone: Any) -> str | None:
    return getattr(zone, "ms_id", None)
