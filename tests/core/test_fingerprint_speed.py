"""The faster fingerprint and match key (one pass over the fields, the skip set and the JSON encoder made once,
``settled`` looking at parties only when there are any) is bit-identical to the implementation
it replaced, kept here as the reference; so is :func:`overlay_uncarried`'s shortcut when a
spoke carries everything."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from cirahub.core import ical
from cirahub.core.errors import MalformedItem
from cirahub.core.fingerprint import fingerprint, increment, match_key
from cirahub.core.ical_verbatim import value_tag
from cirahub.core.item import FINGERPRINT_VERSION, VOLATILE_FIELDS, Item
from cirahub.core.model import Capabilities
from cirahub.core.options import SyncOptions
from cirahub.core.projection import (
    MEETING_FIELDS,
    _overlay_fields,
    carried_fields,
    carry_all,
    overlay_uncarried,
)
from cirahub.core.timezones import canonical_zone
from cirahub.core.zone_rules import rules_digest
from tests.core import ical_samples
from tests.core.fast_texts import COMMON_SHAPES, calendar_texts, plain_event
from tests.core.fingerprint_samples import SAMPLES

# --- the reference: core/fingerprint.py and ical_verbatim.settled as they were (2dd89f9) ------

_TIME_FIELDS = ("start", "end")
_ZONE_KEYS = ("tz", "vtimezone")


def _old_settled(fields: Mapping[str, Any], ignore: frozenset[str] = frozenset(),
                 value: Any = None, version: int = FINGERPRINT_VERSION) -> Any:
    if value is None:
        value = fields.get("verbatim")
    if not isinstance(value, Mapping):
        return value
    emails = set()
    if "attendees" not in ignore:
        emails = {f"ATTENDEE:{a.get('email')}" for a in fields.get("attendees") or ()}
    if "organizer" not in ignore and fields.get("organizer"):
        emails.add(f"ORGANIZER:{fields['organizer']}")
    out: dict[str, Any] = {}
    if value.get("props"):
        out["props"] = value["props"]
    parties = {k: v for k, v in (value.get("parties") or {}).items() if k in emails}
    if parties:
        out["parties"] = parties
    if version >= 2:
        if value.get("status") and "status" not in fields and "status" not in ignore:
            out["status"] = value["status"]
        params = {k: v for k, v in (value.get("params") or {}).items()
                  if k not in ignore and str(v).split(":", 1)[0] == value_tag(fields.get(k))}
        if params:
            out["params"] = params
    return out or None


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
    out = {k: v for k, v in fields.items() if k not in skip}
    if isinstance(out.get("summary"), str):
        out["summary"] = out["summary"].strip()
    if "verbatim" in out:
        value = _old_settled(fields, skip, version=version)
        if value is None:
            del out["verbatim"]
        else:
            out["verbatim"] = value
    return out


def _old_canonical(item: Item, ignore: Iterable[str], version: int) -> dict[str, Any]:
    skip = VOLATILE_FIELDS | frozenset(ignore)
    fields = _kept(item.fields, skip, version)
    fields = _zone_meaning(fields) if item.is_recurring else _strip_tz(fields)
    overrides = {key: _strip_tz(_kept(ov, skip, version)) for key, ov in item.overrides.items()}
    return {"fields": fields, "overrides": overrides}


def _old_digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def old_fingerprint(item: Item, ignore: Iterable[str] = (),
                    version: int = FINGERPRINT_VERSION) -> str:
    return _old_digest(_old_canonical(item, ignore, version))


def old_increment(item: Item, ignore: Iterable[str] = (), since: int = 1) -> str:
    skip = VOLATILE_FIELDS | frozenset(ignore)

    def beyond(fields: Mapping[str, Any]) -> dict[str, Any]:
        now, then = _old_settled(fields, skip), _old_settled(fields, skip, version=since)
        if "verbatim" in skip or not isinstance(now, Mapping):
            return {}
        return {k: v for k, v in now.items() if not isinstance(then, Mapping) or k not in then}

    parts = {key: beyond(ov) for key, ov in item.overrides.items()}
    return _old_digest({"fields": beyond(item.fields),
                        "overrides": {k: v for k, v in parts.items() if v}})


def old_match_key(item: Item) -> str | None:
    summary = " ".join(str(item.get("summary") or "").split()).casefold()
    start, end = item.get("start"), item.get("end")
    if not summary or not start:
        return None
    times = _strip_tz({"start": start, "end": end or start})
    data = json.dumps([summary, times["start"], times["end"]], sort_keys=True)
    return hashlib.sha1(data.encode("utf-8")).hexdigest()


def old_overlay(item: Item, source: Item | None, carried: Any) -> Item:
    src_master = source.fields if source is not None else None
    overrides = {}
    for key, ov in item.overrides.items():
        src = source.overrides.get(key, src_master) if source is not None else None
        overrides[key] = _overlay_fields(ov, src, carried)
    return Item(item.uid, _overlay_fields(item.fields, src_master, carried), overrides,
                item.source)


# --- the comparison ---------------------------------------------------------------------------

#: ignore sets spokes use: none, a lossy kind's, meetings as appointments, no source, odd ones
IGNORES: tuple[Iterable[str], ...] = (
    (), frozenset(), ["verbatim"], frozenset({"attendees"}), MEETING_FIELDS,
    frozenset({"summary", "location", "alarms"}), frozenset({"status", "description"}),
    frozenset({"start", "end"}), ("organizer",), frozenset({"last_modified"}),
)


def _items(text: str) -> list[Item]:
    try:
        return ical.parse_calendar(text, identity="vdir:x.ics")
    except MalformedItem:
        return []


def _same(item: Item) -> None:
    for ignore in IGNORES:
        for version in (1, FINGERPRINT_VERSION):
            assert fingerprint(item, ignore, version) == old_fingerprint(item, ignore, version)
        assert increment(item, ignore) == old_increment(item, ignore)
    assert match_key(item) == old_match_key(item)
    carried = carried_fields(SyncOptions(), Capabilities(carries_source=True), item)
    assert carried is carry_all
    for source in (None, item):
        new, old = overlay_uncarried(item, source, carried), old_overlay(item, source, carried)
        assert new == old and new.source == old.source


CORPUS = {
    **SAMPLES,
    **{name: getattr(ical_samples, name) for name in dir(ical_samples) if name.isupper()
       and isinstance(getattr(ical_samples, name), str)},
    **{f"shape:{case}": plain_event(case) for case in COMMON_SHAPES},
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_fingerprint_is_the_old_one_over_the_samples(name: str) -> None:
    items = _items(CORPUS[name])
    assert items
    for item in items:
        _same(item)


def test_the_fingerprint_is_the_old_one_over_the_bench_events() -> None:
    from bench.calendars import event_text
    for i in range(40):  # every shape the bench makes (series, parties, alarms...)
        for item in _items(event_text(f"b{i}@example.com", i)):
            _same(item)


def test_the_fingerprint_is_the_old_one_for_odd_values() -> None:
    """Values a reader never makes but a stored item may hold: a Mapping that is no dict,
    a summary that is no string, an empty verbatim, an override keeping its zone."""
    from types import MappingProxyType
    item = Item("odd", {
        "summary": 5, "start": MappingProxyType({"utc": "2027-01-05T09:00:00Z", "tz": "UTC"}),
        "end": "2027", "verbatim": {}, "rrule": "FREQ=DAILY",
    }, {"20270106T090000Z": {"summary": "  x ", "start": {"utc": "x", "tz": "Asia/Calcutta"},
                              "verbatim": {"props": "p", "parties": {}}}})
    _same(item)
    _same(Item("v", {"summary": " s ", "verbatim": "text", "last_modified": "x"}))
    _same(Item("k", {"summary": "Caf\u00e9 \u00dcber  Stra\u00dfe\t\n", "start": {"date": "2027-01-05"}}))
    _same(Item("z", {"summary": "x", "start": {"utc": "2027-01-05T09:00:00Z", "tz": "UTC",
                                               "vtimezone": "BEGIN:VTIMEZONE"}, "end": None}))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar_texts())
def test_the_fingerprint_is_the_old_one_over_random_texts(text: str) -> None:
    for item in _items(text):
        _same(item)
