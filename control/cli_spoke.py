"""``cirahubctl spoke ...``: attach, inspect, change and detach spokes.

Secrets are never taken as a plain argument (it would land in shell history and ``ps``):
``--password-env VAR``, ``--password-file FILE``, or a hidden prompt when interactive.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from cirahub.connectors.kinds import (
    ConfigField,
    FieldType,
    SpokeKind,
    all_kinds,
    get_kind,
    kind_names,
)
from cirahub.control import render, vocabulary
from cirahub.control.cli import CONTEXT, EPILOG, Conn, cli, connection_options, path_arg
from cirahub.control.errors import ExitCode
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb


def _cli_fields() -> dict[str, list[tuple[SpokeKind, ConfigField]]]:
    """Config field name → the kinds that take it on the command line (from the kinds'
    registrations, so a new kind brings its own flags)."""
    out: dict[str, list[tuple[SpokeKind, ConfigField]]] = {}
    for kind in all_kinds().values():
        for f in kind.fields:
            if f.cli:
                out.setdefault(f.name, []).append((kind, f))
    return out


CLI_FIELDS = _cli_fields()


def config_flags(fn: Any) -> Any:
    """One ``--flag`` per config field of any kind; its help says which kinds take it."""
    for name in sorted(CLI_FIELDS, reverse=True):
        uses = CLI_FIELDS[name]
        by_help: dict[str, list[str]] = {}
        for kind, f in uses:
            by_help.setdefault(f.help, []).append(kind.name)
        text = "; ".join(f"{' / '.join(kinds)}: {h}" for h, kinds in by_help.items()) + "."
        f0 = uses[0][1]
        if f0.type is FieldType.SWITCH:
            fn = click.option(f0.flag, name, is_flag=True, help=text)(fn)
        else:
            fn = click.option(f0.flag, name, metavar=f0.metavar, help=text)(fn)
    return fn


@cli.group(context_settings=CONTEXT, epilog=EPILOG)
def spoke() -> None:
    """Attach calendars (spokes) to a hub and set their sync options."""


# --- shared flags ------------------------------------------------------------------------------


def _interval(value: str | None) -> int | None:
    """"300", "90s", "5m", "1h" → seconds."""
    if value is None:
        return None
    try:
        return vocabulary.parse_duration(value)
    except ValueError:
        raise click.BadParameter("use seconds or a number with s, m or h (e.g. 5m)",
                                 param_hint="--interval") from None


def _days(value: str | None, flag: str) -> int | None:
    if value is None:
        return None
    if value.strip().lower() in ("all", "unbounded", "none"):
        return -1
    if not value.strip().isdigit():
        raise click.BadParameter("a whole number of days, or 'all'", param_hint=flag)
    return int(value)


def option_flags(fn: Any) -> Any:
    """The sync-option flags shared by ``spoke add`` and ``spoke options``."""
    flags = [
        click.option("--hub-writes", "--allow-hub", "allow_hub",
                     metavar="create,update,delete|all|none",
                     help="What the hub may do in this calendar (default all; "
                          "--allow-hub is the same)."),
        click.option("--contributes", "--contribute", "contribute",
                     metavar="create,update,delete|all|none",
                     help="Which of this calendar's changes flow into the hub (default all; "
                          "--contribute is the same)."),
        click.option("--days-back", metavar="N|all", help="Sync window: days before today."),
        click.option("--days-ahead", metavar="N|all", help="Sync window: days after today."),
        click.option("--private", type=click.Choice(["sync", "skip", "busy"]),
                     help="Private items: copy, skip, or copy as busy blocks."),
        click.option("--categories-include", metavar="A,B", help="Only items with one of these."),
        click.option("--categories-exclude", metavar="A,B", help="Never items with one of these."),
        click.option("--tag-category", metavar="NAME",
                     help="Category added to every item the hub writes here ('' = none)."),
        click.option("--meetings-as-appointments/--meetings-as-meetings", default=None,
                     help="Write meetings without attendees (no invitation is ever sent)."),
        click.option("--reminders/--no-reminders", default=None, help="Write reminders here."),
        click.option("--tentative/--no-tentative", default=None, help="Sync tentative items."),
        click.option("--interval", metavar="5m|1h|SECONDS", help="Polling period (default 5m)."),
    ]
    for deco in reversed(flags):
        fn = deco(fn)
    return secret_flags(fn)


def secret_flags(fn: Any) -> Any:
    """The flags that give the spoke secret (never as a plain argument)."""
    flags = [
        click.option("--password-env", metavar="VAR", help="Read the password from this "
                     "environment variable."),
        click.option("--password-file", metavar="FILE", type=click.Path(dir_okay=False),
                     help="Read the password from this file (first line)."),
        click.option("--client-secret-env", metavar="VAR", help="OAuth app-only: read the client "
                     "secret from this environment variable."),
        click.option("--client-secret-file", metavar="FILE", type=click.Path(dir_okay=False),
                     help="OAuth app-only: read the client secret from this file (first line)."),
    ]
    for deco in reversed(flags):
        fn = deco(fn)
    return fn


def build_options(kw: dict[str, Any]) -> pb.SyncOptions:
    """The SyncOptions message with only the flags given set."""
    out = pb.SyncOptions()
    if kw.get("allow_hub") is not None:
        out.hub_writes = kw["allow_hub"]
    if kw.get("contribute") is not None:
        out.contributes = kw["contribute"]
    for key, flag in (("days_back", "--days-back"), ("days_ahead", "--days-ahead")):
        days = _days(kw.get(key), flag)
        if days is not None:
            setattr(out, key, days)
    if kw.get("private"):
        out.private = kw["private"]
    for key in ("categories_include", "categories_exclude"):
        if kw.get(key) is not None:
            getattr(out, key).values.extend(v.strip() for v in kw[key].split(",") if v.strip())
            getattr(out, key).SetInParent()
    if kw.get("tag_category") is not None:
        out.tag_category = kw["tag_category"]
    for key in ("meetings_as_appointments", "reminders", "tentative"):
        if kw.get(key) is not None:
            setattr(out, key, kw[key])
    interval = _interval(kw.get("interval"))
    if interval is not None:
        out.interval_seconds = interval
    return out


def secret_from_flags(kw: dict[str, Any], *, prompt: str | None) -> str | None:
    """The spoke secret from --password-env/-file or --client-secret-env/-file (one pair at
    most; the flags are removed from ``kw``), else as :func:`read_secret`."""
    pw = kw.pop("password_env", None), kw.pop("password_file", None)
    cs = kw.pop("client_secret_env", None), kw.pop("client_secret_file", None)
    if any(pw) and any(cs):
        raise click.UsageError("give a password or a client secret, not both")
    if cs[0] and cs[1]:
        raise click.UsageError("give --client-secret-env or --client-secret-file, not both")
    return read_secret(*(cs if any(cs) else pw), prompt=prompt)


def read_secret(password_env: str | None, password_file: str | None, *, prompt: str | None) -> str | None:
    """The password from --password-env / --password-file, else a hidden prompt when
    interactive and ``prompt`` is given, else None."""
    if password_env and password_file:
        raise click.UsageError("give --password-env or --password-file, not both")
    if password_env:
        value = os.environ.get(password_env)
        if not value:
            raise click.UsageError(f"environment variable {password_env} is not set or empty")
        return value
    if password_file:
        try:
            lines = Path(password_file).read_text().splitlines()
        except OSError as exc:
            raise click.UsageError(f"cannot read --password-file {password_file!r}: "
                                   f"{exc.strerror}") from None
        if not lines or not lines[0]:
            raise click.UsageError(f"--password-file {password_file!r} is empty")
        return lines[0]
    if prompt and sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True)
    return None


no_check_option = click.option(
    "--no-check", is_flag=True,
    help="Store without reaching the calendar first (it is checked at the first sync).")


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
    secret = secret_from_flags(kw, prompt=_prompt(spec, kw, stored) if needs else None)
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


def _prompt(spec: SpokeKind, kw: dict[str, Any], stored: dict[str, Any]) -> str:
    what = spec.secret.name_for(stored) if spec.secret else "secret"
    return f"{what} for {kw['username']}" if kw.get("username") else what


def build_config(kind: str, kw: dict[str, Any], *, require: bool = True) -> pb.SpokeConfig:
    """The SpokeConfig of ``kind`` from the config flags given; UsageError for a flag the
    kind does not take or (with ``require``) a required one missing."""
    spec = get_kind(kind)
    given = {name for name in CLI_FIELDS if kw.get(name)}
    for name in sorted(given):
        if spec.field_named(name) is None:
            raise click.UsageError(f"{CLI_FIELDS[name][0][1].flag} does not apply to --kind {kind}")
    missing = [f.flag for f in spec.fields if require and f.required and f.name not in given]
    if missing:
        raise click.UsageError(f"--kind {kind} needs {', '.join(missing)}")
    out = pb.SpokeConfig()
    sub = getattr(out, spec.pb_field)
    sub.SetInParent()
    for name in given:
        f = spec.field_named(name)
        assert f is not None
        value = kw[name]
        setattr(sub, name, path_arg(value) if f.type is FieldType.PATH else value)
    return out


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
        spokes = c.call("ListSpokes", pb.ListSpokesRequest(hub=hub)).spokes
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
