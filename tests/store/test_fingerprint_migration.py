"""Migration 0009 on a store built at revision 0008 (fingerprint version 1): the link,
pending-write and deleted-copy rows are marked version 1, every stored hub content (current
and each version) gets what its source says to version 2, the hub fingerprints are
recomputed, no hub version moves; the downgrade takes it back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import column, create_engine, insert, inspect, select, table
from sqlalchemy.pool import NullPool

from cirahub.core.content_upgrade import downgraded
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_item
from cirahub.core.item import Item
from cirahub.core.options import SyncOptions
from cirahub.store import Store
from cirahub.store import models as m
from cirahub.store.engine import MIGRATIONS, writer
from tests.core.fingerprint_samples import GOOGLE, PLAIN, SERIES

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _alembic(url: str, action: str, revision: str) -> None:
    engine = create_engine(url, poolclass=NullPool)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with writer(engine).begin() as conn:
            cfg.attributes["connection"] = conn
            getattr(command, action)(cfg, revision)
    finally:
        engine.dispose()


def _old(text: str) -> dict[str, object]:
    """A hub content as version 1 stored it."""
    content = parse_item(text).to_json()
    return downgraded(content) or content


def _build_at_0008(db_url: str, make_store) -> tuple[str, dict[str, dict[str, object]]]:
    _alembic(db_url, "upgrade", "0008")
    store = make_store(migrate=False)
    hub = store.create_hub("team")
    spoke = store.add_spoke(hub.name, "a", "vdir", {"path": "/cal/a"}, SyncOptions())
    contents = {"google": _old(GOOGLE), "plain": _old(PLAIN), "series": _old(SERIES)}
    cols = ("spoke_id", "hub_item_id", "hub_version", "fingerprint")
    # the tables as revision 0008 has them (the models' have fp_version)
    links = table("links", *(column(c) for c in (*cols, "remote_id", "remote_version")))
    pending, copies = (table(t, *(column(c) for c in cols))
                       for t in ("pending_writes", "deleted_copies"))
    with writer(store.engine).begin() as conn:
        for version, (name, content) in enumerate(contents.items(), start=1):
            item_id = str(uuid.uuid4())
            fp = fingerprint(Item.from_json(content))
            conn.execute(insert(m.hub_items).values(
                id=item_id, hub_id=hub.id, uid=content["uid"], version=version,
                created_version=version, content=content, fingerprint=fp, match_key=None,
                deleted=False, updated_at=NOW))
            conn.execute(insert(m.hub_item_versions).values(
                hub_item_id=item_id, version=version, content=content, spoke_id=None,
                created_at=NOW))
            conn.execute(insert(links).values(
                spoke_id=spoke.id, hub_item_id=item_id, remote_id=f"{name}.ics",
                remote_version="1-2-3", fingerprint=fp, hub_version=version))
            for rows in (pending, copies):
                conn.execute(insert(rows).values(
                    dict(zip(cols, (spoke.id, item_id, version, fp), strict=True))))
    store.close()
    return hub.id, contents


def _rows(store: Store) -> dict[str, list[tuple[object, ...]]]:
    with store.engine.connect() as conn:
        return {
            "items": sorted(tuple(r) for r in conn.execute(select(
                m.hub_items.c.uid, m.hub_items.c.version, m.hub_items.c.fingerprint))),
            "versions": sorted((r.content["uid"], r.version) for r in conn.execute(
                select(m.hub_item_versions.c.content, m.hub_item_versions.c.version))),
        }


def test_regression_migration_0009_marks_version_1_and_upgrades_contents(db_url, make_store):
    hub_id, contents = _build_at_0008(db_url, make_store)
    store = make_store()  # upgrades to head
    with store.engine.connect() as conn:
        for table in (m.links, m.pending_writes, m.deleted_copies):
            assert {r[0] for r in conn.execute(select(table.c.fp_version))} == {1}
        stored = {r.uid: r for r in conn.execute(select(m.hub_items))}
        versions = {r.content["uid"]: r.content for r in conn.execute(
            select(m.hub_item_versions))}
    for name, text in (("google", GOOGLE), ("plain", PLAIN), ("series", SERIES)):
        now = parse_item(text)
        row = stored[now.uid]
        # what a read of the source gives today, at the version it had: no hub change
        assert Item.from_json(row.content) == now, name
        assert Item.from_json(versions[now.uid]) == now, name
        assert row.fingerprint == fingerprint(now)
        assert row.version == list(contents).index(name) + 1
    assert stored["g1@google.com"].content["fields"]["verbatim"] == {"status": "CONFIRMED"}
    assert store.get_hub("team").id == hub_id
    before = _rows(store)
    store.close()
    _alembic(db_url, "downgrade", "0008")
    back = make_store(migrate=False)
    with back.engine.connect() as conn:
        olds = {r.uid: r.content for r in conn.execute(
            select(m.hub_items.c.uid, m.hub_items.c.content))}
        assert "fp_version" not in {c["name"] for c in inspect(conn).get_columns("links")}
    assert {uid: Item.from_json(c) for uid, c in olds.items()} == {
        c["uid"]: Item.from_json(c) for c in contents.values()}
    back.close()
    again = make_store()
    assert _rows(again) == before
