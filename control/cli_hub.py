"""``cirahubctl hub ...``: create, list, show and delete hubs."""

from __future__ import annotations

import sys
from typing import Any

import click

from cirahub.control import render
from cirahub.control.cli_common import CONTEXT, EPILOG, Conn, connection_options
from cirahub.control.cli_spoke import spoke_rows
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb


@click.group(context_settings=CONTEXT, epilog=EPILOG)
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
