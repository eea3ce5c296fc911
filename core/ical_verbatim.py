"""What a VEVENT says beyond the semantic model, as digests (the ``verbatim`` field).

The model holds the fields of :mod:`cirahub.core.item`; everything else a VEVENT says
(X- properties, COMMENT, CONTACT, ATTACH, CREATED, RELATED-TO..., an attendee's RSVP or
CUTYPE, the organizer's CN) travels verbatim in the item's ``source``. Without a trace of it
in the fields, an edit touching only those properties would look like no change at all and
would never spread between iCalendar spokes. :func:`verbatim_value` is that trace: the
fingerprint sees it (only on spokes that carry the source text, see
:attr:`cirahub.core.model.Capabilities.carries_source`), so such an edit is a change.

The digest covers *meaning*, not bytes, so a server that re-serializes what it stores is no
edit (checked against Radicale's vobject and Xandikos: tests/fidelity/test_unmodelled.py):

- properties are compared parsed: folding, parameter order and quoting, property order and
  the case of names do not count; ``VALUE`` parameters do not (vobject adds and drops them);
- left out: the modelled properties (their meaning is in the other fields), what the writer
  itself sets on every write (DTSTAMP, SEQUENCE, UID, RECURRENCE-ID), CREATED (no user
  edit changes it; some servers set it on store), subcomponents (VALARMs
  are modelled as reminders and patched by the writer), VTIMEZONEs and the VCALENDAR's own
  properties;
- of ORGANIZER and ATTENDEE, the parameters the model does not hold (all but CN, ROLE,
  PARTSTAT of an attendee; the organizer's CN and the rest) keyed by address;
- since fingerprint version 2 (:data:`cirahub.core.item.FINGERPRINT_VERSION`): a STATUS
  the ``status`` field does not hold (CONFIRMED, held as no status; an unknown value) as
  ``status``, and the parameters of the texts and categories (LANGUAGE, ALTREP...) as
  ``params``, each bound to the value it was written with, so that it no longer applies once
  that value changes (the writer rewrites a changed property without them). These keys are
  apart from the version-1 ones, so that a fingerprint of version 1 is still computed exactly
  (:func:`settled` with ``version=1`` leaves them out).

None when a VEVENT says nothing beyond the model (so an item written from its fields alone
has no digest either). Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from icalendar import Component

from cirahub.core.item import FINGERPRINT_VERSION

#: properties whose meaning the model's fields hold, or that every write sets itself
_LEFT_OUT = frozenset({
    "SUMMARY", "DESCRIPTION", "LOCATION", "URL", "STATUS", "TRANSP", "CLASS", "DTSTART",
    "DTEND", "DURATION", "PRIORITY", "CATEGORIES", "RRULE", "EXDATE", "RDATE",
    "LAST-MODIFIED", "DTSTAMP", "SEQUENCE", "UID", "RECURRENCE-ID", "CREATED",
})
#: the status values the model's ``status`` field holds
_MODELLED_STATUS = frozenset({"TENTATIVE", "CANCELLED"})
#: modelled properties whose parameters (but VALUE) count, by the field holding their value
_PARAMETRIZED = (("SUMMARY", "summary"), ("DESCRIPTION", "description"),
                 ("LOCATION", "location"), ("URL", "url"), ("CATEGORIES", "categories"))
#: the keys of the ``verbatim`` field that fingerprint version 1 did not know
V2_KEYS = ("status", "params")
#: attendee parameters the model holds (name, role, participation status)
_ATTENDEE_MODELLED = frozenset({"CN", "ROLE", "PARTSTAT"})
_PARTIES = frozenset({"ORGANIZER", "ATTENDEE"})


def _params(prop: Any, skip: frozenset[str]) -> list[list[str]]:
    params = getattr(prop, "params", {}) or {}
    out = []
    for key, value in params.items():
        name = str(key).strip().upper()
        if name in skip or name == "VALUE":
            continue
        values = value if isinstance(value, list | tuple) else [value]
        out.append([name, ",".join(str(v) for v in values)])
    return sorted(out)


def _value(prop: Any) -> str:
    to_ical = getattr(prop, "to_ical", None)
    if to_ical is None:
        return str(prop)
    try:
        data = to_ical()
    except Exception:  # a value icalendar holds but cannot write: its text stands for it
        return str(prop)
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)


def _address(prop: Any) -> str:
    value = str(prop).strip()
    if value.lower().startswith("mailto:"):
        value = value[len("mailto:"):]
    return value.strip().lower()


# the encoders ``json.dumps`` builds on each call with these options, built once
_SORT_KEY = json.JSONEncoder(ensure_ascii=False).encode
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_SORTED_COMPACT = json.JSONEncoder(sort_keys=True, ensure_ascii=False,
                                   separators=(",", ":")).encode


def _digest(entries: list[Any]) -> str:
    data = _COMPACT(sorted(entries, key=_SORT_KEY))
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def value_tag(value: Any) -> str:
    """A short digest of a field's canonical value (None: the field is absent)."""
    data = _SORTED_COMPACT(value)
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:12]


