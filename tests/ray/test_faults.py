"""Faults on a running cluster (PostgreSQL store): a spoke actor killed mid-run, the hub actor
killed between two merge transactions, every database connection terminated. Each case ends
converged: every item in every spoke exactly once, nothing lost."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from cirahub.actors.runtime import Runtime
from cirahub.cluster.names import hub_actor_name
from tests.ray.conftest import start_runtime
from tests.ray.helpers import (
    actor_of,
    converge,
    crash_after_commits,
    folder_uids,
    in_actor,
    wait_for,
    write_event,
)

pytestmark = [pytest.mark.ray, pytest.mark.postgres]

HUB = "faults"
SLOW = {"interval_seconds": 3600}  # only sync now and the first run after assignment


@pytest.fixture(scope="module")
def pg_schema(pg_admin_url: URL) -> Iterator[tuple[str, str]]:
    schema = f"t_ray_{uuid.uuid4().hex[:16]}"
    engine = create_engine(pg_admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = pg_admin_url.update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema})
    yield url.render_as_string(hide_password=False), schema
    with engine.connect() as conn:
        _terminate(conn, schema)
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def _terminate(conn: Any, schema: str) -> int:
    rows = conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE application_name = :name AND pid <> pg_backend_pid()"),
                        {"name": schema}).fetchall()
    return len(rows)


@pytest.fixture(scope="module")
def rt(pg_schema: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = start_runtime(tmp_path_factory.mktemp("cirahub"), db_url=pg_schema[0],
                            merge_batch_size=10)
    yield runtime
    runtime.shutdown(stop_actors=True)


@pytest.fixture(scope="module")
def folders(rt: Runtime, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    rt.store.create_hub(HUB)
    out = {}
    for name in ("x", "y"):
        out[name] = tmp_path_factory.mktemp(f"vdir-{name}")
        rt.store.add_spoke(HUB, name, "vdir", {"path": str(out[name])}, SLOW)
    rt.reconcile()
    return out


def _converged(rt: Runtime, folders: dict[str, Path], uids: set[str]) -> bool:
    hub = rt.store.get_hub(HUB)
    if rt.store.count_items(hub.id) != len(uids):
        return False
    for name, folder in folders.items():
        if folder_uids(folder) != dict.fromkeys(uids, 1):
            return False
        if len(rt.store.links(rt.store.find_spoke(HUB, name).id)) != len(uids):
            return False
    return True


def _all_uids(folders: dict[str, Path]) -> set[str]:
    return {uid for f in folders.values() for uid in folder_uids(f)}


def test_hub_actor_killed_between_merge_transactions(rt: Runtime, folders: dict[str, Path]) -> None:
    hub_id = rt.store.get_hub(HUB).id
    hub_actor = ray.get_actor(hub_actor_name(0), namespace=rt.settings.namespace)
    write_event(folders["x"], "first@f", "makes the hub actor the writer")
    converge(rt, HUB, lambda: _converged(rt, folders, _all_uids(folders)))
    epoch_before = rt.store.get_hub(HUB).writer_epoch
    pid_before = ray.get(hub_actor.ping.remote())["pid"]
    assert ray.get(hub_actor.status.remote())["epochs"][hub_id] == epoch_before
    for i in range(45):
        write_event(folders["x"], f"merge-{i}@f", f"merge {i}")
    # 45 ops in transactions of 10: the process exits right after the 2nd commit.
    crash_after_commits(hub_actor, 2)
    converge(rt, HUB, lambda: _converged(rt, folders, _all_uids(folders)))
    # The actor really died and came back as a new writer (new epoch, fencing the old one).
    assert rt.store.get_hub(HUB).writer_epoch > epoch_before
    status = ray.get(hub_actor.status.remote())
    assert status["pid"] != pid_before
    assert status["epochs"][hub_id] == rt.store.get_hub(HUB).writer_epoch
    assert len(_all_uids(folders)) == 46


def test_spoke_actor_killed_mid_run(rt: Runtime, folders: dict[str, Path],
                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    store = rt.store
    for i in range(100):
        write_event(folders["x"], f"bulk-{i}@f", f"bulk {i}")
    converge(rt, HUB, lambda: _converged(rt, folders, _all_uids(folders)))
    uids = _all_uids(folders)
    folders["z"] = tmp_path_factory.mktemp("vdir-z")
    z = store.add_spoke(HUB, "z", "vdir", {"path": str(folders["z"])}, SLOW).id
    rt.reconcile()

    def slow_writes(_actor: Any) -> None:
        # Only in this actor's process: staging each file of a vdir write batch takes 30 ms
        # (a batch stages every file as a hidden temp file, then renames them all at once).
        from cirahub.connectors.vdir import VdirConnector

        original = VdirConnector._write_temp

        def write_temp(self: Any, content: Any) -> Any:
            time.sleep(0.03)
            return original(self, content)

        VdirConnector._write_temp = write_temp  # type: ignore[method-assign]

    def written_or_staged() -> int:
        return sum(1 for p in folders["z"].iterdir()
                   if p.suffix == ".ics" or p.name.startswith(".cirahub-"))

    in_actor(rt, z, slow_writes)
    victim = actor_of(rt, z)
    victim_name = {s.spoke_id: s for s in rt.status(HUB)}[z].actor
    wait_for(lambda: 10 <= written_or_staged() < len(uids) - 10,
             timeout=60, what="the first run of z to be half-way through its writes")
    ray.kill(victim, no_restart=True)
    interrupted = [r for r in store.list_runs(spoke_id=z, limit=10) if r.status == "running"]
    assert interrupted, "the kill should have interrupted a run"

    converge(rt, HUB, lambda: _converged(rt, folders, uids))
    status = {s.spoke_id: s for s in rt.status(HUB)}[z]
    assert status.actor and status.actor != victim_name


def test_store_connections_terminated(rt: Runtime, folders: dict[str, Path],
                                      pg_schema: tuple[str, str], pg_admin_url: URL) -> None:
    for i in range(20):
        write_event(folders["y"], f"after-restart-{i}@f", f"after restart {i}")
    engine = create_engine(pg_admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            killed = _terminate(conn, pg_schema[1])
    finally:
        engine.dispose()
    assert killed >= 2  # the driver, the supervisor, the hub and spoke actors hold connections
    converge(rt, HUB, lambda: _converged(rt, folders, _all_uids(folders)))
    assert {s.state for s in rt.status(HUB)} == {"ok"}
