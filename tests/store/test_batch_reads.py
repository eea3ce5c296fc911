"""A merge batch's reads as driver SQL (store.batch_reads) equal the Core reads they replace,
on both backends."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from cirahub.core.ops import LinkOnly, Quarantine, TombstoneHubItem
from cirahub.store import Store
from cirahub.store import models as m
from cirahub.store.batch_reads import alive_by_uid, first_seen, hub_items_by_id, links_by

from .helpers import create, event, hub_and_spokes
from .test_rows import odd_item

_L, _I, _Q = m.links.c, m.hub_items.c, m.quarantine.c
_LINK = (_L.hub_item_id, _L.remote_id, _L.remote_version, _L.fingerprint, _L.hub_version,
         _L.fp_version)


def filled(store: Store) -> tuple[Any, Any, Any, dict[str, str], str]:
    """Two hubs; in the first, alive items (one with content JSON must escape), a
    tombstone, links in two spokes, quarantine rows."""
    hub, (a, b) = hub_and_spokes(store, "a", "b")
    other = store.create_hub("other")
    o = store.add_spoke("other", "o", "vdir", {"path": "/o"}, a.options)
    epoch = store.acquire_writer(hub.id)
    ids = dict(store.apply_hub_ops(hub.id, a.id, epoch, [
        create("r0", odd_item("u0")), *(create(f"r{i}", event(f"u{i}", day=i))
                                        for i in range(1, 6))]).created)
    store.apply_hub_ops(hub.id, a.id, epoch, [
        TombstoneHubItem(ids["r5"], 6, "r5"),
        Quarantine("q1", "v1", "malformed", "bad", uid="uq", raw="BEGIN:VCALENDAR"),
        Quarantine("q2", "v3", "duplicate-uid", "twice")])
    store.apply_hub_ops(hub.id, b.id, epoch, [
        LinkOnly(f"b{i}", f"w{i}", ids[f"r{i}"], f"fp{i}", 3) for i in (1, 2)])
    other_epoch = store.acquire_writer(other.id)
    elsewhere = store.apply_hub_ops(other.id, o.id, other_epoch,
                                    [create("r1", event("u1"))]).created["r1"]
    return hub, a, b, ids, elsewhere


def test_the_plain_reads_equal_the_core_reads(store) -> None:
    hub, a, b, ids, elsewhere = filled(store)
    remotes = [f"r{i}" for i in range(700)] + ["b1", "q1", "q2", "q9"]  # two chunks
    items = [*ids.values(), elsewhere, "missing"]
    with store.engine.connect() as conn:
        def core(stmt: Any) -> list[Any]:
            return [tuple(r) for r in conn.execute(stmt)]

        for spoke in (a.id, b.id):
            by_remote = links_by(conn, spoke, "remote_id", remotes)
            assert sorted(by_remote) == sorted(core(select(*_LINK).where(
                _L.spoke_id == spoke, _L.remote_id.in_(remotes))))
            by_item = links_by(conn, spoke, "hub_item_id", items)
            assert sorted(by_item) == sorted(core(select(*_LINK).where(
                _L.spoke_id == spoke, _L.hub_item_id.in_(items))))
            assert by_remote and by_item and all(type(v) is int for r in by_item for v in r[4:])
            stored = first_seen(conn, spoke, remotes)
            assert stored == {r.remote_id: r.first_seen for r in conn.execute(select(
                m.quarantine).where(_Q.spoke_id == spoke, _Q.remote_id.in_(remotes)))}
        assert set(first_seen(conn, a.id, remotes)) == {"q1", "q2"}

        plain = hub_items_by_id(conn, hub.id, items)
        rows = [r for r in conn.execute(select(m.hub_items).where(_I.id.in_(items)))
                if r.hub_id == hub.id]
        assert {i: (u, v, cv, None if text is None else json.loads(text), fp, mk, d)
                for i, u, v, cv, text, fp, mk, d in plain} == {
            r.id: (r.uid, r.version, r.created_version, r.content, r.fingerprint, r.match_key,
                   r.deleted) for r in rows}
        assert len(plain) == 6 and all(type(p[-1]) is bool for p in plain)
        assert [p[4] for p in plain if p[0] == ids["r5"]] == ["null"]  # a tombstone

        uids = [f"u{i}" for i in range(600)]
        assert alive_by_uid(conn, hub.id, uids) == {r.uid: r.id for r in conn.execute(select(
            _I.id, _I.uid).where(_I.hub_id == hub.id, _I.uid.in_(uids), _I.deleted.is_(False)))}
        assert set(alive_by_uid(conn, hub.id, uids)) == {f"u{i}" for i in range(5)}
        assert alive_by_uid(conn, hub.id, []) == {}
