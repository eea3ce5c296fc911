"""``cirahubctl``: the command line of cirahub (a client of the control API, plus ``server``
that runs it and ``demo``).

Every command prints a table by default and JSON with ``--json``; failures print one line on
stderr and exit with a documented code (see :class:`~cirahub.control.errors.ExitCode`), never
a traceback.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import click

from cirahub.control.cli_common import (
    CONTEXT,
    EPILOG,
    Conn,
    connection_options,
    merged,
    path_arg,
)
from cirahub.control.errors import INTERRUPTED, ClientError, ExitCode
from cirahub.core.errors import CirahubError, InUse

#: kept importable from here for the commands' callers (scripts, tests)
__all__ = [
    "COMMANDS",
    "CONTEXT",
    "EPILOG",
    "Conn",
    "cli",
    "connection_options",
    "main",
    "path_arg",
]

#: every command and group of ``cirahubctl``: its name → (module of ``cirahub.control``, the
#: attribute there). Registered here, not as a side effect of an import or of :func:`main`.
WHERE: Mapping[str, tuple[str, str]] = {
    "hub": ("cli_hub", "hub"), "spoke": ("cli_spoke", "spoke"),
    "apply": ("cli_apply", "apply_cmd"), "sync": ("cli_sync", "sync"),
    "status": ("cli_sync", "status"), "runs": ("cli_sync", "runs"),
    "conflicts": ("cli_sync", "conflicts"), "conflict": ("cli_sync", "conflict"),
    "quarantine": ("cli_sync", "quarantine"), "events": ("cli_sync", "events"),
    "items": ("cli_items", "items"), "item": ("cli_items", "item"),
    "confirm": ("cli_halt", "confirm"), "restore": ("cli_halt", "restore"),
    "backup": ("cli_ops", "backup"), "discover": ("cli_discover", "discover"),
    "login": ("cli_discover", "login"), "console-password": ("cli_console", "console_password"),
    "server": ("cli_sync", "server"), "demo": ("demo", "demo"),
}


class LazyCommands(MutableMapping[str, click.Command]):
    """The root group's commands, each imported when it is first looked up: a command pays
    for its own module's imports only (the others' — option tables, spoke kinds, the demo —
    were about a third of every command's start-up). Iterating lists every name without
    importing; looking one up gives the command with its shell completers installed."""

    def __init__(self, where: Mapping[str, tuple[str, str]]) -> None:
        self._where = dict(where)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        command = self._loaded.get(name)
        if command is None:
            module, attr = self._where[name]  # KeyError: no such command
            command = getattr(importlib.import_module(f"cirahub.control.{module}"), attr)
            assert isinstance(command, click.Command) and command.name == name, name
            from cirahub.control.completion import install

            install(click.Group(commands={name: command}))
            self._loaded[name] = command
        return command

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._where.setdefault(name, ("", ""))
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._where[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


@click.group(context_settings=CONTEXT, epilog=EPILOG)
@click.option("--address", envvar="CIRAHUB_ADDRESS", hidden=True)
@click.option("--token", envvar="CIRAHUB_TOKEN", hidden=True)
@click.option("--data-dir", envvar="CIRAHUB_DATA_DIR", hidden=True)
@click.option("--ca-cert", envvar="CIRAHUB_CA_CERT", hidden=True)
@click.option("--json", "json_", is_flag=True, hidden=True)
@click.version_option(package_name="cirahub", prog_name="cirahubctl")
@click.pass_context
def cli(ctx: click.Context, address: str | None, token: str | None, data_dir: str | None,
        ca_cert: str | None, json_: bool) -> None:
    """cirahub: keep many calendars in two-way sync through a hub.

    \b
    Start:      cirahubctl demo            (a tour on local folders)
                cirahubctl server          (run the control plane)
    Topology:   hub create|list|show|delete, spoke add|list|show|options|remove|enable|disable,
                apply -f topology.yaml
    Sync:       sync [HUB], status [HUB], runs, conflicts, quarantine, events
    Items:      items HUB [--spoke S] [--search TEXT], item show HUB UID
    Halts:      confirm HUB SPOKE, restore HUB SPOKE (both with --dry-run)
    Store:      backup FILE

    Connection flags (--address, --token, --data-dir, --ca-cert, --json) are accepted before
    or after the command.
    """
    # a caller may hand in a Conn (``main(conn=...)``, ``CliRunner.invoke(obj=...)``)
    ctx.obj = merged(ctx.obj if isinstance(ctx.obj, Conn) else None, address=address,
                     token=token, data_dir=data_dir, ca_cert=ca_cert, json=json_)


cli.commands = LazyCommands(WHERE)
#: every command and group, imported (made on first use by the module's ``__getattr__``)
COMMANDS: tuple[click.Command, ...]


def __getattr__(name: str) -> Any:
    """``COMMANDS``: every command and group, imported (``--help`` lists them sorted)."""
    if name == "COMMANDS":
        return tuple(cli.commands[n] for n in WHERE)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None, *, conn: Conn | None = None) -> None:
    """Entry point of ``cirahubctl``: runs the CLI, turning every failure into one line on
    stderr and an exit code. ``conn``: connection settings to start from (tests give one
    whose ``opener`` returns a fake client).

    A client command run as ``cirahubctl`` ends its process as soon as its output is
    flushed: tearing the interpreter down (every module and object of grpc, protobuf and
    click freed one by one) was a tenth of a no-change ``sync``'s wall time under load, for
    nothing the command still had to do. ``server`` and ``demo`` (which start Ray and the
    store, whose exit handlers must run) end the usual way."""
    try:
        _main(argv, conn)
    except SystemExit as exc:
        if argv is None and conn is None and _pure_client_process():
            _exit_now(exc.code)
        raise


def _pure_client_process() -> bool:
    """This process is the ``cirahubctl`` program and ran a client command only (no Ray, no
    store, no server of its own)."""
    return (os.path.basename(sys.argv[0]) == "cirahubctl"
            and not any(m in sys.modules for m in ("ray", "sqlalchemy")))


def _exit_now(code: object) -> None:
    """``sys.exit(code)``'s outcome without the interpreter's teardown: the output flushed,
    then the process ends (no exit handler of the client's is left to run)."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(status)


def _main(argv: list[str] | None, conn: Conn | None) -> None:
    try:
        code = cli.main(args=argv, prog_name="cirahubctl", standalone_mode=False, obj=conn)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo("interrupted", err=True)
            sys.exit(INTERRUPTED)
        click.echo("aborted", err=True)
        sys.exit(ExitCode.BAD_INPUT)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ClientError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(int(exc.exit_code))
    except CirahubError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(ExitCode.IN_USE if isinstance(exc, InUse) else ExitCode.BAD_INPUT)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(INTERRUPTED)
    except BrokenPipeError:
        sys.exit(0)
    except Exception as exc:  # a bug of ours: one line, not a traceback (CIRAHUB_DEBUG=1 shows it)
        if os.environ.get("CIRAHUB_DEBUG"):
            raise
        click.echo(f"error: unexpected {type(exc).__name__}: {exc} (set CIRAHUB_DEBUG=1 for "
                   "details)", err=True)
        sys.exit(ExitCode.INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)
