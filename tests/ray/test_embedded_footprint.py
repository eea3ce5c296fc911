"""Issue 15: the embedded server's Ray is what docs/cli.md says — no dashboard unless
``--dashboard``, none of the head's helper processes that would only serve it, no CPUs (so no
idle worker processes), the hub writers and the first spoke actor inside the supervisor. Memory itself is measured by
bench/bench_footprint.py, not asserted here."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from cirahub.cluster.bootstrap import LOOPBACK, embedded_ray_options
from cirahub.cluster.settings import Settings
from tests.control.conftest import CTL, Server, start_server, stop_server

#: command-line markers of Ray's head helpers an embedded server without dashboard leaves out
HEAD_HELPERS = {"dashboard API server": "ray/dashboard/dashboard.py",
                "autoscaler monitor": "autoscaler/_private/monitor.py",
                "log monitor": "_private/log_monitor.py"}


def test_embedded_ray_options_are_the_documented_ones(tmp_path: Path) -> None:
    opts = embedded_ray_options(Settings(data_dir=tmp_path))
    assert opts["include_dashboard"] is False and "dashboard_host" not in opts
    assert opts["num_cpus"] == 0  # actors only, and they reserve no CPU
    assert opts["address"] == "local" and opts["_node_ip_address"] == LOOPBACK
    assert opts["log_to_driver"] is False
    asked = embedded_ray_options(Settings(data_dir=tmp_path, dashboard=True, num_cpus=2))
    assert asked["include_dashboard"] is True and asked["dashboard_host"] == LOOPBACK
    assert asked["num_cpus"] == 2


def test_dashboard_is_refused_with_a_cluster(tmp_path: Path) -> None:
    done = subprocess.run([CTL, "server", "--data-dir", str(tmp_path), "--dashboard",
                           "--ray-address", "auto"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--dashboard is for the embedded Ray" in done.stderr


def _tree(server: Server) -> list[str]:
    root = psutil.Process(server.proc.pid)
    out = []
    for proc in [root, *root.children(recursive=True)]:
        try:
            out.append(" ".join(proc.cmdline()))
        except psutil.Error:
            continue
    return out


@pytest.fixture(scope="module")
def lean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("lean-server"))
    yield srv
    stop_server(srv.proc)


@pytest.mark.ray
def test_embedded_server_runs_no_dashboard_and_no_hub_or_spoke_actor_process(
        lean: Server, tmp_path: Path) -> None:
    folder = tmp_path / "cal"
    folder.mkdir()
    (folder / "a.ics").write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
                                  "BEGIN:VEVENT\r\nUID:a@fp\r\nDTSTAMP:20260101T000000Z\r\n"
                                  "DTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\n"
                                  "SUMMARY:a\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    assert lean.ctl("hub", "create", "fp").code == 0
    assert lean.ctl("spoke", "add", "fp", "cal", "--kind", "vdir", "--path", str(folder)).code == 0
    done = lean.ctl("sync", "fp")
    assert done.code == 0, done.out
    # the run went through the supervisor's own spoke actor and hub writer: the item is in
    # the hub
    assert "a@fp" in lean.ctl("items", "fp", "--json").out
    tree = _tree(lean)
    assert any("ray::Supervisor" in c for c in tree)
    assert not any("ray::HubActor" in c or "ray::SpokeActor" in c for c in tree), tree
    running = {name for name, marker in HEAD_HELPERS.items() if any(marker in c for c in tree)}
    assert running == set(), tree
    assert not any(c.startswith("ray::IDLE") for c in tree), tree  # no CPUs: none kept


@pytest.mark.ray
def test_dashboard_flag_starts_the_dashboard_on_loopback(tmp_path: Path) -> None:
    srv = start_server(tmp_path, "--dashboard")
    try:
        deadline = time.monotonic() + 60  # read until it shows (a loaded machine is slow)
        while True:
            tree = _tree(srv)
            dashboards = [c for c in tree if HEAD_HELPERS["dashboard API server"] in c]
            if dashboards or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        stop_server(srv.proc)
    assert dashboards, (tree, srv.log_text()[-3000:])
    assert f"--host={LOOPBACK}" in dashboards[0], tree
    assert "--modules-to-load" not in dashboards[0]  # the whole dashboard, not the stub


def test_server_help_names_the_dashboard_flag() -> None:
    done = subprocess.run([CTL, "server", "--help"], capture_output=True, text=True, timeout=60)
    assert "--dashboard" in done.stdout and "127.0.0.1:8265" in done.stdout
