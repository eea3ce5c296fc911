"""``note_pending_many`` (a push wave's pending writes, set-based) stores what a loop of
``note_pending_writes`` per spoke stores: the newest MAX_PENDING per (spoke, hub item), other
items' rows untouched, unknown hub items skipped."""

from __future__ import annotations

from typing import Any

from cirahub.core.model import PendingWrite
from cirahub.store.state import MAX_PENDING

from .helpers import create, event, hub_and_spokes


def _held(store: Any, spoke_ids: list[str], item_ids: list[str]) -> dict[str, Any]:
    return {s: store.pending_writes(s, hub_item_ids=item_ids) for s in spoke_ids}


def test_note_pending_many_is_note_pending_writes_per_spoke(store: Any) -> None:
    hub, spokes = hub_and_spokes(store, "a", "b", "c", "d")
    epoch = store.acquire_writer(hub.id)
    res = store.apply_hub_ops(hub.id, spokes[0].id, epoch,
                              [create("r1", event("u1")), create("r2", event("u2"))])
    one, two = res.created["r1"], res.created["r2"]
    ids = [s.id for s in spokes]
    # spoke a already holds MAX_PENDING rows of item one, b one row of item two (which the
    # wave below does not name for b: it stays), c nothing
    store.note_pending_writes(ids[0], [PendingWrite(one, f"f{v}", v)
                                       for v in range(1, MAX_PENDING + 1)])
    store.note_pending_writes(ids[1], [PendingWrite(two, "old", 1)])
    wave = {ids[0]: [PendingWrite(one, "new", MAX_PENDING + 1), PendingWrite(one, "again", 2)],
            ids[1]: [PendingWrite(one, "b1", 7)],
            ids[2]: [PendingWrite(one, "c1", 7), PendingWrite("no-such-item", "x", 7)],
            ids[3]: []}
    before = _held(store, ids, [one, two])
    store.note_pending_many(wave)
    got = _held(store, ids, [one, two])
    assert [p.hub_version for p in got[ids[0]][one]] == sorted(
        {*range(1, MAX_PENDING + 2)})[-MAX_PENDING:]
    assert {p.hub_version: p.fingerprint for p in got[ids[0]][one]}[2] == "again"
    assert [(p.hub_version, p.fingerprint) for p in got[ids[1]][one]] == [(7, "b1")]
    assert [(p.hub_version, p.fingerprint) for p in got[ids[1]][two]] == [(1, "old")]
    assert [(p.hub_version, p.fingerprint) for p in got[ids[2]][one]] == [(7, "c1")]
    assert got[ids[3]] == {}
    assert before[ids[1]][two] == got[ids[1]][two]


def _fleet(store: Any, hub_name: str) -> tuple[list[str], list[str]]:
    hub = store.create_hub(hub_name)
    ids = [store.add_spoke(hub_name, n, "vdir", {"path": f"/{hub_name}/{n}"}).id
           for n in ("a", "b", "c")]
    res = store.apply_hub_ops(hub.id, ids[0], store.acquire_writer(hub.id),
                              [create("r1", event("u1")), create("r2", event("u2"))])
    return ids, [res.created["r1"], res.created["r2"]]


def test_note_pending_many_matches_the_per_spoke_loop(store: Any) -> None:
    """The same waves through note_pending_many (one hub's spokes) and through a loop of
    note_pending_writes (another hub's, the same shape) leave the same rows."""
    many_ids, many_items = _fleet(store, "many")
    loop_ids, loop_items = _fleet(store, "loop")

    def wave(n: int, ids: list[str], items: list[str]) -> dict[str, list[PendingWrite]]:
        return {s: [PendingWrite(items[(n + k) % 2], f"f{n}{k}", n + 1 + k)
                    for k in range(1 + (n + j) % 3)] for j, s in enumerate(ids)}

    for n in range(MAX_PENDING + 3):
        store.note_pending_many(wave(n, many_ids, many_items))
        for s, writes in wave(n, loop_ids, loop_items).items():
            store.note_pending_writes(s, writes)

    def shape(ids: list[str], items: list[str]) -> list[list[tuple[int, int, str]]]:
        held = _held(store, ids, items)
        return [sorted((items.index(i), p.hub_version, p.fingerprint)
                       for i, rows in held[s].items() for p in rows) for s in ids]

    assert shape(many_ids, many_items) == shape(loop_ids, loop_items)
    assert all(len(v) <= MAX_PENDING
               for held in _held(store, many_ids, many_items).values() for v in held.values())
