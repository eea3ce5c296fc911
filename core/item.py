"""The canonical calendar item: one event series (or single event) in normalized form.

An :class:`Item` is a plain value: a UID, a mapping of *canonical fields* to *canonical
values*, and the overridden occurrences of a series keyed by their RECURRENCE-ID. Canonical
values are JSON-compatible (str, int, bool, list, dict) and already normalized, so two items
that *mean* the same thing compare equal and have the same fingerprint, whatever spoke they
came from.

Field vocabulary (absent key = property not set; defaults are normalized *away*, so
``status: CONFIRMED`` is stored as absent):

================  ===========================================================================
``summary``       str as written (``\r\n`` → ``\n``; readers show its spaces), compared
                  stripped by the fingerprint
``description``   str, ``\\r\\n`` → ``\\n``, trailing white space stripped
``location``      str
``start``         time value (see below)
``end``           time value; always present (DURATION and defaults resolved: an all-day
                  item without DTEND or DURATION covers its day; DTEND = DTSTART is zero-length)
``status``        ``"TENTATIVE"`` | ``"CANCELLED"`` (CONFIRMED/absent = absent; an explicit
                  CONFIRMED is noted in ``verbatim``)
``transparency``  ``"TRANSPARENT"`` (free); OPAQUE/absent = absent
``privacy``       ``"PRIVATE"`` | ``"CONFIDENTIAL"`` (PUBLIC/absent = absent)
``categories``    sorted list of unique str
``importance``    ``"high"`` | ``"low"`` (normal = absent); from/to iCal PRIORITY
``alarms``        sorted list of int: minutes before start of each display reminder
``rrule``         canonical RRULE string (keys in RFC order, UNTIL in UTC or a date)
``more_rrules``   sorted list of the further canonical RRULEs of a series with several (RFC
                  5545 allows it; the reference reader expands them all); only with ``rrule``
``exdates``       sorted list of occurrence keys (see below)
``rdates``        sorted list of occurrence keys
``organizer``     lower-case e-mail address
``attendees``     list of {"email", "name", "role", "partstat"} sorted by email
``url``           str
``range``         ``"THISANDFUTURE"`` in an override whose RECURRENCE-ID has that RANGE: its
                  shift, duration and fields apply to every later occurrence too (see
                  :func:`cirahub.core.recurrence.expand_this_and_future`)
``component``     the component name of an item that is not an event (absent = VEVENT):
                  ``"VTODO"``, ``"VJOURNAL"``, ``"VFREEBUSY"``, ``"VAVAILABILITY"``, a custom
                  one...; such an item has only ``summary``, ``content`` and ``last_modified``
``content``       digest of such a component's properties (what an edit changes); the
                  component itself travels in ``source``
``verbatim``      digests of what a VEVENT says beyond these fields (X- properties, an
                  attendee's RSVP, the organizer's CN...: see :mod:`cirahub.core.ical_verbatim`),
                  which travels in ``source``; compared only by spokes that carry the source;
                  since fingerprint version 2 also a STATUS ``status`` does not hold and the
                  parameters of the texts (LANGUAGE, ALTREP...)
``last_modified`` UTC instant string; *not* part of the fingerprint, feeds the conflict policy
================  ===========================================================================

Time values:

- all-day: ``{"date": "2026-03-01"}`` — a date stays a date, never a UTC midnight;
- instant: ``{"utc": "2026-03-01T09:00:00Z", "tz": "Europe/Berlin"}`` — ``tz`` is the IANA
  zone it was written in (Windows names, vendor prefixes and VTIMEZONEs whose rules match an
  IANA zone are mapped), kept for writing back and for series expansion, and compared only
  for recurring items (where it changes the meaning). A zone only a VTIMEZONE defines keeps
  its TZID as ``tz`` and the VTIMEZONE text as ``vtimezone``;
- floating: ``{"floating": "2026-03-01T09:00:00"}``.

Occurrence keys (for ``exdates``, ``rdates`` and override keys) are the UTC instant string
``"20260301T090000Z"`` or the date ``"20260301"`` for all-day series.

Besides the fields, an item may keep its ``source``: the iCalendar text it was read from
(one VCALENDAR holding only this UID's components and their VTIMEZONEs). It is *not*
content: equality, fingerprints and the merge ignore it. The iCalendar writer starts from it,
so what the model does not represent (X- properties, parameters, SEQUENCE, CREATED, unknown
components) travels verbatim between iCalendar spokes and an unchanged item is written
byte-identical (see :mod:`cirahub.core.ical_patch`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

#: every canonical field name, in the order they are written
FIELDS: tuple[str, ...] = (
    "summary",
    "description",
    "location",
    "start",
    "end",
    "status",
    "transparency",
    "privacy",
    "categories",
    "importance",
    "alarms",
    "rrule",
    "more_rrules",
    "exdates",
    "rdates",
    "organizer",
    "attendees",
    "url",
    "range",
    "component",
    "content",
    "verbatim",
    "last_modified",
)

#: fields that never take part in the fingerprint or in the field-level merge
VOLATILE_FIELDS: frozenset[str] = frozenset({"last_modified"})

#: the version of :func:`cirahub.core.fingerprint.fingerprint` (what it compares); stored
#: beside every link, pending-write and deleted-copy fingerprint (docs/sync.md, "Fingerprint
#: versions"). 1: until 2026-12; 2: also STATUS:CONFIRMED and the parameters of the texts
FINGERPRINT_VERSION = 2

#: fields an override (one RECURRENCE-ID occurrence) may carry
OVERRIDE_FIELDS: tuple[str, ...] = tuple(
    f for f in FIELDS
    if f not in ("rrule", "more_rrules", "exdates", "rdates", "component", "content")
)

#: prefix of the pseudo-fields that stand for overrides in :meth:`Item.flat`
OVERRIDE_PREFIX = "override:"

#: a source text longer than this is not kept (the item is still carried by its fields)
MAX_SOURCE_CHARS = 256 * 1024


def _freeze(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Item:
    """A normalized calendar item (one VEVENT series with its overrides, or one event).

    ``fields`` holds master fields, ``overrides`` maps an occurrence key to the fields of that
    overridden occurrence (its full field set, as RECURRENCE-ID VEVENTs carry one).
    ``source`` is the iCalendar text it came from (not content, see the module docstring).
    Instances are immutable values; build changed copies with :meth:`replace`.
    """

    uid: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str | None = None

    def __post_init__(self) -> None:
        if self.source is not None and len(self.source) > MAX_SOURCE_CHARS:
            object.__setattr__(self, "source", None)
        object.__setattr__(self, "fields", _freeze(self.fields))
        object.__setattr__(
            self, "overrides", _freeze({k: _freeze(v) for k, v in self.overrides.items()})
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return (
            self.uid == other.uid
            and dict(self.fields) == dict(other.fields)
            and {k: dict(v) for k, v in self.overrides.items()}
            == {k: dict(v) for k, v in other.overrides.items()}
        )

    def __hash__(self) -> int:
        return hash((self.uid, tuple(sorted(self.fields))))

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    @property
    def is_recurring(self) -> bool:
        return "rrule" in self.fields or "rdates" in self.fields

    @property
    def is_all_day(self) -> bool:
        return "date" in (self.fields.get("start") or {})

    def replace(self, **fields: Any) -> Item:
        """A copy with ``fields`` set; a value of ``None`` removes the field."""
        new = dict(self.fields)
        for name, value in fields.items():
            if value is None:
                new.pop(name, None)
            else:
                new[name] = value
        return Item(self.uid, new, self.overrides, self.source)

    def with_source(self, source: str | None) -> Item:
        """The same content with another ``source`` (None: written from the fields alone)."""
        return Item(self.uid, self.fields, self.overrides, source)

    def flat(self) -> dict[str, Any]:
        """Master fields plus one pseudo-field ``override:<key>`` per override (value: its
        field dict). The field-level merge works on this flat view, so two spokes editing
        different occurrences of one series both win."""
        out: dict[str, Any] = dict(self.fields)
        for key, fields in self.overrides.items():
            out[OVERRIDE_PREFIX + key] = dict(fields)
        return out

    @classmethod
    def from_flat(cls, uid: str, flat: Mapping[str, Any], source: str | None = None) -> Item:
        """Inverse of :meth:`flat`."""
        fields = {k: v for k, v in flat.items() if not k.startswith(OVERRIDE_PREFIX)}
        overrides = {
            k[len(OVERRIDE_PREFIX):]: v for k, v in flat.items() if k.startswith(OVERRIDE_PREFIX)
        }
        return cls(uid, fields, overrides, source)

    def to_json(self) -> dict[str, Any]:
        """JSON-compatible form (what the store keeps); ``source`` only when there is one."""
        out: dict[str, Any] = {
            "uid": self.uid,
            "fields": dict(self.fields),
            "overrides": {k: dict(v) for k, v in sorted(self.overrides.items())},
        }
        if self.source is not None:
            out["source"] = self.source
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Item:
        return cls(
            data["uid"], data.get("fields", {}), data.get("overrides", {}), data.get("source")
        )
