"""Safety checks of a sync run: mass deletions, an emptied spoke, duplicate UIDs.

A spoke whose listing suddenly comes back empty, or which would delete a large part of what is
linked, is far more likely broken (wrong folder, lost permissions, a server bug) than emptied on
purpose; the run halts with a reason until an operator confirms *that* halt (a confirmation
is bound to its :func:`halt_digest`) or restores the spoke from the hub. Pure functions.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

#: lost items a halt shows (status, confirm, restore); all of them are kept for restore
HALT_SHOWN = 20


def check_deletions(
    deleting: int,
    linked: int,
    *,
    listing_complete: bool,
    listing_size: int | None,
    threshold_ratio: float = 0.5,
    threshold_count: int = 10,
) -> str | None:
    """None when deleting ``deleting`` of ``linked`` linked items is safe, else the reason to
    halt.

    Halts when a complete listing is empty while items are linked, or when ``deleting`` is
    both more than ``threshold_ratio`` of ``linked`` and more than ``threshold_count``
    (defaults: more than 50% and more than 10). An incomplete listing never proves emptiness.
    """
    if listing_complete and listing_size == 0 and linked > 0:
        return f"the spoke's complete listing is empty but {linked} items are linked"
    if deleting > threshold_count and deleting > threshold_ratio * linked:
        return (
            f"would delete {deleting} of {linked} linked items "
            f"(more than {threshold_ratio:.0%} and more than {threshold_count})"
        )
    return None


def halt_digest(lost_remote_ids: Iterable[str], listing_size: int | None) -> str:
    """What a halt held back, as a stable digest: the linked remote ids the spoke no longer
    holds and the size of its listing. A confirmation is bound to this digest, so it applies
    only to a run that sees exactly the same loss (any change to the listing in between, an
    item more deleted or one come back, makes it a new halt that needs its own answer)."""
    payload = json.dumps([sorted(set(lost_remote_ids)), listing_size], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def find_duplicate_uids(
    uid_of: Mapping[str, str], preferred: Collection[str] = ()
) -> dict[str, str]:
    """Remote ids that share a UID with another remote id of the same spoke.

    ``uid_of`` maps each remote id to its UID; ``preferred`` are remote ids that keep their
    UID when contested (those already linked under it). Returns ``{loser: keeper}`` for every
    remote id that is not its UID's keeper: the smallest preferred remote id, else the smallest
    remote id. Deterministic whatever the mapping order.
    """
    groups: dict[str, list[str]] = defaultdict(list)
    for remote_id, uid in uid_of.items():
        groups[uid].append(remote_id)
    losers: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        favoured = sorted(m for m in members if m in preferred)
        keeper = favoured[0] if favoured else min(members)
        losers.update({m: keeper for m in members if m != keeper})
    return losers
