"""Values the sync cycle passes between the store, the connectors and the planner.

Vocabulary from DESIGN.md: a *hub item* is the canonical copy, a *link* is the baseline row
per (spoke, hub item), a *delta* is what a spoke's connector reports since its cursor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cirahub.core.item import FINGERPRINT_VERSION, Item


@dataclass(frozen=True)
class HubItem:
    """The canonical item at its current hub version. ``item`` is None for a tombstone."""

    id: str
    uid: str
    version: int
    item: Item | None
    fingerprint: str | None  # full (hub) fingerprint of ``item``; None for a tombstone
    #: hub version at which this item was created (the first push of a new item is a create)
    created_version: int = 0

    @property
    def deleted(self) -> bool:
        return self.item is None


@dataclass(frozen=True)
class Link:
    """Baseline of one hub item in one spoke: what both sides last agreed on.

    ``fingerprint`` is the fingerprint (under the spoke's projection) of the content last seen
    in or written to the spoke; ``hub_version`` the hub version that content corresponds to
    (the three-way merge base). ``uid`` is denormalized from the hub item for duplicate checks.

    Writes the pusher sent whose success was never recorded are :class:`PendingWrite` rows
    beside the link (a create has no link yet), given to the planner in ``HubView.pending``.
    """

    spoke_id: str
    hub_item_id: str
    uid: str
    remote_id: str
    remote_version: str
    fingerprint: str
    hub_version: int
    #: the fingerprint function's version ``fingerprint`` was computed with (an older one is
    #: compared as that version did: :mod:`cirahub.core.fingerprint_versions`)
    fp_version: int = FINGERPRINT_VERSION


@dataclass(frozen=True)
class PendingWrite:
    """A create or update the pusher sent to one spoke, stored before it is sent and kept
    until its success is recorded (or a pull reads the item back): should its answer be lost
    or its process die, the spoke's copy of exactly this content (``fingerprint``, under the
    spoke's projection, of hub version ``hub_version``) is the echo of our own write, not a
    spoke edit. A spoke may hold several for one item (a later write sent before the earlier
    one was read back)."""

    hub_item_id: str
    fingerprint: str
    hub_version: int
    fp_version: int = FINGERPRINT_VERSION  # as Link.fp_version


@dataclass(frozen=True)
class DeletedCopy:
    """A spoke's copy of a hub item that the pusher deleted because the item was deleted in
    the hub: ``fingerprint`` (under the spoke's projection) is what the copy held, of hub
    version ``hub_version``. Kept while the hub item's tombstone is, so that should a write of
    ours reach the spoke after the delete (a request held in the network, delivered after the
    client gave up on it and after its retry succeeded), the copy it makes, exactly this
    content again, is known as our own late write and deleted, not taken for a new item."""

    hub_item_id: str
    fingerprint: str
    hub_version: int
    fp_version: int = FINGERPRINT_VERSION  # as Link.fp_version


@dataclass(frozen=True)
class RemoteItem:
    """One item as a connector reports it. ``item`` is None when it could not be parsed;
    ``error`` then says why (the item is quarantined, never treated as deleted)."""

    remote_id: str
    remote_version: str
    item: Item | None
    error: str | None = None
    #: the raw text/XML for a quarantined item, so an operator can see what was wrong
    raw: str | None = None
    #: why it is quarantined when that is not "malformed" (e.g. "symlink, not followed")
    refused: str | None = None


@dataclass(frozen=True)
class Delta:
    """What changed in a spoke since its cursor.

    Guarantees a connector gives: ``deleted`` only lists remote ids that a *complete,
    successful* listing (or a server-reported deletion) proved gone — never ids missing from a
    failed or partial page. ``complete`` is True when ``changed`` + unchanged known ids make up
    the spoke's whole content; ``listing_size`` is then the number of items in the spoke.
    """

    changed: tuple[RemoteItem, ...] = ()
    deleted: tuple[str, ...] = ()
    cursor: str | None = None
    complete: bool = False
    listing_size: int | None = None


@dataclass(frozen=True)
class FieldConflict:
    """One field changed differently on the hub and in a spoke, and how it was settled."""

    field: str
    base: Any
    hub_value: Any
    spoke_value: Any
    winner: str  # "hub" | "spoke"
    reason: str  # e.g. "latest last_modified", "tie: larger value", "policy hub"


@dataclass(frozen=True)
class ConflictRecord:
    """A conflict log entry: the losing version is kept here, never dropped."""

    hub_item_id: str | None
    uid: str
    spoke_id: str
    fields: tuple[FieldConflict, ...]
    kind: str = "field"  # "field" | "edit-vs-delete"
    losing_item: Mapping[str, Any] | None = None  # Item.to_json() of the loser, when whole


@dataclass(frozen=True)
class Capabilities:
    """What a spoke kind can carry and do. ``unsupported_fields`` are ignored by its
    fingerprint and never taken from it during a merge, so a lossy spoke causes no rewrites."""

    unsupported_fields: frozenset[str] = field(default_factory=frozenset)
    read_only: bool = False
    #: whether ``delta`` uses a server cursor (sync-token, SyncFolderItems) rather than listing
    incremental: bool = False
    #: whether items that are not events (VTODO, VJOURNAL: an item with a ``component``
    #: field) can be written to this kind; where not, the hub never pushes them there
    carries_components: bool = False
    #: whether the kind holds iCalendar text as it was written (vdir, CalDAV, feeds): only
    #: there can what the model does not hold (X- properties, parameters) travel, so only
    #: there does the ``verbatim`` field (its digest) count; elsewhere it is ignored
    carries_source: bool = False


@dataclass(frozen=True)
class WriteFailure:
    """One spoke write that failed for a reason of its own (not a stale version): kept with
    its item so an operator sees which item failed and why, while the rest of the batch goes
    on. ``op`` is create, update or delete; ``code``/``message`` come from the error."""

    hub_item_id: str
    uid: str
    op: str
    code: str
    message: str
