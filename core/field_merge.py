"""Field merge: the field-level three-way merge of a hub item and a spoke's version of it.

(Named apart from the cycle's *merge* step, which applies the planned ops to the hub:
:class:`cirahub.actors.merger.Merger` and the store's ``apply_hub_ops``.)

The merge works on :meth:`Item.flat`: every master field, plus one pseudo-field per
overridden occurrence, so two spokes editing different occurrences of one series both win.
For each key (absent = None):

=====================================  ==================================================
the spoke may not contribute the key    hub's value
spoke == base                           hub's value (only the hub changed, or nobody)
hub == base                             spoke's value (only the spoke changed)
hub == spoke                            that value (both made the same change)
otherwise                               a conflict, settled by the policy and recorded
=====================================  ==================================================

With no common ancestor (``base`` None, e.g. first attach) every differing key conflicts.
Volatile fields (``last_modified``) never conflict: the result carries the value of the side
that changed it against the base (the user's stamp goes with the user's edit, even one
written with an older clock), the later of the two sides' values when both changed it or
there is no base. Values compare by canonical JSON (so ``[1]`` equals ``(1,)``), and inside
override values volatile fields are ignored too. Pure and deterministic: the result depends
only on the values, never on dict or argument order.

Tie-break (policy LATEST with equal or missing ``last_modified`` on either side): the side
whose value has the larger canonical JSON text wins (an absent value is ``null``). This is
symmetric — it does not prefer the hub or the spoke — so every spoke settles a tie the same
way whichever of them syncs first.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cirahub.core.ical_verbatim import settled
from cirahub.core.item import OVERRIDE_PREFIX, VOLATILE_FIELDS, Item
from cirahub.core.model import ConflictRecord, FieldConflict
from cirahub.core.options import ConflictPolicy

HUB = "hub"
SPOKE = "spoke"


@dataclass(frozen=True)
class FieldMerge:
    """The merged item (uid of the hub item) and every conflict met, sorted by field."""

    item: Item
    conflicts: tuple[FieldConflict, ...] = ()

    def lost_by(self, side: str) -> tuple[FieldConflict, ...]:
        """The conflicts ``side`` ("hub" | "spoke") lost."""
        return tuple(c for c in self.conflicts if c.winner != side)


def canonical(value: Any) -> str:
    """Canonical JSON text of a value (sorted keys, no spaces): the merge's equality."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _comparable(key: str, value: Any) -> str:
    if key.startswith(OVERRIDE_PREFIX) and isinstance(value, Mapping):
        value = {k: v for k, v in value.items() if k not in VOLATILE_FIELDS}
    return canonical(value)


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a if b is None else b
    return max(a, b)


def _volatile(base: Item | None, hub: Item, spoke: Item, key: str) -> Any:
    """The merged value of a volatile field (see the module docstring)."""
    h, s = hub.get(key), spoke.get(key)
    if base is not None:
        b = base.get(key)
        if s == b:
            return h
        if h == b:
            return s
    return _later(h, s)


def _settle(
    key: str, hub_value: Any, spoke_value: Any, hub: Item, spoke: Item, policy: ConflictPolicy
) -> tuple[str, str]:
    """(winner, reason) of a conflict on ``key``."""
    if policy == ConflictPolicy.HUB:
        return HUB, "policy hub"
    if policy == ConflictPolicy.SPOKE:
        return SPOKE, "policy spoke"
    hub_lm, spoke_lm = hub.get("last_modified"), spoke.get("last_modified")
    if hub_lm is not None and spoke_lm is not None and hub_lm != spoke_lm:
        return (HUB if hub_lm > spoke_lm else SPOKE), "latest last_modified"
    hub_text, spoke_text = _comparable(key, hub_value), _comparable(key, spoke_value)
    return (HUB if hub_text > spoke_text else SPOKE), "tie: larger value"


