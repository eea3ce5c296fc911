"""``cirahubctl``: the command line of cirahub (a client of the control API, plus ``server``
that runs it and ``demo``).

Every command prints a table by default and JSON with ``--json``; failures print one line on
stderr and exit with a documented code (see :class:`~cirahub.control.errors.ExitCode`), never
a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from cirahub.control import render
from cirahub.control.client import Client, resolve
from cirahub.control.errors import EXIT_CODE_HELP, INTERRUPTED, ClientError, ExitCode
from cirahub.core.errors import CirahubError, InUse
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
EPILOG = "\b\nExit codes:\n" + EXIT_CODE_HELP


@dataclass
class Conn:
    """Connection flags, given on the group and/or on the command (the command's win)."""

    address: str | None = None
    token: str | None = None
    data_dir: str | None = None
    ca_cert: str | None = None
    server_name: str | None = None
    json: bool = False

    def client(self) -> Client:
        return Client(resolve(self.address, self.token, self.data_dir, self.ca_cert,
                              self.server_name))


def _merge(ctx: click.Context, **given: Any) -> Conn:
    conn: Conn = ctx.find_object(Conn) or Conn()
    for key, value in given.items():
        if value not in (None, False):
            setattr(conn, key, value)
    return conn


def connection_options(fn: F) -> F:
    """Adds the flags that reach a server; the command receives ``conn: Conn``."""
    decorators = [
        click.option("--address", envvar="CIRAHUB_ADDRESS", metavar="HOST:PORT",
                     help="Server address [env CIRAHUB_ADDRESS; default: the address the "
                          "local server published, else 127.0.0.1:7443]."),
        click.option("--token", envvar="CIRAHUB_TOKEN", metavar="TOKEN",
                     help="Control token [env CIRAHUB_TOKEN; default: read from the data "
                          "folder]."),
        click.option("--data-dir", envvar="CIRAHUB_DATA_DIR", metavar="DIR",
                     help="The server's data folder, for its token and address "
                          "[env CIRAHUB_DATA_DIR; default: the per-user folder]."),
        click.option("--ca-cert", envvar="CIRAHUB_CA_CERT", metavar="FILE",
                     help="Use TLS, trusting this CA certificate (PEM) [env CIRAHUB_CA_CERT]."),
        click.option("--server-name", metavar="NAME", hidden=True,
                     help="TLS server name to expect (when it differs from the address)."),
        click.option("--json", "json_", is_flag=True, help="Print JSON for scripts."),
    ]

    def wrapper(*args: Any, address: Any, token: Any, data_dir: Any, ca_cert: Any,
                server_name: Any, json_: bool, **kwargs: Any) -> Any:
        conn = _merge(click.get_current_context(), address=address, token=token,
                      data_dir=data_dir, ca_cert=ca_cert, server_name=server_name, json=json_)
        return fn(*args, conn=conn, **kwargs)

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    for deco in reversed(decorators):
        wrapper = deco(wrapper)
    return wrapper  # type: ignore[return-value]


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
    Halts:      confirm HUB SPOKE, restore HUB SPOKE (both with --dry-run)
    Store:      backup FILE

    Connection flags (--address, --token, --data-dir, --ca-cert, --json) are accepted before
    or after the command.
    """
    ctx.obj = Conn(address, token, data_dir, ca_cert, None, json_)


# --- hubs --------------------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT, epilog=EPILOG)
def hub() -> None:
    """Create, list, show and delete hubs."""


def _hub_rows(hubs: Any) -> list[list[Any]]:
    return [[h.name, h.policy, h.spoke_count, h.version, render.when(h.created_at)] for h in hubs]


_HUB_HEADERS = ("hub", "policy", "spokes", "version", "created")


@hub.command("create", epilog=EPILOG)
@click.argument("name")
@click.option("--policy", type=click.Choice(["latest", "hub", "spoke"]), default="latest",
              show_default=True, help="Who wins a field changed on both sides.")
@connection_options
def hub_create(name: str, policy: str, conn: Conn) -> None:
    """Create the hub NAME."""
    with conn.client() as c:
        result = c.create_hub(name, policy)
    if conn.json:
        render.emit_json(result)
    else:
        click.echo(f"created hub {result.name!r} (policy {result.policy})")


@hub.command("list", epilog=EPILOG)
@connection_options
def hub_list(conn: Conn) -> None:
    """List hubs."""
    with conn.client() as c:
        hubs = c.list_all("ListHubs", pb.ListHubsRequest(), "hubs")
    if conn.json:
        render.emit_json(list(hubs))
    else:
        render.table(_HUB_HEADERS, _hub_rows(hubs), empty="no hubs yet: cirahubctl hub create NAME")


@hub.command("show", epilog=EPILOG)
@click.argument("name")
@connection_options
def hub_show(name: str, conn: Conn) -> None:
    """Show the hub NAME and its spokes."""
    with conn.client() as c:
        result = c.call("GetHub", pb.GetHubRequest(name=name))
        spokes = c.list_all("ListSpokes", pb.ListSpokesRequest(hub=name), "spokes")
    if conn.json:
        render.emit_json({"hub": render.as_dict(result),
                          "spokes": [render.as_dict(s) for s in spokes]})
        return
    render.details([("hub", result.name), ("id", result.id), ("policy", result.policy),
                    ("object type", result.object_type), ("version", result.version),
                    ("created", render.when(result.created_at))])
    click.echo()
    from cirahub.control.cli_spoke import spoke_rows

    render.table(*spoke_rows(spokes), empty="no spokes yet: cirahubctl spoke add ...")


@hub.command("delete", epilog=EPILOG)
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@connection_options
def hub_delete(name: str, yes: bool, conn: Conn) -> None:
    """Delete the hub NAME with its items, spokes and history (remote calendars stay as
    they are)."""
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("deleting a hub needs --yes when not interactive")
        click.confirm(f"delete hub {name!r} with all its items and spokes?", abort=True)
    with conn.client() as c:
        c.call("DeleteHub", pb.DeleteHubRequest(name=name))
    if conn.json:
        render.emit_json({"deleted": name})
    else:
        click.echo(f"deleted hub {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``cirahubctl``: runs the CLI, turning every failure into one line on
    stderr and an exit code."""
    from cirahub.control import (  # noqa: F401  (registers the commands)
        cli_apply,
        cli_console,
        cli_discover,
        cli_halt,
        cli_ops,
        cli_spoke,
        cli_sync,
    )
    from cirahub.control.completion import install

    install(cli)

    try:
        code = cli.main(args=argv, prog_name="cirahubctl", standalone_mode=False)
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


def path_arg(value: str) -> str:
    """A local folder given on the command line, made absolute (the server resolves paths in
    its own working folder)."""
    return str(Path(value).expanduser().resolve())
