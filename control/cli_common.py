"""What every ``cirahubctl`` command shares: the connection flags (:class:`Conn`,
:func:`connection_options`), the help layout and exit-code epilog, and :func:`path_arg`.

The commands live in ``cli_*.py`` modules and are registered on the root group explicitly by
:mod:`cirahub.control.cli`; none of them imports that module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import click

from cirahub.control.client import Client, ControlClient, resolve
from cirahub.control.errors import EXIT_CODE_HELP

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
    #: opens the client instead of a gRPC :class:`Client` (tests: a fake ControlClient)
    opener: Callable[[Conn], ControlClient] | None = field(default=None, repr=False)

    def client(self) -> ControlClient:
        if self.opener is not None:
            return self.opener(self)
        return Client(resolve(self.address, self.token, self.data_dir, self.ca_cert,
                              self.server_name))


def merged(conn: Conn | None, **given: Any) -> Conn:
    """``conn`` (or a new Conn) with the flags given (not None / False) set on it."""
    conn = conn if conn is not None else Conn()
    for key, value in given.items():
        if value not in (None, False):
            setattr(conn, key, value)
    return conn


def _merge(ctx: click.Context, **given: Any) -> Conn:
    return merged(ctx.find_object(Conn), **given)


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


def path_arg(value: str) -> str:
    """A local folder given on the command line, made absolute (the server resolves paths in
    its own working folder)."""
    from pathlib import Path  # here: pathlib is ~3 ms of every other command's start

    return str(Path(value).expanduser().resolve())
