"""docs/cirahub.service: `systemd-analyze verify` (the machine's systemd) on the unit with
ExecStart pointed at this environment's cirahubctl, the keys docs/deploy.md promises, and its
server command line through the real parser. Also: docs/deploy.md shows the unit verbatim, and
every `cirahubctl` command line in it parses."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY_DOC, SYSTEMD_UNIT, parse_cirahubctl

INSTALLED_CTL = "/opt/cirahub/bin/cirahubctl"


def _unit() -> configparser.ConfigParser:
    # systemd allows repeated keys (Environment=): keep the last, but read them all below
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(SYSTEMD_UNIT.read_text())
    return parser


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is not installed (Debian package systemd)")
    ctl = str(Path(sys.executable).with_name("cirahubctl"))
    unit = tmp_path / "cirahub.service"
    unit.write_text(SYSTEMD_UNIT.read_text().replace(INSTALLED_CTL, ctl))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_systemd_analyze_rejects_a_broken_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze
    unit = tmp_path / "cirahub.service"
    unit.write_text(SYSTEMD_UNIT.read_text().replace("Restart=on-failure", "Restart=sometimes"))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert "restart specifier" in result.stderr


def test_unit_keys() -> None:
    service = _unit()["Service"]
    assert service["Restart"] == "on-failure"
    assert service["StateDirectory"] == "cirahub"
    assert service["StandardOutput"] == service["StandardError"] == "journal"
    assert service["User"] != "root"
    assert service["KillSignal"] == "SIGTERM"  # the server's clean stop (exit 0)
    envs = [ln.split("=", 1)[1] for ln in SYSTEMD_UNIT.read_text().splitlines()
            if ln.startswith("Environment=")]
    assert "CIRAHUB_DATA_DIR=/var/lib/cirahub" in envs
    assert _unit()["Install"]["WantedBy"] == "multi-user.target"


def test_exec_start_parses_and_uses_the_state_directory() -> None:
    argv = shlex.split(_unit()["Service"]["ExecStart"])
    assert argv[0] == INSTALLED_CTL
    ctx = parse_cirahubctl(["cirahubctl", *argv[1:]])
    assert ctx.params["data_dir"] == "/var/lib/cirahub"
    assert ctx.params["listen"].startswith("127.0.0.1:")
    assert ctx.params["log_format"] == "json"


def test_deploy_doc_shows_the_unit_verbatim() -> None:
    blocks = re.findall(r"```ini\n(.*?)```", DEPLOY_DOC.read_text(), re.S)
    assert blocks == [SYSTEMD_UNIT.read_text()]


def test_every_cirahubctl_line_in_the_deploy_doc_parses() -> None:
    text = "".join(re.findall(r"```sh\n(.*?)```", DEPLOY_DOC.read_text(), re.S))
    text += "".join(re.findall(r"`([^`\n]*cirahubctl status[^`\n]*)`", DEPLOY_DOC.read_text()))
    # command substitutions become one placeholder word; comments are dropped
    lines = re.findall(r"cirahubctl ([a-z][^`\n#]*)", text)
    lines = [re.sub(r'"\$\([^)]*\)"', "VALUE", ln) for ln in lines]
    seen = 0
    for line in lines:
        argv = shlex.split(line)
        if argv[0] in ("server", "status"):
            parse_cirahubctl(["cirahubctl", *argv])
            seen += 1
    assert seen >= 4
