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
import json.encoder
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cirahub.core.ical_verbatim import settled
from cirahub.core.item import FINGERPRINT_VERSION, VOLATILE_FIELDS, Item
from cirahub.core.timezones import canonical_zone
from cirahub.core.zone_rules import rules_digest

_TIME_FIELDS = ("start", "end")
_ZONE_KEYS = ("tz", "vtimezone")


#: what a fingerprint never compares, per ``ignore`` set: the union is made once
_SKIPS: dict[frozenset[str], frozenset[str]] = {}


def _skip(ignore: Iterable[str]) -> frozenset[str]:
    if ignore == ():
        return VOLATILE_FIELDS
    key = ignore if isinstance(ignore, frozenset) else frozenset(ignore)
    skip = _SKIPS.get(key)
    if skip is None:
        skip = _SKIPS[key] = VOLATILE_FIELDS | key
        if len(_SKIPS) > 256:  # a bounded memo: ignore sets are a kind's, a spoke's few
            _SKIPS.clear()
    return skip


def _kept(fields: Mapping[str, Any], skip: frozenset[str], version: int,
          zones: bool = False) -> dict[str, Any]:
    """``fields`` without ``skip``, in one pass: the summary stripped (kept as written; spaces
    around it mean nothing), the ``verbatim`` digest only as far as it still applies
    (:func:`cirahub.core.ical_verbatim.settled`) and as ``version`` saw it, the zone of the
    start and end as the zone it means when ``zones`` (a recurring master), else left out."""
    out = {}
    for name, value in fields.items():
        if name in skip:
            continue
        if name in _TIME_FIELDS:
            # (a plain dict, as parsed: the type check first, an ABC check costs ~1 us)
            if (type(value) is dict or isinstance(value, Mapping)) and "tz" in value:
                value = _zone_of(value) if zones else _no_zone(value)
        elif name == "summary":
            if isinstance(value, str):
                value = value.strip()
        elif name == "verbatim":
            value = settled(fields, skip, version=version)
            if value is None:
                continue
        out[name] = value
    return out


def _zone_of(value: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(value)
    if "vtimezone" in out:
        out["vtimezone"] = rules_digest(str(out["vtimezone"]))
    else:
        out["tz"] = canonical_zone(str(out["tz"]))
    return out


def canonical_content(item: Item, ignore: Iterable[str] = (),
                      version: int = FINGERPRINT_VERSION) -> dict[str, Any]:
    """The part of ``item`` a fingerprint (of ``version``) covers, as a JSON-compatible dict."""
    skip = _skip(ignore)
    fields = _kept(item.fields, skip, version, item.is_recurring)
    overrides = {key: _kept(ov, skip, version) for key, ov in item.overrides.items()}
    # The UID is identity, not content: the link ties a remote item to its hub item, and an
    # item matched on first attach by summary+start+end may carry another UID.
    return {"fields": fields, "overrides": overrides}


def _encoder(separators: tuple[str, str], ensure_ascii: bool) -> Callable[[Any], str]:
    """``json.dumps(data, sort_keys=True, separators=..., ensure_ascii=...)``, made once: the
    C encoder that dumps runs (without an encoder and a C encoder built per call, ~2 us of
    ~15), else the encoder's own ``encode``. No circular check: the data are trees."""
    encoder = json.JSONEncoder(sort_keys=True, separators=separators, ensure_ascii=ensure_ascii)
    make = getattr(json.encoder, "c_make_encoder", None)
    strings = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    try:
        run = make(None, encoder.default, strings, None, separators[1], separators[0],
                   True, False, True) if make is not None else None
    except TypeError:  # another signature (another Python): the public way
        run = None
    if run is None:
        return encoder.encode
    return lambda data: "".join(run(data, 0))


_ENCODE = _encoder((",", ":"), ensure_ascii=False)
#: ``json.dumps(data, sort_keys=True)`` (match keys)
_ENCODE_KEY = _encoder((", ", ": "), ensure_ascii=True)


def _digest(data: Any) -> str:
    return hashlib.sha256(_ENCODE(data).encode("utf-8")).hexdigest()


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
    skip = _skip(ignore)

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
    fields = item.fields
    summary = " ".join(str(fields.get("summary") or "").split()).casefold()
    start = fields.get("start")
    if not summary or not start:
        return None
    end = fields.get("end") or start
    data = _ENCODE_KEY([summary, _no_zone(start), _no_zone(end)])
    return hashlib.sha1(data.encode("utf-8")).hexdigest()


def _no_zone(value: Any) -> Any:
    """A time value without the zone it was written in (an instant is one in any zone)."""
    if (type(value) is dict or isinstance(value, Mapping)) and "tz" in value:
        return {k: v for k, v in value.items() if k not in _ZONE_KEYS}
    return value
