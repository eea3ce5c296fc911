"""What a hub holds, for operators: pages of hub items with where each has a copy, and one
item with its history of versions (``cirahubctl items`` / ``item show``). Protobuf-free.

A copy's state says what the sync does with the item in that spoke, by the rules the push
planner follows (:mod:`cirahub.core.push`): ``linked`` (the spoke holds the current version),
``pending`` (the next push writes it), ``filtered out`` (the spoke's options keep it out),
``not written`` (the hub may not write it there) or ``quarantined`` (reading the spoke's copy
or writing it failed). Lists carry derived fields only (summary, start, recurrence), never
whole item bodies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from cirahub.connectors.kinds import all_kinds
from cirahub.core.errors import InvalidInput, NotFound
from cirahub.core.filters import content_filter, in_window
from cirahub.core.item import VOLATILE_FIELDS, Item
from cirahub.core.model import HubItem, Link
from cirahub.store.items import StoredItem
from cirahub.store.pruning import KEEP_VERSIONS
from cirahub.store.records import ItemVersion, QuarantineEntry, SpokeRecord
from cirahub.store.runs import WRITE_FAILED_PREFIX

#: page sizes of ListItems
DEFAULT_PAGE, MAX_PAGE = 100, 500
#: item rows one ListItems call reads at most while searching (a page may come back short,
#: with a token to go on: the work of one call stays bounded whatever the hub's size)
SCAN_LIMIT = 2000
#: versions GetItem returns
#: the default history shows every version the store keeps whatever the links need (the
#: oldest kept one is the base of the oldest shown); older ones may be pruned (docs/sync.md)
DEFAULT_HISTORY, MAX_HISTORY = KEEP_VERSIONS - 1, 200
#: longest reason shown for a copy (a write error's detail may be long)
REASON_MAX = 200

_FILTER_REASONS = {
    "private": "private item (private: skip)",
    "category-include": "no category of categories_include",
    "category-exclude": "a category of categories_exclude",
    "tentative": "tentative item (tentative: off)",
}


class ItemStore(Protocol):
    """The part of the Store these views read."""

    def get_hub(self, name_or_id: str) -> Any: ...
    def find_spoke(self, hub: str, name: str) -> SpokeRecord: ...
    def list_spokes(self, hub: str | None = None) -> list[SpokeRecord]: ...
    def item_page(self, hub_id: str, after_version: int, limit: int) -> list[StoredItem]: ...
    def item_by_uid(self, hub_id: str, uid: str) -> StoredItem | None: ...
    def item_links(self, ids: Sequence[str]) -> dict[tuple[str, str], Link]: ...
    def item_quarantine(self, spoke_ids: Sequence[str], uids: Sequence[str],
                        ids: Sequence[str]) -> list[QuarantineEntry]: ...
    def recent_versions(self, hub_item_id: str, limit: int) -> tuple[list[ItemVersion], int]: ...
    def item_projections(self, ids: Sequence[str]) -> dict[tuple[str, str], tuple[str, ...]]: ...


@dataclass(frozen=True)
class Copy:
    """One spoke's copy of a hub item (``remote_id``/``hub_version`` set when linked)."""

    spoke: str
    state: str
    reason: str = ""
    remote_id: str = ""
    hub_version: int = 0
    #: what the spoke declared its copy is not (its notes), when it holds a projection
    projection: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemRow:
    """A hub item as lists show it: derived fields only."""

    uid: str
    summary: str
    start: str
    recurrence: str
    overrides: int
    version: int
    updated_at: datetime
    deleted: bool
    copies: tuple[Copy, ...]


@dataclass(frozen=True)
class ItemPage:
    items: tuple[ItemRow, ...]
    next_token: str  # "" = the last page


@dataclass(frozen=True)
class Change:
    """One version of an item: who made it and which fields it changed."""

    version: int
    at: datetime
    spoke: str
    change: str  # created | updated | deleted | restored
    fields: tuple[str, ...]


@dataclass(frozen=True)
class ItemDetail:
    row: ItemRow
    content: Mapping[str, Any] | None  # fields and overrides; None for a tombstone
    history: tuple[Change, ...]  # newest first
    history_total: int


# --- copy states -----------------------------------------------------------------------------