def _status(component: Component) -> str | None:
    value = component.get("STATUS")
    if isinstance(value, list):
        value = value[0] if value else None
    text = str(value or "").strip().upper()
    return text if text and text not in _MODELLED_STATUS else None


def _text_params(component: Component, fields: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for name, key in _PARAMETRIZED:
        values = component.get(name)
        lines = values if isinstance(values, list) else [] if values is None else [values]
        params = [p for p in (_params(prop, frozenset()) for prop in lines) if p]
        if params:
            out[key] = f"{value_tag(fields.get(key))}:{_digest(params)}"
    return out


def verbatim_value(component: Component,
                   fields: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """What ``component`` (a VEVENT) says beyond the model, as the ``verbatim`` field:
    ``{"props": digest}`` of its unmodelled properties and ``{"parties": {"ATTENDEE:<address>":
    digest, "ORGANIZER:<address>": digest}}`` of the unmodelled parameters of each party (kept
    apart, so that :func:`settled` can leave out the parties an item no longer has);
    ``{"status": value}`` of a STATUS the model holds as none and ``{"params": {field:
    "<value tag>:<digest>"}}`` of the texts' parameters, given ``fields`` (the component's
    canonical fields, which those parameters are bound to); None when there is nothing."""
    props: list[Any] = []
    parties: dict[str, list[Any]] = {}
    for key, values in component.items():
        name = str(key).strip().upper()
        if name in _LEFT_OUT:
            continue
        for prop in values if isinstance(values, list) else [values]:
            if name in _PARTIES:
                skip = _ATTENDEE_MODELLED if name == "ATTENDEE" else frozenset()
                params = _params(prop, skip)
                if params:
                    parties.setdefault(f"{name}:{_address(prop)}", []).append(params)
            else:
                props.append([name, _value(prop), _params(prop, frozenset())])
    out: dict[str, Any] = {}
    if props:
        out["props"] = _digest(props)
    if parties:
        out["parties"] = {k: _digest(v) for k, v in sorted(parties.items())}
    if fields is not None:
        status = _status(component)
        if status is not None:
            out["status"] = status
        texts = _text_params(component, fields)
        if texts:
            out["params"] = texts
    return out or None


def noted_status(fields: Mapping[str, Any]) -> str | None:
    """The STATUS ``fields`` hold beyond the ``status`` field (CONFIRMED...; None: none)."""
    value = fields.get("verbatim")
    if "status" in fields or not isinstance(value, Mapping):
        return None
    status = value.get("status")
    return str(status) if status else None


def settled(fields: Mapping[str, Any], ignore: frozenset[str] = frozenset(),
            value: Any = None, version: int = FINGERPRINT_VERSION) -> Any:
    """The ``verbatim`` value of ``fields`` (or ``value``, e.g. another text's, written with
    these fields) as far as it still applies: the parameters of parties ``fields`` still has
    (the writer drops a removed attendee's parameters with it, and writes a new one without
    any), none of them when ``ignore`` holds that field; the unmodelled STATUS while the
    ``status`` field is absent; the parameters of a text while it has the value they were
    written with. The value a fingerprint of ``version`` compares (version 1 knew neither
    STATUS nor parameters); None when nothing is left."""
    if value is None:
        value = fields.get("verbatim")
    if type(value) is not dict and not isinstance(value, Mapping):  # dict: the fast check
        return value
    out: dict[str, Any] = {}
    if value.get("props"):
        out["props"] = value["props"]
    held = value.get("parties")
    if held:  # (the parties still there are only looked at when there are parameters)
        emails = set()
        if "attendees" not in ignore:
            emails = {f"ATTENDEE:{a.get('email')}" for a in fields.get("attendees") or ()}
        if "organizer" not in ignore and fields.get("organizer"):
            emails.add(f"ORGANIZER:{fields['organizer']}")
        parties = {k: v for k, v in held.items() if k in emails}
        if parties:
            out["parties"] = parties
    if version >= 2:
        if value.get("status") and "status" not in fields and "status" not in ignore:
            out["status"] = value["status"]
        texts = value.get("params")
        if texts:
            params = {k: v for k, v in texts.items() if k not in ignore
                      and str(v).split(":", 1)[0] == value_tag(fields.get(k))}
            if params:
                out["params"] = params
    return out or None
