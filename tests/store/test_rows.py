"""Plain-row writes (store.rows): the database receives what the Core statements sent before,
byte for byte, so stored values read back identical and older databases read the same."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Text, cast, select

from cirahub.core.item import Item
from cirahub.core.ops import TombstoneHubItem
from cirahub.store import models as m
from cirahub.store import rows as rows_mod
from cirahub.store.rows import PlainInsert, driver_value, json_text, new_ids, read_back

from .helpers import create, event, hub_and_spokes, update

_I, _V = m.hub_items.c, m.hub_item_versions.c


def old_text(value: Any) -> str:
    """The merge's JSON text before store.rows: ``jsonable`` (dumps with ``default=str``,
    then loads), then the JSON column type's own ``json.dumps``."""
    return json.dumps(json.loads(json.dumps(value, default=str)))


def odd_item(uid: str) -> Item:
    """Values a JSON column changes or must escape: tuples, non-ASCII, quotes and line
    breaks, an override."""
    return Item(uid, {
        "summary": "Réunion \"Q1\" – 東京\nline 2", "categories": ("b", "a"),
        "alarms": (15, 5), "start": {"date": "2026-03-01"}, "end": {"date": "2026-03-02"},
        "rrule": "FREQ=DAILY",
    }, {"20260302": {"summary": "moved ✓", "start": {"date": "2026-03-03"}}},
        source="BEGIN:VCALENDAR\r\nX-A:\\;é\r\nEND:VCALENDAR\r\n")


def raw(store: Any, stmt: Any) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(stmt)]


def test_json_text_is_the_text_the_old_merge_stored() -> None:
    for value in (odd_item("u").to_json(), None, [1.5, float("1e100"), True, None],
                  {"k": (1, 2), "d": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "e": date(2026, 3, 1)}, "é\u2028"):
        assert json_text(value) == old_text(value)
        assert read_back(value) == json.loads(json.dumps(value, default=str))


def test_a_merge_stores_the_content_text_it_stored_before(store) -> None:
    hub, (spoke,) = hub_and_spokes(store)
    epoch = store.acquire_writer(hub.id)
    first, second = odd_item("u1"), odd_item("u2").replace(summary="ß")
    res = store.apply_hub_ops(hub.id, spoke.id, epoch,
                              [create("r1", first), create("r2", event("u2"))])
    one, two = res.created["r1"], res.created["r2"]
    store.apply_hub_ops(hub.id, spoke.id, epoch, [
        update(two, 2, second, "r2"),  # the UPDATE path
        TombstoneHubItem(remote_id="r1", hub_item_id=one, expected_version=1)])
    items = dict(raw(store, select(_I.id, cast(_I.content, Text))))
    assert items == {one: "null", two: old_text(second.to_json())}  # a tombstone: JSON null
    versions = dict(((i, v), t) for i, v, t in raw(store, select(
        _V.hub_item_id, _V.version, cast(_V.content, Text))))
    assert versions[(one, 1)] == old_text(first.to_json())
    assert versions[(one, 4)] == "null"
    assert versions[(two, 3)] == old_text(second.to_json())
    # and they read back as the items written (a tuple reads back as a list)
    assert store.hub_items(hub.id, [two])[two].item == Item.from_json(read_back(
        second.to_json()))
    assert store.item_versions({(one, 1)})[(one, 1)] == Item.from_json(read_back(
        first.to_json()))
    # the plain read of the push's candidates decodes what the Core read decodes
    changed = store.hub_items_changed_since(hub.id, 0)
    assert [h.version for h in changed] == [3, 4] and changed[1].item is None
    assert changed == sorted(store.hub_items(hub.id, [one, two]).values(),
                             key=lambda h: h.version)
    assert store.hub_items_changed_since(hub.id, 0, limit=1) == changed[:1]


