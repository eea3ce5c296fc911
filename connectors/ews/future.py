"""``RANGE=THISANDFUTURE`` for Exchange, which cannot express it: the core's expansion into one
modified occurrence per governed occurrence (the same occurrences: a change of form; declared
as a projection only when cut at :data:`LIMIT`)."""

from __future__ import annotations

from cirahub.core.item import Item

#: occurrences expanded after the first THISANDFUTURE override (each is one EWS exception)
LIMIT = 1000


def has_future_range(item: Item) -> bool:
    return any(ov.get("range") == "THISANDFUTURE" for ov in item.overrides.values())


def expand_future(item: Item, notes: list[str], forms: list[str]) -> Item:
    """``item`` with its THISANDFUTURE overrides expanded; others unchanged. A complete
    expansion changes the form only (``forms`` says so: the same occurrences); one cut at
    :data:`LIMIT` is a projection (``notes``)."""
    if not has_future_range(item):
        return item
    from cirahub.core.recurrence import expand_this_and_future  # the core's, RFC 5545 §3.8.4.4

    result = expand_this_and_future(item, limit=LIMIT)
    if result.expanded:
        (forms if result.complete else notes).append(
            f"RANGE=THISANDFUTURE: written as {len(result.expanded)} modified occurrences "
            "(Exchange cannot express it)")
    if not result.complete:
        notes.append(f"RANGE=THISANDFUTURE: occurrences after the first {LIMIT} keep the series' time")
    return result.item
