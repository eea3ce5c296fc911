"""The flags of ``cirahubctl spoke add / options`` (and ``discover``), and what they build.

Config flags come from the kinds' registrations (:mod:`cirahub.connectors.kinds`), so a new
kind brings its own flags. Secrets are never taken as a plain argument (it would land in shell
history and ``ps``): ``--password-env VAR``, ``--password-file FILE``, or a hidden prompt when
interactive.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from cirahub.connectors.kinds import ConfigField, FieldType, SpokeKind, all_kinds, get_kind
from cirahub.control import vocabulary
from cirahub.control.cli_common import path_arg
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


def secret_prompt(spec: SpokeKind, kw: dict[str, Any], stored: dict[str, Any]) -> str:
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
