"""Issue 13 item 3: the embedded Ray listens on loopback only and starts no dashboard.

Before, Ray's GCS, raylet, workers, dashboard agent and metrics exporter listened on every
interface (``::``, ``0.0.0.0`` or the machine's outside address). The check lists the
listening sockets of every process of the embedded Ray (the driver and all its descendants,
after a task and an actor ran, so workers exist) with psutil.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.ray

SCRIPT = """
import json, pathlib, psutil, ray
from cirahub.cluster.bootstrap import init_ray
from cirahub.cluster.settings import Settings

assert init_ray(Settings.from_env(data_dir=pathlib.Path({data!r})))

@ray.remote(num_cpus=0)  # an embedded Ray has no CPUs: cirahub's actors reserve none
class Probe:
    def ping(self):
        return 1

assert ray.get(ray.remote(num_cpus=0)(lambda: 1).remote()) == 1
probe = Probe.remote()
assert ray.get(probe.ping.remote()) == 1
me = psutil.Process()
found = []
for proc in [me, *me.children(recursive=True)]:
    try:
        cmd = " ".join(proc.cmdline())
        for conn in proc.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                found.append([proc.name(), conn.laddr.ip, conn.laddr.port])
        found.append([proc.name(), "cmd", cmd[:300]])
    except psutil.Error:
        pass
print("LISTEN", json.dumps(found))
ray.shutdown()
"""

LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


def test_regression_embedded_ray_listens_on_loopback_only() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="rl", dir="/tmp"))  # Ray's socket paths stay short
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CIRAHUB_", "RAY_"))}
        env["RAY_TMPDIR"] = str(tmp)
        done = subprocess.run([sys.executable, "-c", SCRIPT.format(data=str(tmp / "data"))],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        found = json.loads(done.stdout.split("LISTEN", 1)[1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    listening = [(name, ip, port) for name, ip, port in found if ip != "cmd"]
    commands = [cmd for _, ip, cmd in found if ip == "cmd"]
    assert any(name == "gcs_server" for name, _, _ in listening)  # the probe saw Ray's servers
    assert any(name == "raylet" for name, _, _ in listening)
    outside = [entry for entry in listening if entry[1] not in LOOPBACK]
    assert outside == []
    # no dashboard: nothing serves its web UI (port 8265). Ray 2.x still runs its API-server
    # process and a per-node agent for its own job and state modules; they are covered by
    # the loopback check above.
    assert commands and not any(port == 8265 for _, _, port in listening), listening
