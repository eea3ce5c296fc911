"""docker/compose.yaml, parsed as compose reads it (PyYAML, anchors resolved): one secret key
for every cirahub node, health checks, loopback-only publishing, `exec` so SIGTERM reaches the
server, and command lines that the real `cirahubctl server` and `ray start` parsers accept.
Also docker/gen_env.py, which makes the `.env` those variables come from."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from tests.deploy.conftest import COMPOSE, DOCKER, parse_cirahubctl, parse_ray, shell_steps

CIRAHUB_NODES = ("head", "worker")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _script(service: dict[str, Any]) -> str:
    entry = service["entrypoint"]
    assert entry[:2] == ["sh", "-c"] and len(entry) == 3, entry
    return entry[2]


def test_every_node_gets_the_same_secret_key_and_database(compose: dict[str, Any]) -> None:
    envs = [compose["services"][name]["environment"] for name in CIRAHUB_NODES]
    keys = {env["CIRAHUB_SECRET_KEY"] for env in envs}
    assert len(keys) == 1
    (key,) = keys
    # from docker/.env, and compose refuses to start without it (`:?`): no per-node key
    assert re.fullmatch(r"\$\{CIRAHUB_SECRET_KEY:\?[^}]+\}", key)
    assert len({env["CIRAHUB_DB"] for env in envs}) == 1
    assert envs[0]["CIRAHUB_DB"].startswith("postgresql+psycopg2://")
    assert "${POSTGRES_PASSWORD:?" in envs[0]["CIRAHUB_DB"]


def test_health_checks_probe_grpc_health_and_postgres(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]
    head = services["head"]["healthcheck"]["test"]
    assert head == ["CMD", "python", "/opt/cirahub/healthcheck.py", "control", "127.0.0.1:7443"]
    assert services["worker"]["healthcheck"]["test"][3] == "raylet"
    assert services["head"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["head"]["condition"] == "service_healthy"


def test_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    published = [p for s in compose["services"].values() for p in s.get("ports", [])]
    assert published, "the control plane must be reachable from the host"
    for port in published:
        assert isinstance(port, str) and port.startswith("127.0.0.1:"), port


def test_commands_exec_the_long_running_process(compose: dict[str, Any]) -> None:
    for name in CIRAHUB_NODES:
        service = compose["services"][name]
        assert service["init"] is True
        last = shell_steps(_script(service))[-1]
        assert last[0] == "exec", f"{name}: the last command must be exec'd: {last}"


def test_head_command_lines_parse_with_the_real_clis(compose: dict[str, Any]) -> None:
    ray_start, server = shell_steps(_script(compose["services"]["head"]))
    ctx = parse_ray(ray_start)
    assert ctx.params["head"] is True and ctx.params["port"] == 6379
    ctx = parse_cirahubctl(server[1:])  # without "exec"
    assert ctx.params["listen"] == "0.0.0.0:7443"
    assert ctx.params["http_listen"] == "0.0.0.0:7080"
    assert ctx.params["ray_address"] == "auto"
    published = {p.split(":")[-1] for p in compose["services"]["head"]["ports"]}
    assert published == {"7443", "7080"}


def test_worker_command_line_parses_with_ray(compose: dict[str, Any]) -> None:
    (worker,) = shell_steps(_script(compose["services"]["worker"]))
    ctx = parse_ray(worker[1:])
    assert ctx.params["address"] == "head:6379" and ctx.params["block"] is True


def test_a_misspelt_server_flag_is_caught_by_the_parse() -> None:
    with pytest.raises(click.UsageError):
        parse_cirahubctl(["cirahubctl", "server", "--listne", "0.0.0.0:7443"])


def test_gen_env_writes_a_key_the_store_accepts(tmp_path: Path, compose: dict[str, Any]) -> None:
    out = tmp_path / ".env"
    subprocess.run([sys.executable, str(DOCKER / "gen_env.py"), "--output", str(out)], check=True)
    assert out.stat().st_mode & 0o777 == 0o600
    values = dict(line.split("=", 1) for line in out.read_text().splitlines()
                  if line and not line.startswith("#"))
    # every variable compose interpolates is in the generated file, and in the example
    wanted = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    assert wanted == set(values) == {"CIRAHUB_SECRET_KEY", "POSTGRES_PASSWORD"}
    example = (DOCKER / "env.example").read_text()
    assert {ln.split("=")[0] for ln in example.splitlines() if "=" in ln and ln[0] != "#"} == wanted
    env = {**os.environ, "CIRAHUB_SECRET_KEY": values["CIRAHUB_SECRET_KEY"]}
    probe = ("import sys; from pathlib import Path; from cirahub.store.secrets import "
             "load_or_create_key; print(load_or_create_key(Path(sys.argv[1])).decode())")
    got = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "data")], env=env,
                         check=True, capture_output=True, text=True).stdout.strip()
    assert got == values["CIRAHUB_SECRET_KEY"]
    assert not (tmp_path / "data" / "secret.key").exists()  # the env key won; no per-node file


def test_gen_env_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / ".env"
    out.write_text("CIRAHUB_SECRET_KEY=old\n")
    result = subprocess.run([sys.executable, str(DOCKER / "gen_env.py"), "--output", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 1 and "not overwriting" in result.stderr
    assert out.read_text() == "CIRAHUB_SECRET_KEY=old\n"
