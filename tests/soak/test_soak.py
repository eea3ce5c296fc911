"""The chaos soak, short and with a fixed seed (CI): at least 20 faults of every kind in
tests/soak/faults.py over a hub of vdir, Radicale, Xandikos, EWS-emulator and memory spokes
on a PostgreSQL of its own under a three-node Ray cluster; then the checker (see
tests/soak/driver.py). ``make soak`` runs the long one (110 faults)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.soak import faults, postgres
from tests.soak.driver import soak

pytestmark = [pytest.mark.soak, pytest.mark.ray, pytest.mark.slow]

CI_FAULTS = 20
CI_SEED = 16


@pytest.mark.timeout(900)
def test_chaos_soak_loses_and_duplicates_nothing() -> None:
    reason = postgres.unavailable_reason()
    if reason:
        pytest.skip(f"soak not run: {reason}")
    # not below pytest's basetemp: that is private to root (0700), and the postgres user
    # must reach its folder
    root = Path(tempfile.mkdtemp(prefix="cirahub-soak-", dir="/tmp"))
    root.chmod(0o755)
    try:
        tally = soak(root, CI_SEED, CI_FAULTS, max_node_kills=1, max_pg_restarts=2, log=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(tally.report())
    assert sum(tally.faults.values()) >= 20
    assert set(tally.faults) == set(faults.KINDS), tally.report()  # every kind happened
    assert tally.ok, tally.report()
    assert not tally.lost and not tally.duplicates and tally.meeting_messages == 0
    assert tally.conflicts == 0, tally.report()  # no user made two rival edits