def copy_state(hub: HubItem, spoke: SpokeRecord, link: Link | None,
               quarantined: Sequence[QuarantineEntry], now: datetime) -> Copy:
    """Where ``hub`` stands in ``spoke`` (see the module docstring)."""
    if quarantined:
        q = quarantined[0]
        return Copy(spoke.name, "quarantined", _short(f"{q.reason}: {q.detail}"),
                    link.remote_id if link else "", link.hub_version if link else 0)
    opts, item = spoke.options, hub.item
    writes = opts.hub_writes
    kind = all_kinds().get(spoke.kind)
    read_only = (kind is not None and kind.read_only) or spoke.config.get("read_only") is True
    if link is not None:
        held = Copy(spoke.name, "linked", "", link.remote_id, link.hub_version)
        if link.hub_version >= hub.version or item is None:
            return held
        if content_filter(item, opts) is not None:
            return Copy(spoke.name, "filtered out", _filter_reason(item, opts),
                        link.remote_id, link.hub_version)
        if writes.update and not read_only:
            return Copy(spoke.name, "pending", _waiting(spoke) or "an older version there",
                        link.remote_id, link.hub_version)
        return Copy(spoke.name, "linked", "an older version (hub_writes has no update)",
                    link.remote_id, link.hub_version)
    if item is None:
        return Copy(spoke.name, "not written", "deleted in the hub")
    if read_only:
        return Copy(spoke.name, "not written", "a read-only feed")
    if not writes.create:
        return Copy(spoke.name, "not written", f"hub_writes: {writes} (no create)")
    if item.get("component") and not (kind is not None and kind.carries_components):
        return Copy(spoke.name, "not written",
                    f"a {item.get('component')}: a {spoke.kind} spoke holds only events")
    if content_filter(item, opts) is not None:
        return Copy(spoke.name, "filtered out", _filter_reason(item, opts))
    if not in_window(item, opts, now):
        return Copy(spoke.name, "filtered out", "outside the window (days_back/days_ahead)")
    return Copy(spoke.name, "pending", _waiting(spoke))


def _filter_reason(item: Item, options: Any) -> str:
    reason = content_filter(item, options) or ""
    return _FILTER_REASONS.get(reason, reason)


def _waiting(spoke: SpokeRecord) -> str:
    if spoke.halt is not None and not spoke.halt.confirmed:
        return "the spoke is halted"
    if not spoke.options.enabled:
        return "the spoke is disabled"
    return ""


def _short(text: str) -> str:
    return text if len(text) <= REASON_MAX else text[:REASON_MAX - 1] + "…"


# --- rows --------------------------------------------------------------------------------------


def _start_text(value: Any) -> str:
    if not isinstance(value, Mapping):
        return ""
    return str(value.get("utc") or value.get("date") or value.get("floating") or "")


def _recurrence(item: Item) -> str:
    rule = str(item.get("rrule") or "")
    rdates = len(item.get("rdates") or ())
    if rule and rdates:
        return f"{rule} +{rdates} dates"
    return rule or (f"+{rdates} dates" if rdates else "")


def row_of(stored: StoredItem, copies: Sequence[Copy]) -> ItemRow:
    hub, item = stored.item, stored.item.item
    return ItemRow(
        uid=hub.uid, summary=str(item.get("summary") or "") if item else "",
        start=_start_text(item.get("start")) if item else "",
        recurrence=_recurrence(item) if item else "",
        overrides=len(item.overrides) if item else 0, version=hub.version,
        updated_at=stored.updated_at, deleted=item is None, copies=tuple(copies))


def matches(item: Item | None, uid: str, needle: str) -> bool:
    """Case-insensitive ``needle`` in the summary, location or UID."""
    if not needle:
        return True
    texts = [uid] + ([str(item.get("summary") or ""), str(item.get("location") or "")]
                     if item else [])
    folded = needle.casefold()
    return any(folded in t.casefold() for t in texts)


