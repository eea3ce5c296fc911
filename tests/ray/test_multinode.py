"""Three Ray nodes on this machine (``ray.cluster_utils.Cluster``): spoke actors spread over
the nodes; a removed node's spokes are re-assigned and the hub still converges."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from ray.cluster_utils import Cluster

from cirahub.actors.runtime import Runtime
from tests.ray.conftest import start_runtime
from tests.ray.helpers import converge, folder_uids, wait_for, write_event

pytestmark = pytest.mark.ray

HUB = "spread"
SPOKES = 6


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    assert not ray.is_initialized()
    c = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": 80 * 1024 * 1024,
        # detect a removed node within a few seconds instead of the default ~30 s
        "_system_config": {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                           "health_check_failure_threshold": 4},
    })
    for _ in range(2):
        c.add_node(num_cpus=1, object_store_memory=80 * 1024 * 1024)
    c.wait_for_nodes()
    yield c
    c.shutdown()


@pytest.fixture(scope="module")
def rt(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    runtime = start_runtime(tmp_path_factory.mktemp("cirahub"), ray_address=cluster.address,
                            num_cpus=None)
    yield runtime
    runtime.shutdown(stop_actors=True)


def _hosting(rt: Runtime) -> dict[str, str | None]:
    return {s.name: s.node_id for s in rt.status(HUB)}


def test_spokes_spread_over_nodes_and_survive_a_node_removal(
    cluster: Cluster, rt: Runtime, tmp_path_factory: pytest.TempPathFactory,
) -> None:
    store = rt.store
    store.create_hub(HUB)
    folders: dict[str, Path] = {}
    for i in range(SPOKES):
        folders[f"s{i}"] = tmp_path_factory.mktemp(f"vdir-{i}")
        store.add_spoke(HUB, f"s{i}", "vdir", {"path": str(folders[f's{i}'])},
                        {"interval_seconds": 3600})
    rt.reconcile()
    hosting = _hosting(rt)
    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 3
    # one spoke actor per node, spokes balanced over them
    assert set(hosting.values()) == nodes
    assert sorted(Counter(hosting.values()).values()) == [2, 2, 2]

    for i in range(SPOKES):
        write_event(folders[f"s{i}"], f"before-{i}@m", f"before {i}")
    uids = {f"before-{i}@m" for i in range(SPOKES)}

    def converged() -> bool:
        return (all(folder_uids(f) == dict.fromkeys(uids, 1) for f in folders.values())
                and store.count_items(store.get_hub(HUB).id) == len(uids))

    converge(rt, HUB, converged)

    victim = sorted(cluster.worker_nodes, key=lambda n: n.node_id)[0]
    lost = {name for name, node in hosting.items() if node == victim.node_id}
    assert len(lost) == 2
    cluster.remove_node(victim)

    def reassigned() -> bool:
        rt.reconcile()
        now = _hosting(rt)
        return all(node is not None and node != victim.node_id for node in now.values())

    wait_for(reassigned, timeout=90, what="the removed node's spokes to be re-assigned")
    assert set(_hosting(rt).values()) <= nodes - {victim.node_id}

    for i in range(SPOKES):
        write_event(folders[f"s{i}"], f"after-{i}@m", f"after {i}")
    uids |= {f"after-{i}@m" for i in range(SPOKES)}
    converge(rt, HUB, converged)
    for name in lost:
        assert len(store.links(store.find_spoke(HUB, name).id)) == len(uids)