def merge_fields(
    base: Item | None,
    hub: Item,
    spoke: Item,
    *,
    carried: Callable[[str], bool] | frozenset[str] | set[str],
    policy: ConflictPolicy,
) -> FieldMerge:
    """Merge ``spoke`` into ``hub`` against their common ancestor ``base``.

    ``carried`` (a predicate or a set of flat keys) names the keys the spoke may contribute;
    for any other key the hub's value is kept without conflict. Every key changed on both
    sides to different values is a :class:`FieldConflict` with the base, hub and spoke
    values, the winner and the reason. The result's uid is the hub's; its ``last_modified``
    is the changed side's, the later of the two when both changed it (or with no base).
    """
    is_carried = carried if callable(carried) else frozenset(carried).__contains__
    base_flat = base.flat() if base is not None else {}
    hub_flat, spoke_flat = hub.flat(), spoke.flat()
    merged: dict[str, Any] = {}
    conflicts: list[FieldConflict] = []
    for key in sorted(set(base_flat) | set(hub_flat) | set(spoke_flat)):
        if key in VOLATILE_FIELDS:
            continue
        h, s = hub_flat.get(key), spoke_flat.get(key)
        value = h
        if is_carried(key):
            hc, sc = _comparable(key, h), _comparable(key, s)
            bc = _comparable(key, base_flat.get(key)) if base is not None else None
            if sc == bc or hc == sc:
                value = h
            elif hc == bc:
                value = s
            else:
                winner, reason = _settle(key, h, s, hub, spoke, policy)
                value = h if winner == HUB else s
                conflicts.append(
                    FieldConflict(key, base_flat.get(key), h, s, winner=winner, reason=reason)
                )
        if value is not None:
            merged[key] = value
    for key in sorted(VOLATILE_FIELDS):
        value = _volatile(base, hub, spoke, key)
        if value is not None:
            merged[key] = value
    # the spoke's text is the latest one the merged fields came through; the writer patches
    # it field by field, so taking it never reverts a hub-side field
    source = spoke.source if spoke.source is not None else hub.source
    return FieldMerge(Item.from_flat(hub.uid, merged, source), tuple(conflicts))


def same_content(a: Item, b: Item) -> bool:
    """Whether two items hold the same content apart from their item-level volatile fields
    (so writing ``a`` over ``b`` would change nothing but a timestamp)."""
    volatile = dict.fromkeys(VOLATILE_FIELDS)
    return a.replace(**volatile) == b.replace(**volatile)


def conflict_records(
    result: FieldMerge, hub_item_id: str, uid: str, spoke_id: str, hub: Item, spoke: Item
) -> tuple[ConflictRecord, ...]:
    """The conflict log entries of a merge: one per losing side, holding the fields that side
    lost and its whole item (``hub`` / ``spoke`` as they were before the merge), so no losing
    version is ever dropped. Empty when nothing conflicted."""
    out = []
    for side, item in ((HUB, hub), (SPOKE, spoke)):
        lost = result.lost_by(side)
        if lost:
            out.append(ConflictRecord(
                hub_item_id, uid, spoke_id, lost, kind="field", losing_item=item.to_json()
            ))
    return tuple(out)


def _verbatim_agrees(item: Item, candidate: Item) -> bool:
    """Whether ``candidate``'s source, patched to mean ``item``, says what ``item`` says
    beyond the model: the same ``verbatim`` for the master and each override (an override
    the candidate lacks is written fresh, so it says nothing beyond the model)."""
    def same(fields: Mapping[str, Any], other: Mapping[str, Any] | None) -> bool:
        theirs = (other or {}).get("verbatim")
        mine: Any = settled(fields)
        return bool(mine == (None if theirs is None else settled(fields, value=theirs)))

    return same(item.fields, candidate.fields) and all(
        same(ov, candidate.overrides.get(key)) for key, ov in item.overrides.items())


def consistent_source(merged: Item, spoke: Item, hub: Item) -> Item:
    """``merged`` with the source text whose unmodelled content the merge kept: the spoke's
    (the default) or, when the hub's ``verbatim`` won, the hub's, so the writer's patch of
    that text means ``merged`` and its read-back is recognized as the echo."""
    for candidate in (spoke, hub):
        if candidate.source is not None and _verbatim_agrees(merged, candidate):
            return merged.with_source(candidate.source)
    return merged
