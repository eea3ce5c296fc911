"""Regression: an embedded runtime (no --ray-address) starts its own Ray even when the machine
has another cluster's address file (``ray start`` elsewhere, or a stale file): before, every
``cirahubctl server`` on such a machine failed with "When connecting to an existing cluster,
object_store_memory must not be provided"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray

SCRIPT = """
import ray
from cirahub.cluster.bootstrap import init_ray
from cirahub.cluster.settings import Settings
assert init_ray(Settings.from_env(data_dir=__import__("pathlib").Path({data!r})))
print("OWN", ray.get_runtime_context().gcs_address)
ray.shutdown()
"""


def test_regression_embedded_ray_ignores_another_clusters_address_file() -> None:
    # a short private RAY_TMPDIR (Ray's socket paths must stay short) holding the address
    # file of a cluster that is not ours (nothing listens on port 9)
    tmp = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    try:
        (tmp / "ray").mkdir()
        (tmp / "ray" / "ray_current_cluster").write_text("127.0.0.1:9")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CIRAHUB_", "RAY_"))}
        env["RAY_TMPDIR"] = str(tmp)
        done = subprocess.run([sys.executable, "-c", SCRIPT.format(data=str(tmp / "data"))],
                              env=env, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
        own = done.stdout.split("OWN", 1)[1].strip()
        assert own and not own.endswith(":9"), done.stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