def test_plain_insert_sends_what_the_core_insert_sent(store) -> None:
    hub, _ = hub_and_spokes(store)
    now = datetime(2026, 12, 3, 18, 37, 1, 234567, tzinfo=UTC)
    content = odd_item("u").to_json()
    values = dict(hub_id=hub.id, uid="u", version=7, created_version=7, content=content,
                  fingerprint="f" * 64, match_key=None, deleted=False, updated_at=now)
    insert = PlainInsert(m.hub_items, ("id", *values))
    with store.engine.begin() as conn:
        conn.execute(m.hub_items.insert(), [dict(values, id="core")])
        when = driver_value(conn, _I.updated_at, now)
        insert.run(conn, [("plain", *{**values, "version": 8, "content": json_text(content),
                                      "updated_at": when}.values())])
        insert.run(conn, [])  # nothing to write: no statement
    cols = [cast(c, Text) for c in m.hub_items.c if c.name not in ("id", "version")]
    rows = {r[0]: r[1:] for r in raw(store, select(_I.id, *cols))}
    assert rows["plain"] == rows["core"]
    if store.engine.dialect.name == "sqlite":  # the same storage classes too
        with store.engine.connect() as conn:
            classes = {r[0]: r[1:] for r in conn.exec_driver_sql(
                "SELECT id, typeof(content), typeof(deleted), typeof(updated_at) "
                "FROM hub_items")}
        assert classes["plain"] == classes["core"] == ("text", "integer", "text")
    got = store.hub_items_changed_since(hub.id, 0)
    assert [h.item for h in got] == [Item.from_json(read_back(content))] * 2


def test_plain_insert_pages_store_what_the_core_insert_stored(store, monkeypatch) -> None:
    # more rows than a page (PostgreSQL's multi-row VALUES), NULLs, booleans, a timestamp
    monkeypatch.setattr(rows_mod, "VALUES_PAGE", 2)
    hub, _ = hub_and_spokes(store)
    now = datetime(2026, 12, 3, 18, 37, 1, 234567, tzinfo=UTC)
    columns = ("id", "hub_id", "uid", "version", "created_version", "content", "fingerprint",
               "match_key", "deleted", "updated_at")

    def row(prefix: str, i: int) -> dict[str, Any]:
        content = odd_item(f"u{i}").to_json() if i % 2 else None
        return dict(id=f"{prefix}{i}", hub_id=hub.id, uid=f"u{i}'%s", version=i + (
            100 if prefix == "p" else 0), created_version=i, content=content,
            fingerprint=None if i % 3 else "f" * 64, match_key="k%" if i % 2 else None,
            deleted=bool(i % 2), updated_at=now)

    with store.engine.begin() as conn:
        conn.execute(m.hub_items.insert(), [row("c", i) for i in range(5)])
        when = driver_value(conn, _I.updated_at, now)
        PlainInsert(m.hub_items, columns).run(conn, [tuple(
            json_text(v) if k == "content" else when if k == "updated_at" else v
            for k, v in row("p", i).items()) for i in range(5)])
    cols = [cast(c, Text) for c in m.hub_items.c if c.name not in ("id", "version")]
    got = {r[0]: r[1:] for r in raw(store, select(_I.id, *cols))}
    assert len(got) == 10
    assert all(got[f"p{i}"] == got[f"c{i}"] for i in range(5))


def test_new_ids_are_distinct_version_4_uuids() -> None:
    ids = new_ids(1000)
    assert len(set(ids)) == 1000 and new_ids(0) == []
    for i in ids:
        parsed = uuid.UUID(i)
        assert str(parsed) == i and parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_new_ids_are_the_uuid_modules_text_of_the_same_bytes(monkeypatch) -> None:
    raw = os.urandom(16 * 300) + bytes(16) + b"\xff" * 16  # and the extreme bytes
    monkeypatch.setattr(os, "urandom", lambda n: raw[:n])
    assert new_ids(302) == [str(uuid.UUID(bytes=raw[i:i + 16], version=4))
                            for i in range(0, 16 * 302, 16)]


def test_an_update_repeated_in_one_batch_is_a_rerun_of_what_the_batch_wrote(store) -> None:
    # The second op compares with the content the batch itself just wrote (as JSON text).
    hub, (spoke,) = hub_and_spokes(store)
    epoch = store.acquire_writer(hub.id)
    hid = store.apply_hub_ops(hub.id, spoke.id, epoch, [create("r1", event("u1"))]).created["r1"]
    edited = odd_item("u1")
    res = store.apply_hub_ops(hub.id, spoke.id, epoch, [update(hid, 1, edited, "r1")] * 2)
    assert (res.updated, res.unchanged, res.stale, res.version) == (1, 1, (), 2)
    other = store.apply_hub_ops(hub.id, spoke.id, epoch, [
        update(hid, 2, event("u1", "x"), "r1"), update(hid, 2, event("u1", "y"), "r1")])
    assert (other.updated, other.stale) == (1, ("r1",))
