"""Shared helpers of the deployment tests: the repository's deploy files, and the shell command
lines they run split into the programs' own argument lists."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
K8S = ROOT / "deploy" / "k8s" / "raycluster.yaml"
SYSTEMD_UNIT = ROOT / "docs" / "cirahub.service"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"


def shell_steps(script: str) -> list[list[str]]:
    """``a && exec b`` → ``[["a"], ["exec", "b"]]``: the commands of an ``sh -c`` line (only
    ``&&`` chains are used in our files; anything else fails the split loudly)."""
    words = shlex.split(script)
    assert not {";", "|", "||", "&"} & set(words), f"unexpected shell operator in {script!r}"
    steps: list[list[str]] = [[]]
    for word in words:
        if word == "&&":
            steps.append([])
        else:
            steps[-1].append(word)
    assert all(steps), f"empty command in {script!r}"
    return steps


def parse_cirahubctl(argv: list[str]) -> click.Context:
    """Parses ``cirahubctl SUBCOMMAND ...`` with the real click command (no run): an unknown
    flag or a bad value raises click.UsageError."""
    from cirahub.control import cli_sync  # registers `server` (as cirahubctl's main does)
    from cirahub.control.cli import cli

    assert cli_sync.server is cli.commands["server"]
    assert argv[0] == "cirahubctl", argv
    command = cli.commands[argv[1]]
    return command.make_context(argv[1], list(argv[2:]))


def parse_ray(argv: list[str]) -> click.Context:
    """Parses ``ray SUBCOMMAND ...`` with Ray's own click CLI (no run)."""
    from ray.scripts.scripts import cli as ray_cli

    assert argv[0] == "ray", argv
    command = ray_cli.commands[argv[1]]
    return command.make_context(argv[1], list(argv[2:]))
