"""Fixtures of the soak's regression tests: a PostgreSQL instance of the test's own (initdb into
a temporary folder, never the machine's shared server), so a test may stop and restart it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.soak import postgres


@pytest.fixture
def own_postgres() -> Iterator[tuple[Path, postgres.OwnPostgres]]:
    """(a scratch folder, a started PostgreSQL of this test's own); skipped with the reason
    where PostgreSQL's binaries are missing; stopped and removed afterwards."""
    reason = postgres.unavailable_reason()
    if reason:
        pytest.skip(f"not run: {reason}")
    # not below pytest's basetemp: that is private to root (0700), and the postgres user
    # must reach its folder
    root = Path(tempfile.mkdtemp(prefix="cirahub-pg-", dir="/tmp"))
    root.chmod(0o755)
    pg = postgres.OwnPostgres(root / "pg")
    try:
        yield root, pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
