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
  PARTSTAT of an attendee; the organizer's CN and the rest) keyed by address.

None when a VEVENT says nothing beyond the model (so an item written from its fields alone
has no digest either). Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from icalendar import Component

#: properties whose meaning the model's fields hold, or that every write sets itself
_LEFT_OUT = frozenset({
    "SUMMARY", "DESCRIPTION", "LOCATION", "URL", "STATUS", "TRANSP", "CLASS", "DTSTART",
    "DTEND", "DURATION", "PRIORITY", "CATEGORIES", "RRULE", "EXDATE", "RDATE",
    "LAST-MODIFIED", "DTSTAMP", "SEQUENCE", "UID", "RECURRENCE-ID", "CREATED",
})
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


def _digest(entries: list[Any]) -> str:
    data = json.dumps(sorted(entries, key=lambda e: json.dumps(e, ensure_ascii=False)),
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def verbatim_value(component: Component) -> dict[str, Any] | None:
    """What ``component`` (a VEVENT) says beyond the model, as the ``verbatim`` field:
    ``{"props": digest}`` of its unmodelled properties and ``{"parties": {"ATTENDEE:<address>":
    digest, "ORGANIZER:<address>": digest}}`` of the unmodelled parameters of each party (kept
    apart, so that :func:`settled` can leave out the parties an item no longer has); None when
    there is nothing."""
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
    return out or None


def settled(fields: Mapping[str, Any], ignore: frozenset[str] = frozenset(),
            value: Any = None) -> Any:
    """The ``verbatim`` value of ``fields`` (or ``value``, e.g. another text's, written with
    these fields) as far as it still applies: the parameters of parties ``fields`` still has
    (the writer drops a removed attendee's parameters with it, and writes a new one without
    any), none of them when ``ignore`` holds that field. The value a fingerprint compares;
    None when nothing is left."""
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
    return out or None
