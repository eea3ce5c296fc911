"""Database failures surface as StoreError (retryable), never as raw SQLAlchemy errors; a
PostgreSQL connection killed under the pool is replaced transparently."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from cirahub.core.errors import InvalidInput, StoreError
from cirahub.store import Store


def _is_pg(url: str) -> bool:
    return url.startswith("postgresql")


def test_unreachable_database_raises_store_error(db_url, tmp_path, secret_key):
    if _is_pg(db_url):
        bad = make_url(db_url).set(port=1).render_as_string(hide_password=False)
    else:
        bad = f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    with pytest.raises(StoreError) as err:
        Store.open(bad, secret_key=secret_key)
    assert err.value.retryable and err.value.fields["action"] == "open"


def test_closed_store_and_bad_urls(store, secret_key):
    store.create_hub("h")
    store.close()
    with pytest.raises(StoreError):
        store.list_hubs()
    with pytest.raises(InvalidInput):
        Store.open("mysql://nobody@localhost/x", secret_key=secret_key)
    with pytest.raises(InvalidInput):
        Store.open("::not a url::", secret_key=secret_key)


def test_database_gone_while_open_raises_store_error(db_url, store, tmp_path):
    store.create_hub("h")
    if _is_pg(db_url):
        schema = make_url(db_url).query["application_name"]
        admin = create_engine(db_url, poolclass=NullPool)
        with admin.begin() as conn:
            conn.exec_driver_sql(f'ALTER SCHEMA "{schema}" RENAME TO "{schema}_gone"')
        try:
            with pytest.raises(StoreError) as err:
                store.list_hubs()
        finally:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'ALTER SCHEMA "{schema}_gone" RENAME TO "{schema}"')
            admin.dispose()
    else:
        shutil.rmtree(tmp_path / "sub", ignore_errors=True)
        moved = tmp_path / "sub"
        moved.mkdir()
        sub_store = Store.open(f"sqlite:///{moved / 'x.db'}", secret_key=b"A" * 43 + b"=")
        sub_store.create_hub("h")
        shutil.rmtree(moved)
        sub_store.engine.pool.dispose()  # the pool recycles its connections: new ones fail
        try:
            with pytest.raises(StoreError) as err:
                sub_store.list_hubs()
        finally:
            sub_store.close()
    assert err.value.retryable and err.value.fields["action"] == "list_hubs"
    assert [h.name for h in store.list_hubs()] == ["h"]  # back once the database is back


def test_killed_connections_are_replaced(db_url, store):
    store.create_hub("h")
    if _is_pg(db_url):
        schema = make_url(db_url).query["application_name"]
        admin = create_engine(db_url, poolclass=NullPool)
        with admin.connect() as conn:
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND pid <> pg_backend_pid()"), {"name": schema}
            ).scalar_one()
        admin.dispose()
        assert killed >= 1  # the store's pooled connection was killed server-side
    else:
        with store.engine.connect() as conn:
            conn.connection.dbapi_connection.close()  # the pooled connection dies
    assert [h.name for h in store.list_hubs()] == ["h"]  # pool_pre_ping reconnected
    store.create_hub("h2")
    assert len(store.list_hubs()) == 2
