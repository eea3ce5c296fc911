"""Semantic fingerprints and identity keys of items.

A fingerprint compares *meaning*: it is a hash of the canonical fields (not the UID) (already normalized at
parse time, see :mod:`cirahub.core.item`), without volatile fields (LAST-MODIFIED) and without
the fields a spoke cannot carry. The zone an instant was written in (``tz``) counts only for
recurring items, where it changes which instants the series expands to; there it is compared
as the zone it means (tz database links resolved, a VTIMEZONE by a digest of its rules), so
``Asia/Calcutta`` and ``Asia/Kolkata``, or a VTIMEZONE re-serialized by a server, are no change.

What a fingerprint compares has a version (:data:`~cirahub.core.item.FINGERPRINT_VERSION`);
stored fingerprints are kept with theirs, and one of an older version is compared with the
same function of that version (``version=``): version 1 did not see the ``verbatim`` keys
:data:`~cirahub.core.ical_verbatim.V2_KEYS` (STATUS:CONFIRMED, the texts' parameters), so it
is exactly the fingerprint the code of that time computed. :func:`increment` is the part a
newer version sees beyond an older one (see :mod:`cirahub.core.fingerprint_versions`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cirahub.core.ical_verbatim import settled
from cirahub.core.item import FINGERPRINT_VERSION, VOLATILE_FIELDS, Item
from cirahub.core.timezones import canonical_zone
from cirahub.core.zone_rules import rules_digest

_TIME_FIELDS = ("start", "end")
_ZONE_KEYS = ("tz", "vtimezone")


def _strip_tz(fields: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for name in _TIME_FIELDS:
        value = out.get(name)
        if isinstance(value, Mapping) and "tz" in value:
            out[name] = {k: v for k, v in value.items() if k not in _ZONE_KEYS}
    return out


def _zone_meaning(fields: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for name in _TIME_FIELDS:
        value = out.get(name)
        if not isinstance(value, Mapping) or "tz" not in value:
            continue
        value = dict(value)
        if "vtimezone" in value:
            value["vtimezone"] = rules_digest(str(value["vtimezone"]))
        else:
            value["tz"] = canonical_zone(str(value["tz"]))
        out[name] = value
    return out


def _kept(fields: Mapping[str, Any], skip: frozenset[str], version: int) -> dict[str, Any]:
    """``fields`` without ``skip``; the ``verbatim`` digest only as far as it still applies
    (:func:`cirahub.core.ical_verbatim.settled`) and as ``version`` saw it."""
    out = {k: v for k, v in fields.items() if k not in skip}
    if isinstance(out.get("summary"), str):  # kept as written; spaces around it mean nothing
        out["summary"] = out["summary"].strip()
    if "verbatim" in out:
        value = settled(fields, skip, version=version)
        if value is None:
            del out["verbatim"]
        else:
            out["verbatim"] = value
    return out


def canonical_content(item: Item, ignore: Iterable[str] = (),
                      version: int = FINGERPRINT_VERSION) -> dict[str, Any]:
    """The part of ``item`` a fingerprint (of ``version``) covers, as a JSON-compatible dict."""
    skip = VOLATILE_FIELDS | frozenset(ignore)
    fields = _kept(item.fields, skip, version)
    fields = _zone_meaning(fields) if item.is_recurring else _strip_tz(fields)
    overrides = {key: _strip_tz(_kept(ov, skip, version)) for key, ov in item.overrides.items()}
    # The UID is identity, not content: the link ties a remote item to its hub item, and an
    # item matched on first attach by summary+start+end may carry another UID.
    return {"fields": fields, "overrides": overrides}


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint(item: Item, ignore: Iterable[str] = (),
                version: int = FINGERPRINT_VERSION) -> str:
    """Hex SHA-256 of :func:`canonical_content`; equal iff the items mean the same
    (under the projection that drops ``ignore``, as fingerprint ``version`` compares)."""
    return _digest(canonical_content(item, ignore, version))


def increment(item: Item, ignore: Iterable[str] = (), since: int = 1) -> str:
    """Hex SHA-256 of what the current fingerprint version sees in ``item`` that version
    ``since`` did not (the ``verbatim`` keys it did not know, of the master and of each
    override): two items whose fingerprints of version ``since`` are equal have equal current
    fingerprints iff their increments are equal."""
    skip = VOLATILE_FIELDS | frozenset(ignore)

    def beyond(fields: Mapping[str, Any]) -> dict[str, Any]:
        now, then = settled(fields, skip), settled(fields, skip, version=since)
        if "verbatim" in skip or not isinstance(now, Mapping):
            return {}
        return {k: v for k, v in now.items() if not isinstance(then, Mapping) or k not in then}

    parts = {key: beyond(ov) for key, ov in item.overrides.items()}
    return _digest({"fields": beyond(item.fields), "overrides": {k: v for k, v in parts.items() if v}})


#: the master fields :func:`match_key` reads: items equal in them have the same match key
MATCH_FIELDS = ("summary", "start", "end")


def same_match_fields(a: Item, b: Item) -> bool:
    """Whether ``a`` and ``b`` agree in :data:`MATCH_FIELDS` (so in their match keys)."""
    return a is b or all(a.get(name) == b.get(name) for name in MATCH_FIELDS)


def match_key(item: Item) -> str | None:
    """Key for first-attach matching of items that lack a common UID: case-folded, space-
    collapsed summary plus start and end instants. None when the item has no summary or start
    (such items are never matched by content)."""
    summary = " ".join(str(item.get("summary") or "").split()).casefold()
    start, end = item.get("start"), item.get("end")
    if not summary or not start:
        return None
    times = _strip_tz({"start": start, "end": end or start})
    data = json.dumps([summary, times["start"], times["end"]], sort_keys=True)
    return hashlib.sha1(data.encode("utf-8")).hexdigest()
