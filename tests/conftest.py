"""Shared fixtures for the whole suite.

- ``db_url`` — a database URL, parametrized ``sqlite`` (a file in ``tmp_path``) and
  ``postgres`` (a fresh schema per test on the PostgreSQL at 127.0.0.1:5432, dropped after;
  marked ``postgres``). PostgreSQL not reachable → the test FAILS with a clear message,
  unless ``CIRAHUB_SKIP_POSTGRES=1`` (then it is skipped). ``CIRAHUB_TEST_POSTGRES_URL``
  points at another server/database.
- ``secret_key`` — a fresh Fernet key.
- ``store`` — a migrated :class:`cirahub.store.Store` on ``db_url``.
- ``make_store`` — opens more Store instances on the same database (closed after the test).
- ``pg_admin_url`` — the PostgreSQL server URL (session), for tests that administer it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from cirahub.store import Store

# Property tests are deterministic: a fixed (derandomized) set of examples, no example database
# carried between runs, no per-example deadline (a loaded 2-core CI machine is slow, not
# wrong). CIRAHUB_HYPOTHESIS_EXPLORE=1 draws new examples, to look for new failures.
settings.register_profile("cirahub", derandomize=True, database=None, deadline=None,
                          print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile("explore" if os.environ.get("CIRAHUB_HYPOTHESIS_EXPLORE") == "1"
                      else "cirahub")

PG_URL_ENV = "CIRAHUB_TEST_POSTGRES_URL"
SKIP_PG_ENV = "CIRAHUB_SKIP_POSTGRES"
_DEFAULT_PG = (
    "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg2://root@127.0.0.1:5432/test",
)


@pytest.fixture(scope="session")
def pg_admin_url() -> URL:
    """The PostgreSQL server for tests; fails (or skips with CIRAHUB_SKIP_POSTGRES=1) when
    it cannot be reached."""
    env = os.environ.get(PG_URL_ENV)
    candidates = (env,) if env else _DEFAULT_PG
    errors: list[str] = []
    for candidate in candidates:
        url = make_url(candidate)
        engine = create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return url
        except SQLAlchemyError as exc:
            first = str(getattr(exc, "orig", exc)).strip().splitlines()
            errors.append(f"{url.render_as_string(hide_password=True)}: "
                          f"{first[0] if first else type(exc).__name__}")
        finally:
            engine.dispose()
    message = (
        "PostgreSQL is not reachable for the postgres tests (" + "; ".join(errors) + "). "
        f"Start it on 127.0.0.1:5432 (trust auth, database 'test'), set {PG_URL_ENV}, "
        f"or set {SKIP_PG_ENV}=1 to skip these tests."
    )
    if os.environ.get(SKIP_PG_ENV) == "1":
        pytest.skip(message)
    pytest.fail(message, pytrace=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL on an empty database: SQLite file, or a fresh PostgreSQL schema
    (selected by ``search_path``; its connections carry ``application_name`` = the schema)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cirahub.db'}"
        return
    admin: URL = request.getfixturevalue("pg_admin_url")
    schema = f"t_{uuid.uuid4().hex[:20]}"
    engine = create_engine(admin, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = admin.update_query_dict(
            {"options": f"-csearch_path={schema}", "application_name": schema}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            # A connection a test left open would block DROP SCHEMA on its locks.
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = :name AND pid <> pg_backend_pid()"),
                         {"name": schema})
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture
def secret_key() -> bytes:
    return Fernet.generate_key()


@pytest.fixture
def make_store(db_url: str, secret_key: bytes, tmp_path: Path) -> Iterator[Callable[..., Store]]:
    """``make_store(**kwargs)`` opens another Store on ``db_url`` (same key unless given)."""
    opened: list[Store] = []

    def factory(**kwargs: object) -> Store:
        kwargs.setdefault("secret_key", secret_key)
        kwargs.setdefault("data_dir", tmp_path)
        store = Store.open(db_url, **kwargs)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(make_store: Callable[..., Store]) -> Store:
    return make_store()
