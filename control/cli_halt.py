"""``cirahubctl confirm|restore``: the two answers to a safety halt.

Both first ask the server what the spoke's current halt holds back (a dry run), show it, then
answer *that* halt by its id: the answer can never land on a halt the operator did not see,
and a spoke that is not halted is refused (exit 2) instead of being armed for later.
"""

from __future__ import annotations

import click

from cirahub.control import render
from cirahub.control.cli_common import EPILOG, Conn, connection_options
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb


def halt_lines(halt: pb.Halt, verb: str = "would delete") -> list[str]:
    """What a halt holds back, for people: its reason and the first lost items."""
    lines = [f"halt {halt.id}: {halt.reason}",
             f"{halt.lost} items are gone from this calendar; a confirmation {verb} "
             f"{halt.deleting} of them from the hub and every other spoke:"]
    for item in halt.items:
        lines.append(f"  {render.item_start(item.start):<25} {item.summary or '(no summary)'}"
                     f"  [{item.uid}]")
    if halt.lost > len(halt.items):
        lines.append(f"  ... and {halt.lost - len(halt.items)} more")
    return lines


def _answer(conn: Conn, method: str, hub: str, spoke: str, halt_id: str,
            dry_run: bool) -> tuple[pb.HaltAnswer, pb.HaltAnswer]:
    """(preview, answer): the halt as it stands, then the answer bound to its id."""
    with conn.client() as c:
        preview = c.call(method, pb.HaltRequest(hub=hub, spoke=spoke, halt_id=halt_id,
                                                dry_run=True))
        if dry_run:
            return preview, preview
        answer = c.call(method, pb.HaltRequest(hub=hub, spoke=spoke,
                                               halt_id=preview.halt.id, dry_run=False))
    return preview, answer


halt_option = click.option("--halt", "halt_id", default="", metavar="ID",
                           help="Answer only this halt (as `status` shows it); refused when "
                                "the spoke's current halt is another one.")
dry_run_option = click.option("--dry-run", is_flag=True,
                              help="Show what the answer would do; change nothing.")


@click.command("confirm", epilog=EPILOG)
@click.argument("hub")
@click.argument("spoke")
@halt_option
@dry_run_option
@connection_options
def confirm(hub: str, spoke: str, halt_id: str, dry_run: bool, conn: Conn) -> None:
    """Confirm the deletions that halted SPOKE of HUB: its next run applies exactly them.

    The confirmation is bound to the halt shown: if the calendar changes again before the
    next run (more items gone, some back), that run halts anew and asks again. A spoke that
    is not halted is refused (exit 2).
    """
    preview, answer = _answer(conn, "ConfirmDeletes", hub, spoke, halt_id, dry_run)
    if conn.json:
        render.emit_json(answer)
        return
    for line in halt_lines(preview.halt, "would delete" if dry_run else "deletes"):
        click.echo(line)
    if dry_run:
        click.echo(f"dry run: nothing changed; `cirahubctl confirm {hub} {spoke}` applies it")
    else:
        click.echo(f"confirmed halt {answer.halt.id}: the next run of spoke {spoke!r} applies "
                   f"these deletions (cirahubctl sync {hub} --spoke {spoke})")


@click.command("restore", epilog=EPILOG)
@click.argument("hub")
@click.argument("spoke")
@halt_option
@dry_run_option
@connection_options
def restore(hub: str, spoke: str, halt_id: str, dry_run: bool, conn: Conn) -> None:
    """Answer "no" to the halt of SPOKE of HUB: the hub keeps the items and writes its copies
    back into SPOKE (where its hub_writes allows create); the halt is cleared.

    A spoke that is not halted is refused (exit 2).
    """
    preview, answer = _answer(conn, "RestoreSpoke", hub, spoke, halt_id, dry_run)
    if conn.json:
        render.emit_json(answer)
        return
    halt = preview.halt
    click.echo(f"halt {halt.id}: {halt.reason}")
    keep = (f"the hub keeps all {halt.lost} items and writes {answer.recreated} of them back "
            f"into spoke {spoke!r}")
    if answer.recreated < halt.lost:
        keep += (f"; {halt.lost - answer.recreated} are not written back (the spoke's "
                 "hub_writes does not allow create, or the hub item is gone)")
    if dry_run:
        click.echo(f"dry run: {keep.replace('keeps', 'would keep').replace('writes', 'write')}"
                   "; nothing changed")
    else:
        click.echo(f"restored: {keep} on its next run (cirahubctl sync {hub} --spoke {spoke})")
