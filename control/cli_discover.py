"""``cirahubctl discover`` (what a set of credentials reaches, storing nothing), the
interactive picker behind ``spoke add --pick``, and ``cirahubctl login`` (delegated OAuth
sign-in by device code for an ``oauth-delegated`` spoke)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cirahub.connectors.kinds import get_kind, kind_names
from cirahub.control import render
from cirahub.control.cli_common import CONTEXT, EPILOG, Conn, connection_options
from cirahub.control.spoke_flags import build_config, config_flags, secret_flags, secret_from_flags
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb

if TYPE_CHECKING:
    from cirahub.connectors.oauth import DeviceCode

#: pages followed by --all at most (each holds up to --page-size entries)
MAX_PAGES = 50


def _rows(calendars: Any) -> list[list[Any]]:
    return [[c.path or "(calendar)", c.display_name, "calendar" if c.is_calendar else "folder",
             c.item_count if c.HasField("item_count") else "", "yes" if c.writable else "no",
             c.child_count or "", c.owner] for c in calendars]


HEADERS = ("path", "name", "type", "items", "writable", "subfolders", "owner")


def discover_page(conn: Conn, config: pb.SpokeConfig, secret: str | None, *, under: str = "",
                  page_size: int = 0, page_token: str = "",
                  mailboxes: tuple[str, ...] = ()) -> pb.DiscoverCalendarsResponse:
    with conn.client() as c:
        return c.call("DiscoverCalendars", pb.DiscoverCalendarsRequest(
            config=config, secret=secret or "", under=under, page_size=page_size,
            page_token=page_token, mailboxes=list(mailboxes)), timeout=120)


@click.command("discover", context_settings=CONTEXT, epilog=EPILOG)
@click.option("--kind", required=True, type=click.Choice(kind_names()), help="What kind of calendar.")
@config_flags
@secret_flags
@click.option("--under", default="", metavar="PATH", help="List the level below this folder path.")
@click.option("--page-size", default=100, show_default=True, help="Entries per page (at most 500).")
@click.option("--page-token", default="", metavar="TOKEN", help="Continue after an earlier page.")
@click.option("--all", "all_pages", is_flag=True, help=f"Follow every page (at most {MAX_PAGES}).")
@click.option("--shared-mailbox", "shared", multiple=True, metavar="ADDRESS",
              help="ews-mailbox: also look for this user's shared calendar (repeatable).")
@connection_options
def discover(kind: str, under: str, page_size: int, page_token: str, all_pages: bool,
             shared: tuple[str, ...], conn: Conn, **kw: Any) -> None:
    """List the calendars the connection flags reach, storing nothing: the public-folder tree
    one level at a time (--under), a mailbox's and shared calendars, a CalDAV principal's
    collections, Graph calendars.

    \b
    Examples:
      cirahubctl discover --kind ews-public-folder --server https://outlook.office365.com/EWS/Exchange.asmx \\
          --username svc@contoso.com --auth oauth-app --tenant contoso.com \\
          --client-id APP-ID --client-secret-env EXO_SECRET --under /Calendars
      cirahubctl discover --kind caldav --url https://dav.example.com/alice/ --username alice \\
          --password-env DAV_PASSWORD
    """
    config = build_config(kind, kw, require=False)
    secret = secret_from_flags(kw, prompt=None)
    pages = [discover_page(conn, config, secret, under=under, page_size=page_size,
                           page_token=page_token, mailboxes=shared)]
    while all_pages and pages[-1].next_page_token and len(pages) < MAX_PAGES:
        pages.append(discover_page(conn, config, secret, under=under, page_size=page_size,
                                   page_token=pages[-1].next_page_token, mailboxes=shared))
    if conn.json:
        render.emit_json({"kind": kind, "calendars": [render.as_dict(c) for p in pages for c in p.calendars],
                          "next_page_token": pages[-1].next_page_token})
        return
    render.table(HEADERS, [row for p in pages for row in _rows(p.calendars)], empty="nothing found")
    if pages[-1].next_page_token:
        click.echo(f"\nmore: add --page-token {pages[-1].next_page_token} (or --all)")


# --- spoke add --pick ----------------------------------------------------------------------


def pick_calendar(conn: Conn, kind: str, config: pb.SpokeConfig, secret: str | None) -> pb.DiscoveredCalendar:
    """Walk the discovery interactively: a number picks a calendar or opens a folder, ``n``
    shows the next page, ``..`` goes up, ``q`` gives up (UsageError)."""
    under, token = "", ""
    trail: list[str] = []
    while True:
        page = discover_page(conn, config, secret, under=under, page_token=token)
        entries = list(page.calendars)
        click.echo(f"\n{kind} {under or '/'}:")
        render.table(("#", *HEADERS), [[n, *row] for n, row in enumerate(_rows(entries), 1)],
                     empty="nothing here")
        hint = "number" + (", n = next page" if page.next_page_token else "") + (", .. = up" if trail else "")
        answer = click.prompt(f"pick ({hint}, q = quit)", default="q").strip()
        if answer == "q":
            raise click.UsageError("nothing picked")
        if answer == "n" and page.next_page_token:
            token = page.next_page_token
        elif answer == ".." and trail:
            under, token = trail.pop(), ""
        elif answer.isdigit() and 1 <= int(answer) <= len(entries):
            chosen = entries[int(answer) - 1]
            if chosen.is_calendar:
                return chosen
            trail.append(under)
            under, token = chosen.path, ""
        else:
            click.echo(f"not a choice: {answer!r}")


def apply_pick(kind: str, config: pb.SpokeConfig, chosen: pb.DiscoveredCalendar) -> None:
    """Put the picked calendar into ``config`` (its config key; the owner as mailbox)."""
    spec = get_kind(kind)
    sub = getattr(config, spec.pb_field)
    by_key = {f.stored_key: f.name for f in spec.fields}
    field = by_key.get(chosen.config_key, chosen.config_key)
    if chosen.path and spec.field_named(field) is not None:
        setattr(sub, field, chosen.path)
    if chosen.owner and spec.field_named("mailbox") is not None:
        sub.mailbox = chosen.owner


# --- cirahubctl login ----------------------------------------------------------------------


@click.command("login", context_settings=CONTEXT, epilog=EPILOG)
@click.argument("hub")
@click.argument("name")
@click.option("--wait", default=900, show_default=True, metavar="SECONDS",
              help="How long to wait for the sign-in to finish.")
@connection_options
def login(hub: str, name: str, wait: int, conn: Conn) -> None:
    """Sign in for the oauth-delegated spoke NAME of HUB by device code: open the URL shown,
    enter the code, sign in; the refresh token is stored with the spoke, encrypted, and the
    spoke syncs as that user from then on."""
    # msal (through connectors.oauth) is a third of every command's start-up: load it here only
    from cirahub.connectors import oauth

    with conn.client() as c:
        spoke = c.call("GetSpoke", pb.SpokeRef(hub=hub, spoke=name))
    which = spoke.config.WhichOneof("kind")
    sub = getattr(spoke.config, which) if which else None
    if sub is None or getattr(sub, "auth", "") != "oauth-delegated":
        raise click.UsageError(f"spoke {hub}/{name} does not sign in with --auth oauth-delegated")
    settings = oauth.OAuthSettings(
        tenant=sub.tenant, client_id=sub.client_id, delegated=True,
        scopes=oauth.EWS_DELEGATED_SCOPES if which.startswith("ews") else oauth.GRAPH_DELEGATED_SCOPES,
        authority=sub.authority or oauth.DEFAULT_AUTHORITY, ca_file=sub.authority_ca_file or None)

    def show(code: DeviceCode) -> None:
        click.echo(f"To sign in, open {code.verification_uri} and enter the code {code.user_code}")
        click.echo(f"(the code expires in {code.expires_in // 60} minutes; waiting...)")

    result = oauth.device_code_login(settings, show, max_wait_seconds=float(wait))
    with conn.client() as c:
        c.call("UpdateSpoke", pb.UpdateSpokeRequest(hub=hub, spoke=name, secret=result.refresh_token))
    who = f" as {result.username}" if result.username else ""
    click.echo(f"signed in{who}; the refresh token is stored (encrypted) with spoke {hub}/{name}")
