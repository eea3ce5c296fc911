"""``cirahubctl console-password``: set the password of the web console.

The password is a second way to sign in to the console besides the control token; it is
stored as a scrypt hash in the server's data folder (``console.password``, mode 0600), read at
each sign-in, so a change takes effect at once. Like every secret it is never an argument.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from cirahub.control.cli_common import CONTEXT, EPILOG
from cirahub.control.spoke_flags import read_secret


@click.command("console-password", context_settings=CONTEXT, epilog=EPILOG)
@click.option("--data-dir", envvar="CIRAHUB_DATA_DIR", metavar="DIR",
              help="The server's data folder [env CIRAHUB_DATA_DIR; default: the per-user "
                   "folder].")
@click.option("--password-env", metavar="VAR", help="Read the password from this environment "
              "variable.")
@click.option("--password-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Read the password from this file (first line).")
@click.option("--remove", is_flag=True, help="Remove the password (sign in with the token).")
def console_password(data_dir: str | None, password_env: str | None,
                     password_file: str | None, remove: bool) -> None:
    """Set the web console's sign-in password (at least 12 characters); asked twice when
    interactive."""
    from cirahub.control.http.auth import PASSWORD_FILE, write_password
    from cirahub.store.paths import default_data_dir

    folder = Path(data_dir) if data_dir else default_data_dir(os.environ)
    if remove:
        (folder / PASSWORD_FILE).unlink(missing_ok=True)
        click.echo("removed the console password; sign in with the control token")
        return
    secret = read_secret(password_env, password_file, prompt=None)
    if secret is None:
        if not sys.stdin.isatty():
            raise click.UsageError("give --password-env VAR or --password-file FILE when not "
                                   "interactive")
        secret = click.prompt("console password", hide_input=True, confirmation_prompt=True)
    path = write_password(folder, secret)
    click.echo(f"console password set ({path}); it applies to the next sign-in")
