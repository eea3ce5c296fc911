"""``cirahubctl items|item show``: what a hub holds and where each item has a copy."""

from __future__ import annotations

from collections.abc import Iterator

import click

from cirahub.control import render
from cirahub.control.cli_common import CONTEXT, EPILOG, Conn, connection_options
from cirahub.control.client import ControlClient
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb

#: items asked for per call (the server's largest page)
PAGE_SIZE = 500


def pages(c: ControlClient, hub: str, spoke: str, search: str,
          page_size: int = PAGE_SIZE) -> Iterator[pb.ItemSummary]:
    """Every item of the listing, page after page (an item changed meanwhile may come twice:
    it is shown once, where it was first seen)."""
    token, seen = "", set()
    while True:
        page = c.call("ListItems", pb.ListItemsRequest(hub=hub, spoke=spoke, search=search,
                                                       page_size=page_size, page_token=token))
        for item in page.items:
            if item.uid not in seen:
                seen.add(item.uid)
                yield item
        token = page.next_page_token
        if not token:
            return


def copies_text(item: pb.ItemSummary, with_reason: bool = False) -> str:
    """``spoke: state`` per spoke, comma-separated."""
    parts = []
    for copy in item.copies:
        text = f"{copy.spoke}: {copy.state}"
        if with_reason and copy.reason:
            text += f" ({copy.reason})"
        parts.append(text)
    return ", ".join(parts)


@click.command("items", epilog=EPILOG)
@click.argument("hub")
@click.option("--spoke", default="", help="Show only this spoke's copies (every item is "
                                            "still listed).")
@click.option("--search", default="", metavar="TEXT",
              help="Only items with TEXT in their summary, location or UID (any case).")
@click.option("--page-size", default=PAGE_SIZE, hidden=True, type=click.IntRange(1, 500),
              help="Items asked of the server per call.")
@connection_options
def items(hub: str, spoke: str, search: str, page_size: int, conn: Conn) -> None:
    """List the items HUB holds and, per spoke, the state of its copy there.

    \b
    States: linked       the spoke holds the hub's current version
            pending      the spoke's next push writes it
            filtered out the spoke's options keep it out (window, private, categories)
            not written  the hub may not write it there (hub_writes, read-only feed)
            quarantined  reading or writing that copy failed (see `cirahubctl quarantine`)

    \b
    Example:
      cirahubctl items team --search standup

    Items come in the order of their last change, newest last; times of day in the local
    zone with their offset. With --json prints one JSON list of every item.
    """
    with conn.client() as c:
        found = list(pages(c, hub, spoke, search, page_size))
    if conn.json:
        render.emit_json(found)
        return
    render.table(
        ("uid", "summary", "start", "recurrence", "version", "copies"),
        [[i.uid, i.summary, render.item_start(i.start), i.recurrence or "single",
          i.version, copies_text(i, with_reason=bool(spoke))] for i in found],
        empty=f"no items in hub {hub!r}" + (f" matching {search!r}" if search else ""),
    )


@click.group("item", context_settings=CONTEXT, epilog=EPILOG)
def item() -> None:
    """Show one hub item."""


@item.command("show", epilog=EPILOG)
@click.argument("hub")
@click.argument("uid")
@click.option("--history", "history_limit", default=50, show_default=True, metavar="N",
              type=click.IntRange(1, 200), help="How many versions to show, newest first.")
@connection_options
def item_show(hub: str, uid: str, history_limit: int, conn: Conn) -> None:
    """Show the item UID of HUB: its fields, its copy in every spoke and its history of
    versions (which spoke changed which fields, when), newest first.
    """
    with conn.client() as c:
        detail = c.call("GetItem", pb.GetItemRequest(hub=hub, uid=uid,
                                                     history_limit=history_limit))
    if conn.json:
        render.emit_json(detail)
        return
    i = detail.item
    render.details([
        ("uid", i.uid), ("summary", i.summary + (" (deleted)" if i.deleted else "")),
        ("start", render.item_start(i.start)), ("recurrence", i.recurrence or "single"),
        ("overridden", i.overrides or ""), ("version", i.version),
        ("changed", render.when(i.updated_at)),
    ])
    click.echo()
    render.table(("spoke", "copy", "why", "remote id", "synced at version"),
                 [[c.spoke, c.state, c.reason, c.remote_id, c.hub_version or ""]
                  for c in i.copies], empty="no spokes")
    for c in i.copies:
        if c.projection:
            click.echo(f"\n{c.spoke} holds a projection of it (what its copy is not, and why):")
            for note in c.projection:
                click.echo(f"  {note}")
    click.echo()
    shown = len(detail.history)
    click.echo(f"history (newest first, {shown} of {detail.history_total} versions):")
    render.table(("version", "when", "by spoke", "change", "fields"),
                 [[v.version, render.when(v.at), v.spoke or "-", v.change,
                   ", ".join(v.fields)] for v in detail.history], empty="  (none kept)")
