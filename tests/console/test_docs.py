"""docs/console.md is the code: its commands run (or parse), its scrape config is valid, and
its metric table and the Grafana dashboard name exactly the metrics a server exports (checked
against a live scrape in test_console_browser)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.control.conftest import CTL

DOCS = Path(__file__).resolve().parents[2] / "docs"
TEXT = (DOCS / "console.md").read_text()


def commands() -> list[list[str]]:
    out = []
    for block in re.findall(r"```sh\n(.*?)```", TEXT, re.S):
        out += [line.split()[1:] for line in block.splitlines() if line.startswith("cirahubctl ")]
    return out


def documented_metrics() -> set[str]:
    return set(re.findall(r"^\| `(cirahub_[a-z_]+)` \|", TEXT, re.M))


def dashboard_metrics() -> set[str]:
    exprs = [t["expr"] for p in json.loads((DOCS / "grafana-dashboard.json").read_text())
             ["panels"] for t in p["targets"]]
    names = {n for e in exprs for n in re.findall(r"\b(cirahub_[a-z_]+)", e)}
    return {re.sub(r"_bucket$", "", n) for n in names}


def test_console_password_example_runs(tmp_path: Path) -> None:
    (argv,) = [c for c in commands() if c[0] == "console-password"]
    env = {"PATH": "/usr/bin:/bin", "CIRAHUB_DATA_DIR": str(tmp_path),
           "CONSOLE_PASSWORD": "a long enough password"}
    done = subprocess.run([CTL, *argv], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "console.password").read_text().startswith("scrypt$")


def test_server_example_flags_exist() -> None:
    (argv,) = [c for c in commands() if c[0] == "server"]
    help_text = subprocess.run([CTL, "server", "--help"], capture_output=True, text=True,
                               timeout=60).stdout
    for flag in (a for a in argv if a.startswith("--")):
        assert flag in help_text
    for flag in re.findall(r"`(--[a-z-]+)", TEXT):
        if flag not in ("--password-env", "--remove"):
            assert flag in help_text, flag


def test_scrape_config_is_valid_yaml_with_bearer_auth() -> None:
    (block,) = re.findall(r"```yaml\n(.*?)```", TEXT, re.S)
    job = yaml.safe_load(block)["scrape_configs"][0]
    assert job["authorization"]["type"] == "Bearer"
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:7080"]


def test_dashboard_uses_only_documented_metrics() -> None:
    assert dashboard_metrics() <= documented_metrics()
    assert len(documented_metrics()) >= 16


@pytest.mark.parametrize("name", sorted(documented_metrics()))
def test_documented_names_follow_prometheus_conventions(name: str) -> None:
    row = next(line for line in TEXT.splitlines() if line.startswith(f"| `{name}`"))
    kind = row.split("|")[2].strip()
    assert name.endswith("_total") == (kind == "counter"), row
    if kind == "histogram":
        assert name.endswith("_seconds"), row
