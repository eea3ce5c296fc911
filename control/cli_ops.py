"""``cirahubctl backup``: operations on the server's store."""

from __future__ import annotations

import click

from cirahub.control import render
from cirahub.control.cli_common import EPILOG, Conn, connection_options, path_arg
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb


@click.command("backup", epilog=EPILOG)
@click.argument("file")
@connection_options
def backup(file: str, conn: Conn) -> None:
    """Write a consistent copy of the live store to FILE (on the server's machine).

    \b
    Example:
      cirahubctl backup ~/cirahub-backup.db

    The server keeps running; FILE must not exist (it is never overwritten) and is created
    0600. SQLite only: for PostgreSQL the command says which pg_dump to run. Keep the secret
    key with the backup. Restoring is described in docs/cli.md ("Backup and restore").
    """
    with conn.client() as c:
        result = c.call("Backup", pb.BackupRequest(path=path_arg(file)), timeout=3600)
    if conn.json:
        render.emit_json(result)
    else:
        click.echo(f"backed up the store to {result.path} ({result.bytes} bytes); "
                   f"{result.note}")
