"""Stored fingerprints of an older fingerprint version, compared without a rewrite storm.

A link, a pending write and a deleted copy keep the fingerprint of a spoke's content, not
the content, so a newer fingerprint function cannot recompute them. Each keeps its version
(``fp_version``) instead, and is compared here with the function of that version — exactly
what the code that stored it would have answered — until it is stamped again at the current
version (a pull that reads the item, a write). Which is what an upgrade needs: unchanged items
are unchanged (nothing is written), a change that version saw is a change.

What an older version did not see (STATUS:CONFIRMED, the texts' parameters:
:func:`cirahub.core.fingerprint.increment`) is judged, for a link, against the hub content
the link agreed on (its merge base): a spoke copy whose older fingerprint is the link's is
unchanged when it also says what that content says beyond the older version, an edit of just
that otherwise. Exact when the spoke held what the hub holds (we wrote it there, or it came
from there); a copy that said otherwise before the upgrade (two spokes whose exports differed
only in STATUS:CONFIRMED, linked as equal) is taken for that edit once, when it is next read.
Pure, like the rest of :mod:`cirahub.core`.
"""

from __future__ import annotations

from cirahub.core.fingerprint import fingerprint, increment
from cirahub.core.item import FINGERPRINT_VERSION, Item
from cirahub.core.model import Capabilities, Link
from cirahub.core.options import SyncOptions
from cirahub.core.projection import ignored_fields, project_for_spoke


def spoke_fingerprint_at(item: Item, options: SyncOptions, caps: Capabilities,
                         version: int) -> str:
    """:func:`cirahub.core.projection.spoke_fingerprint` as fingerprint ``version`` computed it."""
    return fingerprint(item, ignore=ignored_fields(options, caps), version=version)


def stored_agrees(stored: str, version: int, item: Item, fp_now: str, options: SyncOptions,
                  caps: Capabilities) -> bool:
    """Whether a stored fingerprint of ``version`` is that of ``item`` (whose current one,
    under the spoke's projection, is ``fp_now``)."""
    if version == FINGERPRINT_VERSION:
        return stored == fp_now
    return stored == spoke_fingerprint_at(item, options, caps, version)


def pulled_agrees(link: Link, item: Item, fp_now: str, base: Item | None,
                  options: SyncOptions, caps: Capabilities) -> bool:
    """Whether the spoke's copy ``item`` is what ``link`` last agreed on. ``base``: the hub
    content at ``link.hub_version`` (None: unknown, the older fingerprint decides alone)."""
    if not stored_agrees(link.fingerprint, link.fp_version, item, fp_now, options, caps):
        return False
    if link.fp_version == FINGERPRINT_VERSION or base is None or _blind(options, caps):
        return True
    ignore = ignored_fields(options, caps)
    seen = project_for_spoke(base, options, caps)
    return increment(item, ignore, link.fp_version) == increment(seen, ignore, link.fp_version)


def _blind(options: SyncOptions, caps: Capabilities) -> bool:
    """Whether this spoke's fingerprints of every version are the same function (it cannot
    carry ``verbatim``, where all that changed between the versions is)."""
    return "verbatim" in ignored_fields(options, caps)


def pushed_agrees(link: Link, projected: Item, fp_now: str, hub_version: int,
                  options: SyncOptions, caps: Capabilities) -> bool:
    """Whether the spoke already holds ``projected`` (the hub content at ``hub_version``,
    projected for it) by ``link``. A link of an older version agrees only with the content
    it was stamped at: a hub change since might be one that version did not see."""
    if (link.fp_version != FINGERPRINT_VERSION and hub_version != link.hub_version
            and not _blind(options, caps)):
        return False
    return stored_agrees(link.fingerprint, link.fp_version, projected, fp_now, options, caps)
