"""Every ``cirahubctl`` help text, word for word, against the copy in ``data/help_texts.txt``:
start-up work (lazy imports, commands loaded on first use) must not change what a user reads.

A deliberate change of a help text: ``CIRAHUB_WRITE_HELP=1 pytest <this file>`` rewrites the
copy; review its diff like any other change of the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from cirahub.control.cli import cli

COPY = Path(__file__).parent / "data" / "help_texts.txt"


def _paths(group: click.Group, ctx: click.Context, prefix: tuple[str, ...] = ()
           ) -> Iterator[tuple[str, ...]]:
    for name in sorted(group.list_commands(ctx)):
        command = group.get_command(ctx, name)
        assert command is not None, name
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from _paths(command, click.Context(command, parent=ctx), (*prefix, name))


def help_texts() -> str:
    """``--help`` of the root and of every command and subcommand, on 100 columns."""
    runner = CliRunner()
    out = []
    for path in [(), *_paths(cli, click.Context(cli))]:
        # 98: what click makes of a 100-column terminal (the program's test below)
        result = runner.invoke(cli, [*path, "--help"], prog_name="cirahubctl",
                               terminal_width=98)
        assert result.exit_code == 0, (path, result.output)
        out.append(f"=== cirahubctl {' '.join(path)}\n{result.output}")
    return "\n".join(out)


def test_every_help_text_is_unchanged() -> None:
    texts = help_texts()
    if os.environ.get("CIRAHUB_WRITE_HELP"):
        COPY.write_text(texts)
    assert texts == COPY.read_text()


def test_the_program_prints_the_same_help_texts() -> None:
    """The installed program (a process of its own: commands imported lazily, the process
    ended without teardown) prints what the copy holds."""
    import subprocess
    import sys

    sections = dict(s.split("\n", 1) for s in COPY.read_text().split("=== cirahubctl ")[1:])
    program = Path(sys.executable).parent / "cirahubctl"
    for path in ("", "sync", "status", "spoke add", "hub list"):
        out = subprocess.run([str(program), *path.split(), "--help"], capture_output=True,
                             text=True, check=True, env={**os.environ, "COLUMNS": "100"})
        assert out.stdout.rstrip("\n") == sections[path].rstrip("\n"), path
