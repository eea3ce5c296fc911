"""Small builders shared by the store tests."""

from __future__ import annotations

from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.ops import CreateHubItem, UpdateHubItem
from cirahub.core.options import SyncOptions
from cirahub.store import HubRecord, SpokeRecord, Store


def event(uid: str, summary: str = "Meeting", day: int = 1) -> Item:
    return Item(uid, {
        "summary": summary,
        "start": {"utc": f"2026-03-{day:02d}T09:00:00Z", "tz": "Europe/Berlin"},
        "end": {"utc": f"2026-03-{day:02d}T10:00:00Z", "tz": "Europe/Berlin"},
        "categories": ["a", "b"],
    })


def create(remote_id: str, item: Item, remote_version: str = "v1") -> CreateHubItem:
    return CreateHubItem(remote_id, remote_version, item, fingerprint(item))


def update(hub_item_id: str, expected: int, item: Item, remote_id: str, *,
           remote_version: str = "v2", in_sync: bool = True, base: int | None = None,
           **kw: object) -> UpdateHubItem:
    return UpdateHubItem(
        hub_item_id=hub_item_id, expected_version=expected, item=item, remote_id=remote_id,
        remote_version=remote_version, fingerprint=fingerprint(item), in_sync=in_sync,
        base_version=expected if base is None else base, **kw)  # type: ignore[arg-type]


def hub_and_spokes(store: Store, *names: str) -> tuple[HubRecord, list[SpokeRecord]]:
    hub = store.create_hub("team")
    spokes = [store.add_spoke(hub.name, n, "vdir", {"path": f"/cal/{n}"}, SyncOptions())
              for n in (names or ("a",))]
    return hub, spokes
