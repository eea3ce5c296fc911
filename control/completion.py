"""Shell completion of hub and spoke names, asked of the server the CLI would talk to.

click generates the scripts (``_CIRAHUBCTL_COMPLETE=bash_source cirahubctl``, also
``zsh_source`` and ``fish_source``); :func:`install` makes every HUB argument and ``--hub``
option complete hub names and every spoke argument and ``--spoke`` option the spokes of the
hub already on the line. A server that does not answer within :data:`TIMEOUT` completes
nothing (never an error on the user's prompt).
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

#: seconds a completion may wait for the server
TIMEOUT = 2.0


def _client(ctx: click.Context) -> Any:
    from cirahub.control.client import Client, resolve

    root = ctx.find_root().params
    return Client(resolve(root.get("address"), root.get("token"), root.get("data_dir")),
                  timeout=TIMEOUT)


def hubs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from cirahub.proto.cirahub.control.v1 import control_pb2 as pb

    try:
        with _client(ctx) as c:
            names = [h.name for h in c.list_all("ListHubs", pb.ListHubsRequest(), "hubs")]
    except Exception:  # completion must never fail loudly
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def spokes(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from cirahub.proto.cirahub.control.v1 import control_pb2 as pb

    hub = ctx.params.get("hub") or ""
    if not hub:
        return []
    try:
        with _client(ctx) as c:
            names = [s.name for s in c.list_all("ListSpokes", pb.ListSpokesRequest(hub=hub), "spokes")]
    except Exception:
        return []
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def install(group: click.Group, path: tuple[str, ...] = ()) -> None:
    """Attach the completers to every command's hub and spoke parameters."""
    for name, cmd in group.commands.items():
        here = (*path, name)
        if isinstance(cmd, click.Group):
            install(cmd, here)
            continue
        for param in cmd.params:
            completer = _completer(param.name or "", here)
            if completer is not None:
                param._custom_shell_complete = completer


def _completer(name: str, command: tuple[str, ...]) -> Any:
    """hub names for hub parameters, spoke names for spoke parameters (the NAME of the
    ``spoke`` / ``hub`` subcommands that name an existing one)."""
    if name == "hub" or (name == "name" and command[:1] == ("hub",)
                         and command != ("hub", "create")):
        return hubs
    if name == "spoke" or (name == "name" and command[:1] == ("spoke",)
                           and command != ("spoke", "add")):
        return spokes
    return None
