"""What a spoke carries: the write transforms the hub applies to a spoke, and their inverse.

The hub writes to a spoke a *projection* of a hub item (:func:`project_for_spoke`): fields the
spoke cannot carry or must not receive are dropped, the spoke's tag category is added, and a
private item becomes a "Busy" block in busy mode. Everything the planner compares for a spoke
goes through :func:`spoke_fingerprint`, which ignores exactly the dropped fields, so

    ``spoke_fingerprint(project_for_spoke(x))`` is what a link stores after writing ``x``

and reading back what was written is recognized as an echo. In the other direction
:func:`carried_fields` says which fields a spoke may contribute to the hub and
:func:`from_spoke` undoes the tag transform on incoming content. Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import OVERRIDE_PREFIX, Item
from cirahub.core.model import Capabilities
from cirahub.core.options import PrivateMode, SyncOptions

#: privacy values that make an item private
PRIVATE_VALUES: frozenset[str] = frozenset({"PRIVATE", "CONFIDENTIAL"})
#: fields a busy block does not show (categories keep only the tag)
BUSY_MASKED: frozenset[str] = frozenset(
    {"summary", "description", "location", "attendees", "organizer", "categories", "url",
     "verbatim"}  # a busy block is written from its fields alone: nothing beyond them
)
#: the summary of a busy block
BUSY_SUMMARY = "Busy"
#: fields dropped when meetings are written as appointments (so no invitation is ever sent)
MEETING_FIELDS: frozenset[str] = frozenset({"organizer", "attendees"})

#: fields only a kind holding the iCalendar text can carry (``Capabilities.carries_source``)
ICALENDAR_ONLY: frozenset[str] = frozenset({"verbatim"})

#: a predicate over field names / flat keys: may the spoke contribute this field?
Carried = Callable[[str], bool]


def carry_all(name: str) -> bool:
    """The :data:`Carried` of a spoke that carries every field (nothing to overlay)."""
    return True


def is_private(item: Item | None) -> bool:
    """Whether ``item`` is marked PRIVATE or CONFIDENTIAL (master level)."""
    return item is not None and item.get("privacy") in PRIVATE_VALUES


def ignored_fields(options: SyncOptions, caps: Capabilities) -> frozenset[str]:
    """Fields never written to and never taken from this spoke: what its kind cannot carry,
    organizer/attendees when meetings are written as appointments, alarms when reminders
    are off, :data:`ICALENDAR_ONLY` where the kind holds no iCalendar text. The same names
    are dropped inside overrides."""
    out = set(caps.unsupported_fields)
    if not caps.carries_source:
        out |= ICALENDAR_ONLY
    if options.meetings_as_appointments:
        out |= MEETING_FIELDS
    if not options.reminders:
        out.add("alarms")
    return frozenset(out)


def _busy(options: SyncOptions, item: Item) -> bool:
    return options.private == PrivateMode.BUSY and is_private(item)


def _project_fields(
    fields: Mapping[str, Any], ignored: frozenset[str], tag: str | None, busy: bool
) -> dict[str, Any]:
    out = {k: v for k, v in fields.items() if k not in ignored}
    if busy:
        for name in BUSY_MASKED:
            out.pop(name, None)
        out["summary"] = BUSY_SUMMARY
    if tag is not None and "categories" not in ignored:
        existing = [] if busy else list(out.get("categories") or ())
        out["categories"] = sorted(set(existing) | {tag})
    return out


def project_for_spoke(item: Item, options: SyncOptions, caps: Capabilities) -> Item:
    """The content the hub writes to this spoke for hub item content ``item``.

    Ignored fields are dropped (also inside overrides); ``tag_category`` is added to the
    categories (sorted, unique) of the master and of every override, unless the spoke cannot
    carry categories; a private item in busy mode keeps its times, recurrence and status but
    shows summary "Busy" and no description, location, attendees, organizer, URL or
    categories other than the tag. Idempotent under :func:`spoke_fingerprint`. The
    item's ``source`` text is kept (the writer patches it), except for a busy block.
    """
    ignored = ignored_fields(options, caps)
    busy = _busy(options, item)
    tag = options.tag_category
    return Item(
        item.uid,
        _project_fields(item.fields, ignored, tag, busy),
        {k: _project_fields(ov, ignored, tag, busy) for k, ov in item.overrides.items()},
        # a busy block must not carry what the source text says beyond the fields (X-ALT-DESC,
        # comments...): it is written from its fields alone
        None if busy else item.source,
    )


def spoke_fingerprint(item: Item, options: SyncOptions, caps: Capabilities) -> str:
    """Fingerprint of ``item`` as this spoke can tell it apart (ignored fields excluded)."""
    return fingerprint(item, ignore=ignored_fields(options, caps))


def carried_fields(
    options: SyncOptions,
    caps: Capabilities,
    remote_item: Item | None,
    hub_item: Item | None = None,
) -> Carried:
    """Predicate over field names and :meth:`Item.flat` keys: may this spoke contribute it?

    Not carried: the ignored fields, and for a private item in busy mode (private in the
    spoke *or* in the hub, so un-marking a busy block in the spoke never turns "Busy" into
    the hub's title) the masked fields. Override keys (``override:<key>``) are carried as a
    whole; the same predicate applied to an override's own field names says which of its
    fields are (see :func:`overlay_uncarried`).
    """
    ignored = ignored_fields(options, caps)
    masked = (
        BUSY_MASKED
        if options.private == PrivateMode.BUSY and (is_private(remote_item) or is_private(hub_item))
        else frozenset()
    )
    blocked = ignored | masked
    if not blocked:
        return carry_all

    def carried(name: str) -> bool:
        return name.startswith(OVERRIDE_PREFIX) or name not in blocked

    return carried


def _strip_tag(fields: Mapping[str, Any], tag: str, keep: bool) -> dict[str, Any]:
    out = dict(fields)
    categories = out.get("categories")
    if keep or not categories or tag not in categories:
        return out
    rest = [c for c in categories if c != tag]
    if rest:
        out["categories"] = rest
    else:
        out.pop("categories")  # an empty list is normalized away (absent)
    return out


def _has_tag(fields: Mapping[str, Any] | None, tag: str) -> bool:
    return bool(fields) and tag in (fields.get("categories") or ())  # type: ignore[union-attr]


def from_spoke(
    remote: Item, base: Item | None, options: SyncOptions, caps: Capabilities
) -> Item:
    """Incoming spoke content with the write transforms undone: the spoke's tag category is
    removed from the categories of the master and of each override unless ``base`` (the
    hub content the spoke last agreed on, or the matched hub item) had it there itself.
    Other fields are returned as they are; which of them count is :func:`carried_fields`'s
    business."""
    tag = options.tag_category
    if tag is None:
        return remote
    base_master = base.fields if base is not None else None
    fields = _strip_tag(remote.fields, tag, _has_tag(base_master, tag))
    overrides = {}
    for key, ov in remote.overrides.items():
        base_ov = base.overrides.get(key, base_master) if base is not None else None
        overrides[key] = _strip_tag(ov, tag, _has_tag(base_ov, tag))
    return Item(remote.uid, fields, overrides, remote.source)


def _overlay_fields(
    fields: Mapping[str, Any], source: Mapping[str, Any] | None, carried: Carried
) -> dict[str, Any]:
    out = {k: v for k, v in fields.items() if carried(k)}
    if source is not None:
        out.update({k: v for k, v in source.items() if not carried(k)})
    return out


def overlay_uncarried(item: Item, source: Item | None, carried: Carried) -> Item:
    """``item`` with every field the spoke does not carry taken from ``source`` (the hub's
    content), in the master and inside each override; an override ``source`` lacks takes
    them from ``source``'s master. With ``source`` None they are dropped. This is how a
    lossy or busy-masked spoke never overwrites what it cannot see."""
    if carried is carry_all:  # nothing is taken from ``source``: ``item`` as it is
        return item
    src_master = source.fields if source is not None else None
    overrides = {}
    for key, ov in item.overrides.items():
        src = source.overrides.get(key, src_master) if source is not None else None
        overrides[key] = _overlay_fields(ov, src, carried)
    return Item(
        item.uid, _overlay_fields(item.fields, src_master, carried), overrides, item.source
    )
