"""Engines, migrations and error translation for the canonical store.

SQLite (the embedded default) runs in WAL mode with a busy timeout and foreign keys on, and
write transactions start with ``BEGIN IMMEDIATE`` so concurrent writers queue on the busy
timeout instead of failing on a read→write lock upgrade. PostgreSQL runs through psycopg2 with
``pool_pre_ping`` so connections killed by a server restart are replaced transparently.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    SQLAlchemyError,
)

from cirahub.core.errors import CirahubError, InvalidInput, StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: execution option marking a connection whose transaction will write
WRITE_OPTION = "cirahub_write"
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: pooled SQLite connections kept open (a spoke actor's poll threads, its idle flusher and a
#: few push runs each keep one: opening a connection runs four PRAGMAs) and opened beyond
SQLITE_POOL = 16
SQLITE_OVERFLOW = 40
#: PostgreSQL advisory lock key serializing concurrent migrations of one database
_MIGRATION_LOCK = 0x63697261  # "cira"

P = ParamSpec("P")
R = TypeVar("R")


def parse_url(url: str) -> URL:
    """Parse a database URL; InvalidInput names it (without its password) when malformed."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InvalidInput("not a database URL", field="url") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise InvalidInput(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql",
            field="url",
        )
    return parsed


def make_engine(url: URL) -> Engine:
    """An engine configured for cirahub on SQLite or PostgreSQL."""
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = 10
        return create_engine(
            url, pool_pre_ping=True, pool_size=5, max_overflow=10, connect_args=connect_args
        )
    except NoSuchModuleError:
        raise InvalidInput("no driver for this database URL", field="url") from None


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, pool_size=SQLITE_POOL, max_overflow=SQLITE_OVERFLOW,
                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                                         "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so "begin" below decides how to BEGIN.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) with write transactions marked (BEGIN IMMEDIATE on SQLite)."""
    return engine.execution_options(**{WRITE_OPTION: True})


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe when several processes
    start at once: SQLite serializes on BEGIN IMMEDIATE, PostgreSQL on an advisory lock)."""
    # Imported here: the actors open the store without migrating and never load alembic.
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def describe(exc: BaseException) -> str:
    """The database's own first line of an error, never the SQL or its parameters (which may
    contain secrets)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(orig).strip().splitlines()
    return (text[0] if text else type(orig).__name__)[:300]


def translate(exc: SQLAlchemyError, action: str) -> CirahubError:
    """Map a SQLAlchemy exception to the store's error (IntegrityError callers translate
    first when they know which domain error a constraint means)."""
    if isinstance(exc, IntegrityError):
        return StoreError(f"{action}: constraint violated: {describe(exc)}", action=action)
    return StoreError(f"{action}: database unavailable: {describe(exc)}", action=action)


def guarded(fn: Callable[P, R]) -> Callable[P, R]:
    """Never let a raw SQLAlchemy exception out of a Store method: turn it into StoreError
    (connection lost, locked, constraint broken) naming the method."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise translate(exc, fn.__name__) from exc

    return wrapper
