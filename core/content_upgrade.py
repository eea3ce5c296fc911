"""Stored hub contents brought to the current fingerprint version (migration 0009).

A hub item (and every stored version of it) keeps its content, and with it the iCalendar
text it was read from (``source``). What fingerprint version 2 added to the ``verbatim``
field (:data:`cirahub.core.ical_verbatim.V2_KEYS`: STATUS:CONFIRMED, the texts' parameters)
is read from that text again and added to the stored fields, master and overrides alike; the
rest of the content stays exactly as stored (a merged item keeps its merged fields: a
parameter bound to a value the fields no longer have does not apply,
:func:`cirahub.core.ical_verbatim.settled`). So the hub means what a reader of its source now
reads, as an item read today would, and nothing is a change: no hub version moves. A content
without source (from EWS or Graph, or too long to keep) has nothing more to say. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from cirahub.core.ical_verbatim import V2_KEYS
from cirahub.core.item import Item

#: a text that may say what version 2 reads (any STATUS, a parameter of a text): only such
#: texts are parsed again
_MAY_SAY = re.compile(
    r"^(?:STATUS[;:]|(?:SUMMARY|DESCRIPTION|LOCATION|URL|CATEGORIES);)", re.IGNORECASE | re.MULTILINE)


def _with(fields: Mapping[str, Any], parsed: Mapping[str, Any] | None) -> dict[str, Any]:
    out = dict(fields)
    old = out.get("verbatim")
    verbatim = {k: v for k, v in (old or {}).items() if k not in V2_KEYS} if isinstance(
        old, Mapping) else {}
    found = (parsed or {}).get("verbatim")
    if isinstance(found, Mapping):
        verbatim.update({k: found[k] for k in V2_KEYS if k in found})
    if verbatim:
        out["verbatim"] = verbatim
    else:
        out.pop("verbatim", None)
    return out


@lru_cache(maxsize=64)  # the versions of one item mostly share their source text
def _read(source: str, uid: str) -> Item | None:
    from cirahub.core.ical import parse_item  # the parser is heavy: only when needed

    try:
        return parse_item(source, fallback_uid=uid)
    except Exception:  # a text we cannot read again says nothing more
        return None


def upgraded(content: Mapping[str, Any]) -> dict[str, Any] | None:
    """``content`` (``Item.to_json()``) with what its source says beyond fingerprint version 1;
    None when that changes nothing (no source, nothing more said, a source no longer read)."""
    source = content.get("source")
    if not isinstance(source, str) or not _MAY_SAY.search(source):
        return None
    item = Item.from_json(content)
    if item.get("component"):
        return None  # a VTODO, VJOURNAL...: its digest is its content
    parsed = _read(source, item.uid)
    if parsed is None:
        return None
    new = Item(item.uid, _with(item.fields, parsed.fields),
               {k: _with(ov, parsed.overrides.get(k)) for k, ov in item.overrides.items()},
               item.source)
    return None if new == item else new.to_json()


def downgraded(content: Mapping[str, Any]) -> dict[str, Any] | None:
    """``content`` without what version 2 added (None: it had none of it)."""
    item = Item.from_json(content)
    new = Item(item.uid, _with(item.fields, None),
               {k: _with(ov, None) for k, ov in item.overrides.items()}, item.source)
    return None if new == item else new.to_json()
