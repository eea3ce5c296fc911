"""Discovery for the EWS kinds: what the credentials reach, listed without storing anything.

- ``ews-public-folder``: the public-folder tree one level at a time (EWS allows only shallow
  traversal there): the folders directly under ``query.under`` (a path like ``/Calendars``,
  empty = the top), paged with FindFolder's offset; calendar folders (``IPF.Appointment``)
  are marked, every folder says how many subfolders it has, so a picker can descend.
- ``ews-mailbox``: the mailbox's calendar and its subfolders, then the calendars of the other
  users in ``query.mailboxes`` that the credentials may open (shared calendars).

Item counts are the folders' ``TotalCount`` (one property, cheap); ``writable`` comes from
``EffectiveRights.CreateContents`` where the server reports it. Errors are the connector's
(sign-in, EWS retirement, folder not found).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exchangelib.folders import Calendar, FolderCollection
from exchangelib.folders.base import Folder
from exchangelib.properties import FieldPath

from cirahub.connectors.kinds import DiscoveredCalendar, DiscoveryPage, DiscoveryQuery
from cirahub.core.errors import AuthError, CirahubError, ConfigError

from .client import make_config, validate
from .connector import EwsConnector

_FIELDS = ("name", "folder_class", "total_count", "child_folder_count")


def _connector(kind: str, config: Mapping[str, Any], secret: str | None) -> EwsConnector:
    # validated as a mailbox spoke: the same connection keys, and no folder is needed yet
    cleaned = validate("ews-mailbox", {k: v for k, v in config.items() if k != "folder"})
    return EwsConnector(make_config(kind, cleaned), secret)


def _entry(folder: Any, path: str, *, owner: str | None = None, key: str = "folder") -> DiscoveredCalendar:
    rights = getattr(folder, "effective_rights", None)
    writable = True if rights is None else bool(getattr(rights, "create_contents", True))
    is_cal = isinstance(folder, Calendar) or (getattr(folder, "folder_class", "") or "").startswith("IPF.Appointment")
    return DiscoveredCalendar(
        path=path, display_name=folder.name or path.rsplit("/", 1)[-1], item_count=folder.total_count,
        writable=writable, is_calendar=is_cal, child_count=int(folder.child_folder_count or 0),
        owner=owner, key=key)


def _children(conn: EwsConnector, parent: Any, query: DiscoveryQuery) -> tuple[list[Any], bool]:
    """One page of ``parent``'s direct subfolders and whether more follow."""
    fields = {FieldPath(field=Folder.get_field_by_fieldname(f)) for f in _FIELDS}

    def run() -> list[Any]:
        found = FolderCollection(account=conn.account, folders=[parent]).find_folders(
            depth="Shallow", additional_fields=fields, page_size=query.page_size + 1,
            max_items=query.page_size + 1, offset=query.offset)
        return [f for f in found if not isinstance(f, Exception)]

    got = conn.call(run, "list folders")
    return got[:query.page_size], len(got) > query.page_size


def discover_public_folders(config: Mapping[str, Any], secret: str | None,
                            query: DiscoveryQuery) -> DiscoveryPage:
    """The public folders directly under ``query.under``."""
    conn = _connector("ews-public-folder", config, secret)
    try:
        base = "/" + "/".join(p for p in query.under.split("/") if p)
        parent = conn.call(lambda: _walk(conn.account.public_folders_root, base), "find folder")
        page, more = _children(conn, parent, query)
        prefix = base.rstrip("/")
        entries = tuple(_entry(f, f"{prefix}/{f.name}") for f in page)
        return DiscoveryPage(entries, query.offset + len(page) if more else None)
    finally:
        conn.close()


def discover_mailbox_calendars(config: Mapping[str, Any], secret: str | None,
                               query: DiscoveryQuery) -> DiscoveryPage:
    """The signed-in mailbox's calendars, then shared calendars of ``query.mailboxes``."""
    conn = _connector("ews-mailbox", config, secret)
    try:
        own = conn.account.primary_smtp_address
        calendar = conn.call(lambda: conn.account.calendar, "open the calendar")
        entries = [_entry(calendar, "", key="calendar")]
        base = "/" + "/".join(p for p in query.under.split("/") if p)
        parent = conn.call(lambda: _walk(calendar, base), "find folder") if base != "/" else calendar
        page, more = _children(conn, parent, query)
        entries = [] if query.offset or base != "/" else entries
        entries += [_entry(f, f"{base.rstrip('/')}/{f.name}", key="calendar") for f in page]
        if query.offset == 0 and base == "/":
            entries += _shared(config, secret, query.mailboxes, own)
        return DiscoveryPage(tuple(entries), query.offset + len(page) if more else None)
    finally:
        conn.close()


def _shared(config: Mapping[str, Any], secret: str | None, mailboxes: tuple[str, ...],
            own: str) -> list[DiscoveredCalendar]:
    out = []
    for address in mailboxes:
        if address.lower() == own.lower():
            continue
        other = _connector("ews-mailbox", {**config, "mailbox": address}, secret)
        try:
            cal = other.call(lambda o=other: o.account.calendar, "open a shared calendar")
            out.append(_entry(cal, "", owner=address, key="calendar"))
        except (ConfigError, AuthError):
            continue  # no such mailbox, or not shared with us: not listed
        finally:
            other.close()
    return out


def _walk(start: Any, path: str) -> Any:
    folder = start
    for part in [p for p in path.split("/") if p]:
        try:
            folder = folder // part
        except CirahubError:
            raise
        except Exception as exc:
            raise ConfigError(f"folder {path!r}: {part!r} not found", folder=path) from exc
    return folder
