"""The hub's values behind a projection, kept on the Exchange item so that reading back an item
nobody edited gives exactly what the hub wrote (no endless rewrites, nothing lost).

The writer stores, in the ``HubExtra`` property, for every field :func:`~.projection.project`
changed (and for the overrides as a whole): the hub's value and a digest of the value written.
On read, a field whose value still has that digest is reported with the hub's value; a field
someone edited in Outlook no longer matches and is reported as Exchange holds it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cirahub.core.item import VOLATILE_FIELDS, Item

#: sidecar key of the projected values
KEY = "p"
#: entry name of the overrides (all of them, as one value)
OVERRIDES = "*overrides"

Fields = dict[str, Any]


def digest(value: Any) -> str:
    """A short, stable digest of a canonical value (None included)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _marked(name: str, value: Any, recurring: bool) -> Any:
    """The value a digest is taken of: a single item's times without their zone name (an
    instant is what it means; Exchange reports the zone it keeps it in)."""
    if not recurring and name in ("start", "end") and isinstance(value, Mapping):
        return {k: v for k, v in value.items() if k != "tz"}
    return value


def _overrides(overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Fields]:
    return {k: {f: v for f, v in ov.items() if f not in VOLATILE_FIELDS} for k, ov in sorted(overrides.items())}


def entries(original: Item, projected: Item) -> dict[str, list[Any]]:
    """Sidecar entries: name → [hub value (None = absent), digest of the written value]."""
    out: dict[str, list[Any]] = {}
    recurring = bool(projected.fields.get("rrule"))
    for name in sorted((set(original.fields) | set(projected.fields)) - VOLATILE_FIELDS):
        hub, written = original.fields.get(name), projected.fields.get(name)
        if hub != written:
            out[name] = [hub, digest(_marked(name, written, recurring))]
    hub_ov, written_ov = _overrides(original.overrides), _overrides(projected.overrides)
    if hub_ov != written_ov:
        out[OVERRIDES] = [hub_ov, digest(written_ov)]
    return out


def restore(fields: Fields, overrides: dict[str, Fields], extra: Mapping[str, Any]) -> tuple[Fields, dict[str, Fields]]:
    """``fields``/``overrides`` as read, with every value that still is what the hub wrote
    replaced by the hub's value (see the module docstring)."""
    kept = extra.get(KEY)
    if not isinstance(kept, Mapping) or not kept:
        return fields, overrides
    out = dict(fields)
    recurring = bool(fields.get("rrule"))
    for name, entry in kept.items():
        if not isinstance(entry, list) or len(entry) != 2:
            continue
        hub, mark = entry
        if name == OVERRIDES:
            if isinstance(hub, Mapping) and digest(_overrides(overrides)) == mark:
                overrides = {str(k): dict(v) for k, v in hub.items() if isinstance(v, Mapping)}
            continue
        if digest(_marked(name, out.get(name), recurring)) == mark:
            if hub is None:
                out.pop(name, None)
            else:
                out[name] = hub
    return out, overrides
