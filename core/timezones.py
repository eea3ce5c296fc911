"""Time zone names: Windows ↔ IANA, and resolution of the TZIDs found in the wild.

The Windows ↔ IANA table is CLDR's ``windowsZones.xml``, kept as data in
:mod:`cirahub.core.windows_zones`.

Pure lookups; the only data read is the zoneinfo database the standard library ships with.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

from cirahub.core.windows_zones import WINDOWS_ZONES as _WINDOWS_ZONES

#: names that all mean UTC; normalized to "UTC" so that Z, Etc/UTC and the Windows "UTC"
#: give the same canonical ``tz``
_UTC_NAMES = frozenset(
    {"utc", "z", "gmt", "etc/utc", "etc/gmt", "etc/uct", "etc/zulu", "etc/universal",
     "etc/greenwich", "etc/gmt0", "etc/gmt+0", "etc/gmt-0", "gmt0", "gmt+0", "gmt-0", "uct",
     "universal", "zulu", "greenwich", "coordinated universal time", "tzone://microsoft/utc"}
)

#: Windows display names with no city in them ("(UTC-05:00) Eastern Time (US & Canada)")
_DISPLAY_NAMES = {
    "eastern time (us & canada)": "America/New_York",
    "central time (us & canada)": "America/Chicago",
    "mountain time (us & canada)": "America/Denver",
    "pacific time (us & canada)": "America/Los_Angeles",
    "atlantic time (canada)": "America/Halifax",
    "alaska": "America/Anchorage",
    "hawaii": "Pacific/Honolulu",
    "arizona": "America/Phoenix",
    "coordinated universal time": "UTC",
}


def _names(entry: str | tuple[str, ...]) -> list[str]:
    return "".join(entry).split() if isinstance(entry, tuple) else entry.split()


@cache
def _tables() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(lower-case Windows id → IANA, IANA → Windows id, lower-case Windows id → Windows id)."""
    win_to_iana: dict[str, str] = {}
    iana_to_win: dict[str, str] = {}
    win_case: dict[str, str] = {}
    for windows, entry in _WINDOWS_ZONES.items():
        names = _names(entry)
        win_to_iana[windows.lower()] = names[0]
        win_case[windows.lower()] = windows
        for name in names:
            iana_to_win.setdefault(name, windows)
    return win_to_iana, iana_to_win, win_case


@cache
def _links() -> dict[str, str]:
    """IANA link name → target zone, from the ``tzdata`` package (empty if not installed)."""
    try:
        text = resources.files("tzdata").joinpath("zoneinfo/tzdata.zi").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError):
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("L "):
            _, target, name = line.split()
            out[name] = target
    return out


def windows_to_iana(name: str) -> str | None:
    """IANA zone for a Windows zone id (case-insensitive), e.g. ``"W. Europe Standard Time"``
    → ``"Europe/Berlin"``; ``"UTC"`` → ``"UTC"``. None for an unknown name."""
    return _tables()[0].get(name.strip().lower())


def iana_to_windows(name: str) -> str | None:
    """Windows zone id for an IANA zone, e.g. ``"Europe/Amsterdam"`` → ``"W. Europe Standard
    Time"``. Accepts every zone CLDR lists, UTC aliases, and tzdata link names (``US/Eastern``,
    ``Asia/Calcutta``) through their target. None when there is no Windows zone."""
    name = name.strip()
    table = _tables()[1]
    if name in table:
        return table[name]
    if name.lower() in _UTC_NAMES:
        return "UTC"
    target = _links().get(name)
    if target is not None:
        if target in table:
            return table[target]
        # a merged zone (e.g. a link to a zone CLDR lists under another link name)
        for listed, windows in table.items():
            if _links().get(listed) == target:
                return windows
    return None


def is_iana(name: str) -> bool:
    """Whether ``name`` is a zone the zoneinfo database knows."""
    if not name or name.startswith("/") or ".." in name or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ValueError, OSError, KeyError):
        return False
    return True


@cache
def _city_index() -> dict[str, str]:
    """Lower-case city ("new york") → IANA zone, for Windows display names."""
    out: dict[str, str] = {}
    for zone in sorted(available_timezones()):
        if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "US/", "Canada/")):
            out.setdefault(zone.rsplit("/", 1)[1].replace("_", " ").lower(), zone)
    return out


_DISPLAY = re.compile(r"^\(\s*(?:UTC|GMT)\s*(?:[+-]\d{1,2}(?:[:.]?\d{2})?)?\s*\)\s*(.*)$", re.I)


def _from_display_name(rest: str) -> str | None:
    key = rest.strip().lower()
    if key in _DISPLAY_NAMES:
        return _DISPLAY_NAMES[key]
    cities = _city_index()
    for part in re.split(r"[,/]", rest):
        zone = cities.get(part.strip().lower())
        if zone is not None:
            return zone
    return None


def _canonical(name: str) -> str:
    return "UTC" if name.lower() in _UTC_NAMES else name


def resolve_tzid(tzid: str) -> str | None:
    """The IANA zone a TZID parameter means, or None when it names no zone we know.

    Accepts, in order: IANA names (validated against zoneinfo), Windows zone ids, UTC
    aliases (all normalized to ``"UTC"``), path-prefixed names that calendar programs write
    (``/mozilla.org/20050126_1/Europe/Berlin``, ``/softwarestudio.org/.../America/New_York``),
    quoted names, and Windows display names (``(UTC+01:00) Amsterdam, Berlin, ...``).
    """
    name = tzid.strip().strip('"').strip()
    if not name:
        return None
    if name.lower() in _UTC_NAMES:
        return "UTC"
    if is_iana(name):
        return _canonical(name)
    windows = windows_to_iana(name)
    if windows is not None:
        return windows
    if "/" in name:
        parts = [p for p in name.split("/") if p]
        for i in range(len(parts)):
            candidate = "/".join(parts[i:])
            if candidate == name:
                continue
            if "/" in candidate or candidate.lower() in _UTC_NAMES:
                resolved = resolve_tzid(candidate)
                if resolved is not None:
                    return resolved
    match = _DISPLAY.match(name)
    if match:
        return _from_display_name(match.group(1)) or _fixed_offset(name)
    return _fixed_offset(name)


_FIXED = re.compile(r"^\(?\s*(?:UTC|GMT)\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?\s*\)?$", re.I)


def _fixed_offset(name: str) -> str | None:
    """``GMT+01:00`` / ``UTC-5`` (whole hours only) → the ``Etc/GMT∓N`` zone (POSIX sign)."""
    match = _FIXED.match(name.strip())
    if not match or (match.group(3) or "00") != "00":
        return None
    hours = int(match.group(2))
    if hours == 0:
        return "UTC"
    zone = f"Etc/GMT{'-' if match.group(1) == '+' else '+'}{hours}"
    return zone if is_iana(zone) else None


def preferred_iana_zones() -> tuple[str, ...]:
    """The IANA zone each Windows zone maps to (CLDR territory "001"), in table order."""
    return tuple(_names(entry)[0] for entry in _WINDOWS_ZONES.values())


def canonical_zone(name: str) -> str:
    """The zone ``name`` is a link to in the tz database (``Asia/Calcutta`` →
    ``Asia/Kolkata``, ``Europe/Stockholm`` → ``Europe/Berlin`` since 2022), else ``name``:
    two names with the same target mean the same rules, so fingerprints compare targets."""
    seen = 0
    while name in _links() and seen < 8:
        name, seen = _links()[name], seen + 1
    return _canonical(name)
