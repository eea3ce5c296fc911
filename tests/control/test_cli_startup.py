"""What a ``cirahubctl`` command imports before it runs (its start-up is part of every command,
most of a no-change ``sync``): its own command's module, not every other command's."""

from __future__ import annotations

import subprocess
import sys

import click

from cirahub.control import completion
from cirahub.control.cli import COMMANDS, WHERE, cli

#: modules only other commands need (option tables and spoke kinds of `spoke`, `apply`'s
#: topology, the demo's data, the console's password)
OTHERS = ("cirahub.control.cli_spoke", "cirahub.control.spoke_flags", "cirahub.control.cli_apply",
          "cirahub.control.demo", "cirahub.control.cli_console", "cirahub.connectors.kinds")


def _loaded_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\n"
             f"print(','.join(m for m in {OTHERS!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return [m for m in out.stdout.strip().split(",") if m]


def test_regression_sync_imports_no_other_command() -> None:
    """Before: importing the CLI imported every command's module (about a third of the
    start-up of `sync`: option tables, spoke kinds, the demo)."""
    assert _loaded_after("from cirahub.control.cli import cli\ncli.commands['sync']") == []
    assert _loaded_after("from cirahub.control.cli import cli\ncli.commands['status']") == []


def test_every_command_is_listed_without_importing_it_and_found_by_its_name() -> None:
    assert _loaded_after("from cirahub.control.cli import cli\nsorted(cli.commands)") == []
    assert list(cli.commands) == list(WHERE)
    for name in WHERE:
        command = cli.get_command(click.Context(cli), name)
        assert command is not None and command.name == name
    assert [c.name for c in COMMANDS] == list(WHERE)
    assert cli.get_command(click.Context(cli), "no-such-command") is None


def test_a_command_looked_up_has_its_completers() -> None:
    params = {p.name: p for p in cli.commands["sync"].params}
    assert params["hub"]._custom_shell_complete is completion.hubs  # type: ignore[attr-defined]
    assert params["spoke"]._custom_shell_complete is completion.spokes  # type: ignore[attr-defined]
    confirm = {p.name: p for p in cli.commands["confirm"].params}
    assert confirm["spoke"]._custom_shell_complete is completion.spokes  # type: ignore[attr-defined]


def test_regression_a_command_with_a_data_folder_given_imports_no_store() -> None:
    """Before: finding the server imported the store package (its records, ~10 ms of every
    command; with platformdirs ~45 ms) even when the data folder was given."""
    code = ("import os, sys\nos.environ['CIRAHUB_DATA_DIR'] = '/nonexistent'\n"
            "from cirahub.control.client import resolve\ntarget = resolve()\n"
            "print(target.token_source)\n"
            "print(','.join(m for m in ('cirahub.store', 'platformdirs') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    source, loaded = out.stdout.split("\n")[:2]
    assert source == "none found (no token file in /nonexistent)"
    assert loaded == ""
