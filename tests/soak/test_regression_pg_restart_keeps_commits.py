"""Found by the chaos soak: its own PostgreSQL ran with ``synchronous_commit = off``, so a
"restart postgresql: immediate" fault (SIGQUIT, a crash) dropped transactions the store had
already seen committed — a hub item's creation and its links vanished while the spokes kept
the copies written after it, and an Exchange user's delete of that item was then "lost" (the
checker: "deleted by exchange, still in the hub"; false conflicts from links gone back in
time). No program can defend against a database that forgets acknowledged commits; the
soak's server must not: every commit it acknowledges survives a crash-like restart (``fsync``
may stay off — a process crash leaves the OS's page cache intact)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tests.soak import postgres

pytestmark = [pytest.mark.soak]


def test_regression_immediate_restart_keeps_acknowledged_commits(
        own_postgres: tuple[Path, postgres.OwnPostgres]) -> None:
    _, pg = own_postgres
    # the WAL writer would otherwise flush an asynchronous commit within 200 ms anyway:
    # make "acknowledged but not yet written" last, as it does under load
    pg.admin("ALTER SYSTEM SET wal_writer_delay = '10s'")
    pg.admin("SELECT pg_reload_conf()")
    pg.admin("CREATE TABLE acknowledged (n integer)", database="cirahub")
    engine = pg.engine("cirahub")
    try:
        with engine.connect() as conn:  # autocommit: one transaction per row
            for n in range(20):
                conn.execute(text("INSERT INTO acknowledged VALUES (:n)"), {"n": n})
    finally:
        engine.dispose()
    pg.restart("immediate")
    [(count,)] = pg.admin("SELECT count(*) FROM acknowledged", database="cirahub")
    assert count == 20
