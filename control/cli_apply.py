"""``cirahubctl apply -f topology.yaml``: declare hubs and spokes in a file.

Format::

    hubs:
      - name: team
        policy: latest            # optional
        spokes:
          - name: alice
            kind: vdir
            path: ~/calendars/alice
            options: {days_back: 30, hub_writes: "create,update", interval: 10m}
          - name: exchange
            kind: ews-public-folder
            server: https://mail.example.com/EWS/Exchange.asmx
            username: svc-sync@example.com
            folder: /Team/Calendar
            password_env: EXCHANGE_PASSWORD   # or password_file: /run/secrets/ex
          - name: online
            kind: ews-public-folder
            server: https://outlook.office365.com/EWS/Exchange.asmx
            username: svc@contoso.com
            folder: /Calendars/Team
            auth: oauth-app
            tenant: contoso.onmicrosoft.com
            client_id: 0f3c1a2b-1111-4c4c-9d9d-123456789abc
            client_secret_env: EXO_CLIENT_SECRET   # or certificate: /etc/cirahub/app.pem

Every key of a spoke other than name, kind, options and the secret keys (password_env,
password_file, client_secret_env, client_secret_file) is a config field of its kind (see
``spoke add``). Secrets are read here, on the client, and sent
write-only; the file itself never holds one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from cirahub.control import render, vocabulary
from cirahub.control.cli_common import EPILOG, Conn, connection_options, path_arg
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb

_SPOKE_KEYS = {"name", "kind", "options", "password_env", "password_file", "client_secret_env",
               "client_secret_file"}


def _bad(where: str, message: str) -> click.UsageError:
    return click.UsageError(f"topology file, {where}: {message}")


def _options(where: str, raw: Any) -> pb.SyncOptions:
    if raw is None:
        return pb.SyncOptions()
    if not isinstance(raw, Mapping):
        raise _bad(where, "options must be a mapping")
    out = pb.SyncOptions()
    fields = {f.name for f in out.DESCRIPTOR.fields}
    known = sorted({vocabulary.USER_NAME.get(f, f) for f in fields})
    for given, value in raw.items():
        name = vocabulary.canonical(str(given))
        key = vocabulary.API_FIELD.get(name, name)
        if key not in fields:
            raise _bad(where, f"unknown option {given!r}; known: {', '.join(known)}")
        if key == "interval_seconds":
            try:
                out.interval_seconds = vocabulary.parse_duration(value)
            except ValueError as exc:
                raise _bad(where, f"option {given!r}: {exc} (got {value!r})") from None
            continue
        if key in ("categories_include", "categories_exclude"):
            values = value.split(",") if isinstance(value, str) else list(value or [])
            getattr(out, key).values.extend(str(v).strip() for v in values if str(v).strip())
            getattr(out, key).SetInParent()
        elif key in ("days_back", "days_ahead"):
            try:
                days = vocabulary.parse_days(value)
            except ValueError as exc:
                raise _bad(where, f"option {given!r}: {exc} (got {value!r})") from None
            setattr(out, key, -1 if days is None else days)
        elif key in ("hub_writes", "contributes") and isinstance(value, list):
            setattr(out, key, ",".join(value) or "none")
        else:
            try:
                setattr(out, key, value if value is not None else "")
            except (TypeError, ValueError):
                raise _bad(where, f"option {given!r} has the wrong type ({value!r})") from None
    return out


def _secret(where: str, spec: Mapping[str, Any]) -> str | None:
    """The spoke's secret from password_env/_file or (OAuth app-only, the same secret slot)
    client_secret_env/_file; one of the four at most."""
    given = [k for k in ("password_env", "password_file", "client_secret_env", "client_secret_file")
             if spec.get(k)]
    if len(given) > 1:
        raise _bad(where, f"give one of {' / '.join(given)}, not several")
    env = spec.get("password_env") or spec.get("client_secret_env")
    file = spec.get("password_file") or spec.get("client_secret_file")
    if env:
        value = os.environ.get(str(env))
        if not value:
            raise _bad(where, f"environment variable {env} is not set or empty")
        return value
    if file:
        try:
            lines = Path(str(file)).expanduser().read_text().splitlines()
        except OSError as exc:
            raise _bad(where, f"cannot read password_file {str(file)!r}: {exc.strerror}") from None
        if not lines or not lines[0]:
            raise _bad(where, f"password_file {str(file)!r} is empty")
        return lines[0]
    return None


def _spoke(hub: str, spec: Any) -> pb.SpokeSpec:
    if not isinstance(spec, Mapping) or not spec.get("name"):
        raise _bad(f"hub {hub!r}", "every spoke needs a name")
    where = f"hub {hub!r}, spoke {spec['name']!r}"
    from cirahub.connectors.kinds import FieldType, all_kinds, kind_names  # lazy: start-up

    kind = all_kinds().get(str(spec.get("kind")))
    if kind is None:
        raise _bad(where, f"kind must be one of {', '.join(kind_names())}")
    config = pb.SpokeConfig()
    sub = getattr(config, kind.pb_field)
    sub.SetInParent()
    fields = {f.name for f in sub.DESCRIPTOR.fields}
    for key, value in spec.items():
        if key in _SPOKE_KEYS:
            continue
        if key not in fields:
            raise _bad(where, f"unknown key {key!r} for kind {kind.name}; known: "
                              f"{', '.join(sorted(fields | _SPOKE_KEYS))}")
        field = kind.field_named(key)
        is_path = field is not None and field.type is FieldType.PATH
        setattr(sub, key, path_arg(str(value)) if is_path else value)
    out = pb.SpokeSpec(name=str(spec["name"]), config=config,
                       options=_options(where, spec.get("options")))
    secret = _secret(where, spec)
    if secret is not None:
        out.secret = secret
    return out


def load_topology(path: str) -> pb.Topology:
    """Reads the YAML file into the API's Topology; UsageError naming the bad entry."""
    import yaml  # lazy: only `apply` reads YAML, every command pays the CLI's imports

    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise click.UsageError(f"cannot read {path!r}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise click.UsageError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("hubs"), list):
        raise click.UsageError(f"{path}: expected a mapping with a list 'hubs'")
    out = pb.Topology()
    for h in data["hubs"]:
        if not isinstance(h, Mapping) or not h.get("name"):
            raise _bad("hubs", "every hub needs a name")
        unknown = set(h) - {"name", "policy", "spokes"}
        if unknown:
            raise _bad(f"hub {h['name']!r}", f"unknown key {sorted(unknown)[0]!r}")
        out.hubs.append(pb.HubSpec(name=str(h["name"]), policy=str(h.get("policy") or ""),
                                   spokes=[_spoke(str(h["name"]), s) for s in h.get("spokes") or []]))
    return out


@click.command("apply", epilog=EPILOG)
@click.option("-f", "--file", "file_", required=True, type=click.Path(dir_okay=False),
              help="The topology YAML file.")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--prune", is_flag=True, help="Also remove hubs and spokes the file does not name.")
@connection_options
def apply_cmd(file_: str, dry_run: bool, prune: bool, conn: Conn) -> None:
    """Make the hubs and spokes match a topology file (idempotent); print the changes."""
    topology = load_topology(file_)
    with conn.client() as c:
        result = c.call("Apply", pb.ApplyRequest(topology=topology, dry_run=dry_run, prune=prune))
    if conn.json:
        render.emit_json(result)
        return
    if not result.changes:
        click.echo("no changes: the topology is already as specified")
        return
    verb = "would" if dry_run else "did"
    click.echo(f"{len(result.changes)} change(s) ({verb} apply):")
    for ch in result.changes:
        name = ch.hub + (f"/{ch.spoke}" if ch.spoke else "")
        click.echo(f"  {ch.action} {ch.object} {name}" + (f": {'; '.join(ch.details)}"
                                                          if ch.details else ""))
