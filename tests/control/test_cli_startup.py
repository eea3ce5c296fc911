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


#: what no client command may import (the server's side: Ray, the store's engine and records,
#: the iCalendar reader, the actors, the cluster)
SERVER_SIDE = ("ray", "sqlalchemy", "alembic", "icalendar", "cryptography",
               "cirahub.store.repository", "cirahub.store.records", "cirahub.actors",
               "cirahub.cluster", "cirahub.core.item", "cirahub.core.plan")
#: what `sync` and `status` no longer import either (~9 ms of each start-up): the server's
#: token checks, pathlib, protobuf's JSON form (only --json needs it)
NOT_ON_SYNC = ("cirahub.control.auth", "cirahub.control.token_file",
               "pathlib", "hmac", "secrets", "google.protobuf.json_format", "platformdirs")


def _run_and_list(argv: list[str], watch: tuple[str, ...], env: dict[str, str]) -> list[str]:
    """Runs ``cirahubctl *argv`` in a new interpreter and names the modules of ``watch`` it
    imported."""
    import os

    probe = ("import sys\nfrom cirahub.control.cli import main\n"
             f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
             f"print('\\nimported:', ','.join(m for m in {watch!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env={**os.environ, **env})
    listed = out.stdout.rsplit("\nimported: ", 1)[1].strip()
    return [m for m in listed.split(",") if m]


def test_regression_no_client_command_imports_the_server_side(tmp_path: object) -> None:
    """Every command's module (``--help`` loads it), and ``sync`` / ``status`` run against
    a server that is not there: none imports Ray, the store's engine or records, the
    iCalendar reader, the actors or the cluster."""
    env = {"CIRAHUB_DATA_DIR": str(tmp_path)}
    for name in WHERE:
        assert _run_and_list([name, "--help"], SERVER_SIDE, env) == [], name
    for argv in (["sync", "h", "--address", "127.0.0.1:1"], ["status", "--address", "127.0.0.1:1"]):
        assert _run_and_list(argv, SERVER_SIDE + NOT_ON_SYNC, env) == [], argv


def test_regression_the_default_data_folder_costs_no_store_records(tmp_path: object) -> None:
    """Before: with no data folder given, finding the per-user one imported the store's
    records (the core's item and options, ~11 ms of every command)."""
    import os

    env = {k: v for k, v in os.environ.items() if k != "CIRAHUB_DATA_DIR"}
    env["HOME"] = str(tmp_path)
    probe = ("import sys\nfrom cirahub.control.client import resolve\ntarget = resolve()\n"
             "print(target.token_source)\n"
             "print(','.join(m for m in ('cirahub.store.records', 'cirahub.core.item') "
             "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=env)
    source, loaded = out.stdout.split("\n")[:2]
    assert source.startswith(f"none found (no token file in {tmp_path}")
    assert loaded == ""


def test_path_text_is_what_pathlib_made_of_a_data_folder() -> None:
    """The data folder named in messages is what ``str(Path(...))`` gave before (the client
    no longer imports pathlib)."""
    from pathlib import Path

    from cirahub.control.client import path_text

    for text in ("", ".", "./", "/", "//", "///", "/tmp/x/", "a//b", "rel/./p", "../a/../b",
                 "//srv/x", "///x", "a/.", ".a/b.", "~u", "/data dir/ä"):
        assert path_text(text) == str(Path(text)), text
