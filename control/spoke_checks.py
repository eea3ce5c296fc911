"""Whether a spoke can be stored, and whether it can work: the checks ``spoke add``, ``spoke
options``, ``apply`` and the console's wizard share (nothing here stores anything).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cirahub.connectors.kinds import get_kind
from cirahub.connectors.registry import validate_config
from cirahub.control.connection import ConnectionCheck
from cirahub.core import limits
from cirahub.core.errors import ConfigError, InvalidInput
from cirahub.core.options import SyncOptions


def check_spoke_input(kind: str, config: Mapping[str, Any], secret: str | None) -> dict[str, Any]:
    """The normalized config for a new spoke, or InvalidInput naming what is wrong (unknown
    kind, bad config key, a username without a password)."""
    limits.check_name(kind, field="kind")
    limits.check_config(config)
    limits.check_secret(secret)
    spec = get_kind(kind)
    normalized = validate_config(kind, config)
    if spec.needs_secret(normalized) and not secret:
        what = spec.secret.what if spec.secret else "secret"
        raise InvalidInput(
            f"a {kind} spoke needs a {what}: give it with --password-env VAR or "
            "--password-file FILE (API: the 'secret' field)",
            field="secret", kind=kind,
        )
    return normalized


def awaits_login(config: Mapping[str, Any], secret: str | None) -> bool:
    """A delegated sign-in gets its token from `cirahubctl login` after the spoke is stored:
    nothing can be reached before that."""
    mode = str(config.get("auth_type") or config.get("auth") or "").lower()
    return mode in ("oauth-delegated", "delegated") and not secret


def unusable(kind: str, check: ConnectionCheck, options: SyncOptions) -> str | None:
    """Why a spoke with these options cannot work on what ``check`` found, or None."""
    if check.ok and check.error_code and check.choices:
        names = ", ".join(c.value for c in check.choices)
        return f"{check.message}: the URL holds several calendars ({names}); pick one with --calendar"
    writes = options.hub_writes
    if check.ok and check.allows is not None:
        wanted = {w for w in ("create", "update", "delete") if getattr(writes, w)}
        missing = sorted(wanted - check.allows)
        if missing:
            found = ("the calendar is read-only for this user" if not check.allows else
                     f"this user may only {','.join(sorted(check.allows))} there")
            return (f"{found} (DAV current-user-privilege-set), but hub_writes is "
                    f"{writes}: the hub could not {' or '.join(missing)} items there; give "
                    "the user write access, or set --hub-writes none (the spoke then only "
                    "feeds the hub)")
    if check.ok:
        return None
    if (kind == "vdir" and not (writes.create or writes.update or writes.delete)
            and "writable" in check.message):
        return None  # the hub never writes there: reading is enough
    return check.message


def refuse_unusable(name: str, kind: str, check: ConnectionCheck, options: SyncOptions,
                    what: str = "stored") -> None:
    """ConfigError (FAILED_PRECONDITION, exit 7) with the reason when the spoke cannot work;
    ``what`` says what did not happen ("stored", "changed")."""
    reason = unusable(kind, check, options)
    if reason is not None:
        raise ConfigError(f"spoke {name!r} not {what}: {reason}; fix it, or do it anyway "
                          "with --no-check", spoke=name, kind=kind,
                          check=check.error_code or "unreachable")
