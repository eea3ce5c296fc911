"""``cirahubctl spoke ...``: attach, inspect, change and detach spokes.

Secrets are never taken as a plain argument (it would land in shell history and ``ps``):
``--password-env VAR``, ``--password-file FILE``, or a hidden prompt when interactive.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from cirahub.connectors.kinds import (
    get_kind,
    kind_names,
)
from cirahub.control import render
from cirahub.control.cli_common import CONTEXT, EPILOG, Conn, connection_options
from cirahub.control.errors import ExitCode
from cirahub.control.spoke_flags import (
    build_config,
    build_options,
    config_flags,
    no_check_option,
    option_flags,
    secret_from_flags,
    secret_prompt,
)
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb


@click.group(context_settings=CONTEXT, epilog=EPILOG)
def spoke() -> None:
    """Attach calendars (spokes) to a hub and set their sync options."""


# --- commands ----------------------------------------------------------------------------------


@spoke.command("add", epilog=EPILOG)
@click.argument("hub")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(kind_names()),
              help="What kind of calendar this is.")
@config_flags
@click.option("--disabled", is_flag=True, help="Attach without starting to sync.")
@click.option("--pick", is_flag=True, help="Choose the calendar interactively from what the "
              "connection flags reach (see `cirahubctl discover`).")
@no_check_option
@option_flags
@connection_options
def spoke_add(hub: str, name: str, kind: str, conn: Conn, pick: bool = False, **kw: Any) -> None:
    """Attach the calendar NAME to HUB.

    The server first reaches the calendar (lists it; checks a folder is writable when the
    hub may write there) and refuses, with the reason (exit 7), a spoke that cannot work;
    --no-check stores it anyway. Exchange user names: user@example.com, DOMAIN\\user or a
    plain name (then --mailbox gives the e-mail address).

    \b
    Examples:
      cirahubctl spoke add team alice --kind vdir --path ~/calendars/alice
      cirahubctl spoke add team nextcloud --kind caldav \\
          --url https://cloud.example.com/remote.php/dav/calendars/me/team/ \\
          --username me --password-env NEXTCLOUD_PASSWORD
      cirahubctl spoke add team exchange --kind ews-public-folder \\
          --server https://mail.example.com/EWS/Exchange.asmx --username 'CORP\\svc-sync' \\
          --mailbox svc-sync@example.com --password-env EXCHANGE_PASSWORD \\
          --folder /Team/Calendar
    """
    config = build_config(kind, kw, require=not pick)
    spec = get_kind(kind)
    stored = {f.stored_key: kw.get(f.name) for f in spec.fields}
    needs = spec.needs_secret(stored)
    secret = secret_from_flags(kw, prompt=secret_prompt(spec, kw, stored) if needs else None)
    if pick:
        from cirahub.control.cli_discover import apply_pick, pick_calendar

        apply_pick(kind, config, pick_calendar(conn, kind, config, secret))
    options = build_options(kw)
    if kw.get("disabled"):
        options.enabled = False
    with conn.client() as c:
        result = c.call("AddSpoke", pb.AddSpokeRequest(
            hub=hub, name=name, config=config, options=options, secret=secret or "",
            no_check=kw.get("no_check", False)))
    if conn.json:
        render.emit_json(result)
    else:
        click.echo(f"attached spoke {result.name!r} ({result.kind}) to hub {result.hub!r}; "
                   f"run `cirahubctl sync {result.hub}` to sync now")


def spoke_rows(spokes: Sequence[Any]) -> tuple[tuple[str, ...], list[list[Any]]]:
    headers = ("hub", "spoke", "kind", "enabled", "state", "where", "error")
    rows = [[s.hub, s.name, s.kind, "yes" if s.enabled else "no",
             s.state + (" (halted)" if s.halted_reason else ""), render.config_text(s),
             render.error_text(s)] for s in spokes]
    return headers, rows


@spoke.command("list", epilog=EPILOG)
@click.argument("hub", required=False, default="")
@connection_options
def spoke_list(hub: str, conn: Conn) -> None:
    """List the spokes of HUB (or of every hub)."""
    with conn.client() as c:
        spokes = c.list_all("ListSpokes", pb.ListSpokesRequest(hub=hub), "spokes")
    if conn.json:
        render.emit_json(list(spokes))
    else:
        render.table(*spoke_rows(spokes))


def show_spoke(s: pb.Spoke) -> None:
    render.details([
        ("hub", s.hub), ("spoke", s.name), ("id", s.id), ("kind", s.kind),
        ("config", render.config_text(s)), ("secret", "stored" if s.has_secret else "none"),
        ("enabled", "yes" if s.enabled else "no"), ("state", s.state),
        ("halted", s.halted_reason or "no"), ("last error", render.error_text(s)),
        ("updated", render.when(s.updated_at)),
    ])
    click.echo("\noptions:")
    render.details((f"  {k}", v) for k, v in render.options_pairs(s.options))


@spoke.command("show", epilog=EPILOG)
@click.argument("hub")
@click.argument("name")
@connection_options
def spoke_show(hub: str, name: str, conn: Conn) -> None:
    """Show the spoke NAME of HUB with its options (never its secret)."""
    with conn.client() as c:
        result = c.call("GetSpoke", pb.SpokeRef(hub=hub, spoke=name))
    if conn.json:
        render.emit_json(result)
    else:
        show_spoke(result)


@spoke.command("options", epilog=EPILOG)
@click.argument("hub")
@click.argument("name")
@no_check_option
@option_flags
@connection_options
def spoke_options(hub: str, name: str, conn: Conn, **kw: Any) -> None:
    """Change the sync options (or the password) of the spoke NAME of HUB; without flags,
    show them. Only the flags given change. A new password or --allow-hub is tried against
    the calendar first (refused with the reason, exit 7; --no-check skips that).

    \b
    Examples:
      cirahubctl spoke options team alice --days-back 30 --interval 10m
      cirahubctl spoke options team nextcloud --password-env NEXTCLOUD_PASSWORD
    """
    secret = secret_from_flags(kw, prompt=None)
    options = build_options(kw)
    with conn.client() as c:
        if not options.ListFields() and secret is None:
            result = c.call("GetSpoke", pb.SpokeRef(hub=hub, spoke=name))
        else:
            result = c.call("UpdateSpoke", pb.UpdateSpokeRequest(
                hub=hub, spoke=name, options=options, secret=secret,
                no_check=kw.get("no_check", False)))
    if conn.json:
        render.emit_json(result)
    else:
        render.details(render.options_pairs(result.options))


@spoke.command("test", epilog=EPILOG)
@click.argument("hub")
@click.argument("name")
@connection_options
@click.pass_context
def spoke_test(ctx: click.Context, hub: str, name: str, conn: Conn) -> None:
    """Reach the calendar of the spoke NAME of HUB now, as `spoke add` checks it (nothing is
    written). Exit 0 when it can be used, 7 with the reason otherwise.

    \b
    Example:
      cirahubctl spoke test team alice
    """
    with conn.client() as c:
        result = c.call("TestSpoke", pb.SpokeRef(hub=hub, spoke=name))
    if conn.json:
        render.emit_json(result)
    else:
        click.echo(f"{hub}/{name}: {'ok' if result.ok else 'cannot be used'}: {result.message}")
    ctx.exit(ExitCode.OK if result.ok else ExitCode.PRECONDITION)


def _simple(command: str, method: str, done: str, doc: str) -> None:
    @spoke.command(command, epilog=EPILOG, help=doc)
    @click.argument("hub")
    @click.argument("name")
    @connection_options
    def run(hub: str, name: str, conn: Conn) -> None:
        with conn.client() as c:
            result = c.call(method, pb.SpokeRef(hub=hub, spoke=name))
        if conn.json:
            render.emit_json(result)
        else:
            click.echo(f"{done} spoke {name!r} of hub {hub!r}")



_simple("remove", "RemoveSpoke", "removed",
        "Detach the spoke NAME from HUB (its calendar is left as it is).")
_simple("enable", "EnableSpoke", "enabled", "Start syncing the spoke NAME of HUB.")
_simple("disable", "DisableSpoke", "disabled",
        "Stop syncing the spoke NAME of HUB (it stays attached).")
