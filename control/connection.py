"""Checking a spoke's connection before it is attached, and listing what it could attach.

:func:`test_connection` validates a config like ``AddSpoke`` does, opens the kind's connector
and reaches the calendar once (CalDAV: discovery plus one PROPFIND, which also reads the
user's privileges there; a vdir: the folder is listed; other kinds: one delta), so an operator learns about a wrong URL or password before
anything is stored. When a URL holds several calendars the answer lists them
(:class:`CalendarChoice`), which is what the console's picker shows. Nothing is ever written.

A check retries a server that does not answer (or is busy) for at most
:data:`CHECK_RETRY_SECONDS`, whatever the spoke's ``max_retry_seconds`` says for its runs.

Errors: the config's own problems raise InvalidInput (naming the field); a calendar that cannot
be reached is not raised but answered as ``ok=False`` with the connector's safe message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cirahub.connectors.caldav.dav import writes_allowed
from cirahub.connectors.kinds import get_kind
from cirahub.connectors.registry import open_connector
from cirahub.core.errors import CirahubError, ConfigError

#: subfolders of a vdir path offered in the picker, at most
MAX_CHOICES = 200
#: seconds a check retries a server that does not answer (or is busy), at most: the operator
#: waits for the answer, so a spoke's own ``max_retry_seconds`` (60 s by default, meant for
#: its runs) is capped here (an unreachable Exchange server kept ``spoke add`` waiting 57 s)
CHECK_RETRY_SECONDS = 10.0


@dataclass(frozen=True)
class CalendarChoice:
    """One calendar the connection could attach: ``value`` goes into the config key
    ``key`` (``calendar`` for CalDAV, ``path`` for a vdir)."""

    key: str
    value: str
    label: str


@dataclass(frozen=True)
class ConnectionCheck:
    """What reaching a calendar found. ``allows``: which of create / update / delete the
    server says this user may do there (CalDAV's current-user-privilege-set), None when it
    was not told; the caller compares it with the spoke's ``hub_writes``."""

    ok: bool
    message: str
    choices: tuple[CalendarChoice, ...] = ()
    error_code: str = ""
    error_field: str = ""
    allows: frozenset[str] | None = None


def test_connection(kind: str, config: Mapping[str, Any], secret: str | None) -> ConnectionCheck:
    """Reach the calendar of a spoke that is not attached yet (see the module docstring).
    ``config`` must already be normalized (``check_spoke_input``)."""
    if kind == "vdir":
        return _vdir(config)
    connector: Any = None
    try:
        connector = open_connector(kind, _for_a_check(kind, config), secret)
        if hasattr(connector, "probe"):
            found = connector.probe()
            label = getattr(found, "display_name", None) or getattr(found, "path", "")
            privileges = getattr(found, "privileges", None)
            return ConnectionCheck(True, f"connected: calendar {label}".rstrip(),
                                   _one_caldav(found), allows=None if privileges is None
                                   else writes_allowed(privileges))
        delta = connector.delta(None, {})
        return ConnectionCheck(True, f"connected: {len(delta.changed)} items found")
    except ConfigError as exc:
        names = exc.fields.get("calendars")
        if isinstance(names, list | tuple) and names:
            choices = tuple(CalendarChoice("calendar", str(n), str(n))
                            for n in list(names)[:MAX_CHOICES])
            return ConnectionCheck(True, f"connected: {len(names)} calendars found, pick one",
                                   choices, exc.code, str(exc.fields.get("key") or ""))
        return ConnectionCheck(False, exc.message, (), exc.code, str(exc.fields.get("key") or ""))
    except CirahubError as exc:
        return ConnectionCheck(False, exc.message, (), exc.code)
    finally:
        if connector is not None:
            connector.close()


def _for_a_check(kind: str, config: Mapping[str, Any]) -> Mapping[str, Any]:
    """``config`` with its retries bounded by :data:`CHECK_RETRY_SECONDS`."""
    if not get_kind(kind).retry_bounded:
        return config
    budget = config.get("max_retry_seconds", CHECK_RETRY_SECONDS)
    return {**config, "max_retry_seconds": min(float(budget), CHECK_RETRY_SECONDS)}


def _one_caldav(found: Any) -> tuple[CalendarChoice, ...]:
    path = getattr(found, "path", None)
    if not path:
        return ()
    label = getattr(found, "display_name", None) or path
    return (CalendarChoice("calendar", path, label),)


def _vdir(config: Mapping[str, Any]) -> ConnectionCheck:
    """A vdir: the folder and its subfolders holding .ics files (vdirsyncer's collections)."""
    root = Path(str(config.get("path", "")))
    if not root.exists():
        return ConnectionCheck(True, f"{root} does not exist yet: it is created on the first "
                               "sync", (CalendarChoice("path", str(root), root.name or str(root)),))
    if not root.is_dir():
        return ConnectionCheck(False, f"{root} is not a folder", (), "config_error", "path")
    if not os.access(root, os.R_OK | os.W_OK | os.X_OK):
        return ConnectionCheck(False, f"{root} is not readable and writable by the server",
                               (), "config_error", "path")
    choices = [CalendarChoice("path", str(root), f"{root.name or root} "
                              f"({_count_ics(root)} .ics files)")]
    try:
        subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        return ConnectionCheck(False, f"cannot list {root}: {exc.strerror}", (),
                               "config_error", "path")
    for sub in subs[:MAX_CHOICES - 1]:
        count = _count_ics(sub)
        if count:
            choices.append(CalendarChoice("path", str(sub), f"{sub.name} ({count} .ics files)"))
    return ConnectionCheck(True, f"folder {root} is usable", tuple(choices))


def _count_ics(folder: Path, limit: int = 100_000) -> int:
    count = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".ics"):
                    count += 1
                    if count >= limit:
                        break
    except OSError:
        return 0
    return count
