"""Migrations create the schema the models describe, from an empty database, idempotently."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from cirahub.store import Store
from cirahub.store.engine import MIGRATIONS
from cirahub.store.models import Base


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


def test_migrations_from_empty_match_the_models(db_url, make_store):
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        assert "hubs" not in inspect(engine).get_table_names()
        make_store()
        with engine.connect() as conn:
            names = set(inspect(conn).get_table_names())
            assert {"hubs", "spokes", "hub_items", "hub_item_versions", "links", "sync_runs",
                    "conflicts", "quarantine", "alembic_version"} <= names
            assert MigrationContext.configure(conn).get_current_revision() == _head()
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"migrations and models disagree: {diff}"
    finally:
        engine.dispose()


def test_reopening_keeps_data_and_schema(db_url, make_store):
    first = make_store()
    first.create_hub("kept")
    first.close()
    again = make_store()  # upgrade to head again is a no-op
    assert [h.name for h in again.list_hubs()] == ["kept"]


def test_default_url_is_sqlite_in_data_dir(tmp_path, secret_key):
    data = tmp_path / "data"
    with Store.open(data_dir=data, secret_key=secret_key) as store:
        store.create_hub("h")
        assert "sqlite" in repr(store)
    assert (data / "cirahub.db").exists()


def test_connection_settings(db_url, store):
    with store.engine.connect() as conn:
        if db_url.startswith("sqlite"):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        else:
            assert store.engine.pool._pre_ping
            assert conn.dialect.driver == "psycopg2"
