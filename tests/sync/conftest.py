"""Fixtures for whole-loop tests that open many stores (one per hypothesis example)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from cirahub.store import Store


@pytest.fixture
def open_sqlite_store(tmp_path) -> Iterator[Callable[[], Store]]:
    """Opens a new Store on a new SQLite file per call."""
    key = Fernet.generate_key()
    count = iter(range(10**6))

    def factory() -> Store:
        return Store.open(f"sqlite:///{tmp_path}/loop{next(count)}.db", secret_key=key,
                          data_dir=tmp_path)

    yield factory


@pytest.fixture
def open_pg_store(pg_admin_url: URL, tmp_path) -> Iterator[Callable[[], Store]]:
    """Opens a new Store on a fresh PostgreSQL schema per call; all dropped afterwards."""
    key = Fernet.generate_key()
    schemas: list[str] = []
    admin = create_engine(pg_admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")

    def factory() -> Store:
        schema = f"loop_{uuid.uuid4().hex[:16]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        url = pg_admin_url.update_query_dict(
            {"options": f"-csearch_path={schema}", "application_name": schema})
        return Store.open(url.render_as_string(hide_password=False), secret_key=key,
                          data_dir=tmp_path)

    yield factory
    with admin.connect() as conn:
        for schema in schemas:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = :name AND pid <> pg_backend_pid()"),
                         {"name": schema})
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()