class ItemViews:
    """The item reads of the control plane over one store."""

    def __init__(self, store: ItemStore) -> None:
        self.store = store

    def _spokes(self, hub_id: str, spoke: str) -> list[SpokeRecord]:
        if spoke:
            return [self.store.find_spoke(hub_id, spoke)]
        return list(self.store.list_spokes(hub_id))

    def _copies(self, items: Sequence[StoredItem], spokes: Sequence[SpokeRecord],
                now: datetime) -> dict[str, list[Copy]]:
        ids = [s.item.id for s in items]
        links = self.store.item_links(ids) if ids else {}
        quarantine: dict[tuple[str, str], list[QuarantineEntry]] = {}
        by_uid = {s.item.uid: s.item.id for s in items}
        for q in self.store.item_quarantine([s.id for s in spokes], list(by_uid), ids) if ids else ():
            item_id = (q.remote_id[len(WRITE_FAILED_PREFIX):]
                       if q.remote_id.startswith(WRITE_FAILED_PREFIX) else by_uid.get(q.uid or ""))
            if item_id:
                quarantine.setdefault((q.spoke_id, item_id), []).append(q)
        held = self.store.item_projections(ids) if ids else {}
        return {s.item.id: [replace(copy_state(s.item, sp, links.get((sp.id, s.item.id)),
                                               quarantine.get((sp.id, s.item.id), ()), now),
                                    projection=held.get((sp.id, s.item.id), ()))
                            for sp in spokes] for s in items}

    def page(self, hub: str, spoke: str = "", search: str = "", page_size: int = 0,
             page_token: str = "", now: datetime | None = None) -> ItemPage:
        """One page of the hub's alive items in the order of their last change. With
        ``search`` a page may hold fewer than ``page_size`` items and still have a next
        token (one call reads at most SCAN_LIMIT items). InvalidInput for a bad page size or
        token; NotFound for an unknown hub or spoke."""
        if not hub or not hub.strip():
            raise InvalidInput("a hub name is required", field="hub")
        size = page_size or DEFAULT_PAGE
        if not 1 <= size <= MAX_PAGE:
            raise InvalidInput(f"page_size must be from 1 to {MAX_PAGE} (got {page_size})",
                               field="page_size")
        if page_token and not page_token.isdigit():
            raise InvalidInput("page_token is not one this server gave out", field="page_token")
        hub_id = self.store.get_hub(hub).id
        spokes = self._spokes(hub_id, spoke)
        found, after, more = self._scan(hub_id, int(page_token or 0), size, search.strip())
        copies = self._copies(found, spokes, now or datetime.now(UTC))
        rows = tuple(row_of(s, copies[s.item.id]) for s in found)
        return ItemPage(rows, str(after) if more else "")

    def _scan(self, hub_id: str, after: int, size: int,
              needle: str) -> tuple[list[StoredItem], int, bool]:
        """(matching items, the last version looked at, whether items after it remain)."""
        found: list[StoredItem] = []
        scanned = 0
        while len(found) < size and scanned < SCAN_LIMIT:
            want = min(MAX_PAGE, SCAN_LIMIT - scanned) if needle else size - len(found)
            batch = self.store.item_page(hub_id, after, want)
            for stored in batch:
                scanned += 1
                after = stored.item.version
                if matches(stored.item.item, stored.item.uid, needle):
                    found.append(stored)
                    if len(found) == size:
                        break
            if len(batch) < want and (not batch or after == batch[-1].item.version):
                return found, after, False  # read to the end
        return found, after, bool(self.store.item_page(hub_id, after, 1))

    def detail(self, hub: str, uid: str, history_limit: int = 0,
               now: datetime | None = None) -> ItemDetail:
        """One item by UID (the alive one, else the last deleted one) with every spoke's copy
        and its newest ``history_limit`` versions. NotFound when the hub never held it."""
        if not uid:
            raise InvalidInput("an item UID is required", field="uid")
        limit = history_limit or DEFAULT_HISTORY
        if not 1 <= limit <= MAX_HISTORY:
            raise InvalidInput(f"history_limit must be from 1 to {MAX_HISTORY} "
                               f"(got {history_limit})", field="history_limit")
        hub_rec = self.store.get_hub(hub)
        stored = self.store.item_by_uid(hub_rec.id, uid)
        if stored is None:
            raise NotFound(f"hub {hub_rec.name!r} holds no item with UID {uid!r}",
                           hub=hub_rec.name, uid=uid)
        spokes = self._spokes(hub_rec.id, "")
        copies = self._copies([stored], spokes, now or datetime.now(UTC))[stored.item.id]
        versions, total = self.store.recent_versions(stored.item.id, limit)
        names = {s.id: s.name for s in spokes}
        content = None
        if stored.item.item is not None:
            data = stored.item.item.to_json()
            data.pop("source", None)
            content = data
        return ItemDetail(row_of(stored, copies), content,
                          history(versions, names, limit, stored.item.created_version), total)


def history(versions: Sequence[ItemVersion], names: Mapping[str, str], limit: int,
            created_version: int) -> tuple[Change, ...]:
    """Changes of the newest ``limit`` of ``versions`` (newest first; one more, older version
    may follow as the base of the oldest shown); ``created_version`` is the item's first."""
    out: list[Change] = []
    for i, v in enumerate(versions[:limit]):
        before = versions[i + 1] if i + 1 < len(versions) else None
        first = v.version == created_version
        out.append(Change(v.version, v.created_at, names.get(v.spoke_id or "", ""),
                          _change(before, v.item, first),
                          changed_fields(before.item if before else None, v.item)))
    return tuple(out)


def _change(before: ItemVersion | None, after: Item | None, first: bool) -> str:
    if after is None:
        return "deleted"
    if first:
        return "created"
    return "restored" if before is not None and before.item is None else "updated"


def changed_fields(before: Item | None, after: Item | None) -> tuple[str, ...]:
    """Fields (and ``override:<occurrence>`` pseudo-fields) that differ, LAST-MODIFIED aside."""
    if before is None or after is None:
        return ()
    a, b = before.flat(), after.flat()
    return tuple(sorted(k for k in set(a) | set(b)
                        if k not in VOLATILE_FIELDS and a.get(k) != b.get(k)))
