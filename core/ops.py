"""Operations the planner emits. Frozen values; executing them is someone else's job.

Pull side (applied to the hub by the merge step, in one transaction per batch):
:class:`LinkOnly`, :class:`CreateHubItem`, :class:`UpdateHubItem`, :class:`TombstoneHubItem`,
:class:`DropLink`, :class:`Quarantine`.
Push side (conditional writes to the spoke, then a link commit per item):
:class:`CreateInSpoke`, :class:`UpdateInSpoke`, :class:`DeleteInSpoke`, :class:`BumpLink`.
"""

from __future__ import annotations

from dataclasses import dataclass

from cirahub.core.item import Item
from cirahub.core.model import ConflictRecord

# --- pull: spoke → hub ---------------------------------------------------------------------


@dataclass(frozen=True)
class LinkOnly:
    """Record or refresh the link of ``remote_id`` to an existing hub item; the hub item is
    not changed (echo of our own write, first-attach match with equal content, a spoke edit
    the spoke may not contribute, a merge the hub won outright). ``conflicts`` are logged in
    the same transaction, only when the link is set (a re-run logs nothing twice)."""

    remote_id: str
    remote_version: str
    hub_item_id: str
    fingerprint: str
    hub_version: int
    conflicts: tuple[ConflictRecord, ...] = ()


@dataclass(frozen=True)
class CreateHubItem:
    """A new item from the spoke becomes a hub item (new id, next hub version), linked."""

    remote_id: str
    remote_version: str
    item: Item
    fingerprint: str  # spoke-projected fingerprint of the remote content
    #: the hub fingerprint of ``item`` when the planner knows it (it is ``fingerprint``:
    #: the spoke's projection drops nothing), so the merge does not compute it again
    hub_fingerprint: str | None = None
    #: the match key of ``item`` when the planner computed it (first attach: the key it was
    #: matched by), so the merge does not compute it again; None: the merge computes it
    hub_match_key: str | None = None


@dataclass(frozen=True)
class UpdateHubItem:
    """Write ``item`` as the next version of a hub item, unless the hub item is no longer at
    ``expected_version`` (then the merge fails with VersionConflict and the spoke re-plans).

    The link is set to the remote's version and fingerprint; its ``hub_version`` becomes the
    new hub version when ``in_sync`` (the spoke already holds the merged content), else it
    stays ``base_version`` so the push step writes the merged content back to the spoke.
    ``resurrect`` revives a tombstone (an edit beats a delete).
    """

    hub_item_id: str
    expected_version: int
    item: Item
    remote_id: str
    remote_version: str
    fingerprint: str
    in_sync: bool
    base_version: int
    conflicts: tuple[ConflictRecord, ...] = ()
    resurrect: bool = False
    #: the hub fingerprint and match key of ``item`` when the planner knows them (as
    #: :class:`CreateHubItem`)
    hub_fingerprint: str | None = None
    hub_match_key: str | None = None


@dataclass(frozen=True)
class TombstoneHubItem:
    """The spoke deleted a hub item that did not change since the link: tombstone it
    (next hub version) and drop the link."""

    hub_item_id: str
    expected_version: int
    remote_id: str


@dataclass(frozen=True)
class DropLink:
    """Forget the link of ``remote_id`` (the remote item is gone, but the hub item stays:
    it was edited since, or this spoke may not delete; the push step re-creates it).
    ``conflicts`` (the spoke's delete that lost to an edit) are logged in the same
    transaction, only when a link is dropped (a re-run logs nothing twice)."""

    remote_id: str
    hub_item_id: str
    conflicts: tuple[ConflictRecord, ...] = ()


@dataclass(frozen=True)
class Quarantine:
    """A remote item that cannot be synced (malformed, duplicate UID): kept out of the hub,
    reported with ``reason`` and ``detail``; it is not a deletion of anything."""

    remote_id: str
    remote_version: str
    reason: str  # "malformed" | "duplicate-uid"
    detail: str
    uid: str | None = None
    raw: str | None = None


HubOp = LinkOnly | CreateHubItem | UpdateHubItem | TombstoneHubItem | DropLink | Quarantine


# --- push: hub → spoke ---------------------------------------------------------------------


@dataclass(frozen=True)
class CreateInSpoke:
    """Create ``item`` (already projected for the spoke) in the spoke."""

    hub_item_id: str
    hub_version: int
    item: Item
    fingerprint: str


@dataclass(frozen=True)
class UpdateInSpoke:
    """Replace the remote item, only if it is still at ``expected_version``."""

    hub_item_id: str
    hub_version: int
    remote_id: str
    expected_version: str
    item: Item
    fingerprint: str


@dataclass(frozen=True)
class DeleteInSpoke:
    """Delete the remote item, only if it is still at ``expected_version``.
    ``reason``: "deleted" (hub tombstone) or "filtered" (left a privacy/category filter)."""

    hub_item_id: str
    hub_version: int
    remote_id: str
    expected_version: str
    reason: str = "deleted"


@dataclass(frozen=True)
class BumpLink:
    """The spoke already holds this hub version's content: advance the link, no write."""

    hub_item_id: str
    hub_version: int


SpokeOp = CreateInSpoke | UpdateInSpoke | DeleteInSpoke | BumpLink
