"""The ``ews-public-folder`` and ``ews-mailbox`` spoke connectors.

Change detection:

- public folders (no SyncFolderItems there): ``FindItem`` with ``LastModifiedTime >
  watermark - overlap`` (IdOnly + ChangeKey + LastModifiedTime; hits whose ChangeKey the
  caller already knows are dropped) and, every ``full_scan_seconds``, a full IdOnly listing
  whose paging is checked (TotalItemsInView, offsets, IncludesLastItemInRange); only a
  consistent full listing reports deletions. The cursor is JSON ``{"wm": watermark, "scan":
  epoch seconds of the last full scan}``. A no-change incremental poll is one FindItem.
- mailboxes: ``SyncFolderItems``; the cursor is its sync state. No cursor = full sync.

Writes are batched (one GetItem, one stamp lookup, one CreateItem/UpdateItem/DeleteItem per
batch), carry SendToNone, and updates use NeverOverwrite with the caller's ChangeKey.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from exchangelib import EWSDateTime, Q
from exchangelib.folders import Calendar
from exchangelib.items import (
    ID_ONLY,
    SHALLOW,
    CalendarItem,
)
from exchangelib.properties import FieldPath
from exchangelib.restriction import Restriction
from exchangelib.services import FindItem
from exchangelib.util import TNS

from cirahub.connectors.base import BaseConnector, Write, WriteOutcome, WriteResult
from cirahub.core.errors import CirahubError, ConfigError, ProtocolError, RemoteNotFound
from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, Delta, RemoteItem

from . import client, custom_zone, mapping, routing, zones
from .auth import BearerCredentials, SignIn
from .client import EwsConfig, map_error, open_signed_in, sign_in, with_retry
from .projection import project
from .writes import Writer

mapping.register_properties()
zones.install()
custom_zone.install()
routing.install()
client.install_bounded()


class _Listing(FindItem):
    """FindItem for a listing: (id, ChangeKey, LastModifiedTime) rows read straight from the
    answer, and each page's paging values recorded so a listing can be proved complete.

    Why not exchangelib's items: its ``from_xml`` reads every one of CalendarItem's ~90 fields
    for each item (~0.5 ms an item on this machine), so a no-change poll of a 5,000-item public
    folder spent seconds parsing fields it then threw away."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages: list[tuple[int | None, int, bool]] = []

    def _get_paging_values(self, elem: Any) -> Any:  # type: ignore[override]
        offset = elem.get("IndexedPagingOffset")
        self.pages.append((None if offset is None else int(offset), int(elem.get("TotalItemsInView")),
                           elem.get("IncludesLastItemInRange", "").lower() == "true"))
        return FindItem._get_paging_values(elem)

    def _elem_to_obj(self, elem: Any) -> tuple[str, str, EWSDateTime | None]:
        ident = elem.find(f"{{{TNS}}}ItemId")
        if ident is None:
            raise ProtocolError("a listed item came without its ItemId")
        modified = elem.findtext(f"{{{TNS}}}LastModifiedTime")
        return (ident.get("Id"), ident.get("ChangeKey"),
                EWSDateTime.from_string(modified) if modified else None)


class EwsConnector(BaseConnector):
    """Shared EWS spoke behaviour; :class:`PublicFolderConnector` and :class:`MailboxConnector`
    differ in folder lookup and change detection."""

    kind: ClassVar[str] = "ews"

    def __init__(self, cfg: EwsConfig, secret: str | None) -> None:
        self.cfg = cfg
        self._secret = secret
        self._account: Any = None
        self._signed: SignIn | None = None
        #: a refresh token the identity platform rotated (delegated sign-in): the caller
        #: stores it as the spoke's new secret (see actors/spoke.py)
        self.rotated_secret: str | None = None
        self._folder: Any = None
        ignore = set(mapping.UNSUPPORTED)
        if cfg.meetings_as_appointments:
            ignore |= {"attendees"}
        # tasks and journal entries are written as declared appointments (see .components)
        self.capabilities = Capabilities(unsupported_fields=frozenset(ignore),
                                         incremental=cfg.kind == "ews-mailbox", carries_components=True)
        self.ignore = frozenset(ignore)
        #: remote id → the sidecar text last read (the writer re-sends it only when it moves)
        self.extras: dict[str, str | None] = {}

    # --- plumbing --------------------------------------------------------------------------

    def call(self, fn: Any, what: str) -> Any:
        return with_retry(fn, what, self.cfg.max_retry_seconds, on_token_refused=self._token_refused)

    def _rotated(self, refresh_token: str) -> None:
        self.rotated_secret = refresh_token

    def _token_refused(self) -> None:
        """Exchange refused our bearer token: drop it and every session that carries it.
        exchangelib shares one Protocol between connectors with equal credentials, so the
        token to drop is the one its credentials handed out, not necessarily ours."""
        if self._signed is not None and self._signed.bearer is not None:
            self._signed.bearer.invalidate()
        if self._account is not None:
            used = self._account.protocol.credentials
            if isinstance(used, BearerCredentials):
                used.invalidate()
            self._account.protocol.close()

    @property
    def account(self) -> Any:
        if self._account is None:
            self._signed = sign_in(self.cfg, self._secret, on_refresh_token=self._rotated)
            signed = self._signed
            self._account = self.call(lambda: open_signed_in(self.cfg, signed), "connect")
        return self._account

    @property
    def folder(self) -> Any:
        """The calendar folder, resolved once per connector (shallow, one level at a time)."""
        if self._folder is None:
            self._folder = self.call(self._resolve_folder, "find folder")
            if not isinstance(self._folder, Calendar):
                raise ConfigError(f"folder {self.cfg.folder!r} is not a calendar", folder=self.cfg.folder)
        return self._folder

    def _resolve_folder(self) -> Any:
        raise NotImplementedError

    def _walk(self, start: Any) -> Any:
        folder = start
        for part in [p for p in self.cfg.folder.split("/") if p]:
            try:
                folder = folder // part
            except Exception as exc:
                raise ConfigError(f"folder {self.cfg.folder!r}: {part!r} not found", folder=self.cfg.folder) from exc
        return folder

    def close(self) -> None:
        if self._account is not None:
            self._account.protocol.close()
            self._account = None
            self._folder = None

    # --- reading ---------------------------------------------------------------------------

    def fetch(self, ids: Sequence[str], *, missing_ok: bool, restore: bool = True) -> list[RemoteItem]:
        """Items with their exceptions (two GetItem batches at most), in input order; with
        ``restore`` the hub's values behind a projection are given where nobody changed them
        (see :func:`.mapping.to_item`). Each item's sidecar text is kept in :attr:`extras`."""
        if not ids:
            return []
        fields = [f for f in mapping.READ_FIELDS]

        def run() -> list[Any]:
            return list(self.account.fetch([(i, None) for i in ids], folder=self.folder, only_fields=fields))

        got = self.call(run, "get items")
        exc_ids = [o.id for ci in got if isinstance(ci, CalendarItem) for o in ci.modified_occurrences or []]
        exceptions: dict[str, Any] = {}
        if exc_ids:
            fetched = self.call(lambda: list(self.account.fetch([(i, None) for i in exc_ids],
                                                                 folder=self.folder, only_fields=fields)),
                                "get exceptions")
            exceptions = {e.id: e for e in fetched if isinstance(e, CalendarItem)}
        out: list[RemoteItem] = []
        for rid, ci in zip(ids, got, strict=True):
            if not isinstance(ci, CalendarItem):
                err = map_error(ci, "get item") if isinstance(ci, Exception) else None
                if isinstance(err, RemoteNotFound) and missing_ok:
                    continue
                raise err or RemoteNotFound("get item: not a calendar item", remote_id=rid)
            self.extras[ci.id] = getattr(ci, "hub_extra", None)
            try:
                out.append(RemoteItem(ci.id, ci.changekey,
                                      self._drop_ignored(mapping.to_item(ci, exceptions, restore=restore))))
            except CirahubError as exc:
                out.append(RemoteItem(ci.id, ci.changekey, None, error=str(exc)))
        return out

    def _drop_ignored(self, item: Item) -> Item:
        """Fields this spoke cannot carry are never reported (e.g. the service account as
        organizer of every item it wrote)."""
        def keep(fields: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in fields.items() if k not in self.ignore}
        return Item(item.uid, keep(item.fields), {k: keep(v) for k, v in item.overrides.items()})

    def get_many(self, remote_ids: Sequence[str]) -> list[RemoteItem]:
        return self.fetch(list(remote_ids), missing_ok=False)

    def list_ids(self, q: Q | None = None) -> tuple[list[tuple[str, str, Any]], bool]:
        """(id, ChangeKey, LastModifiedTime) of the folder's items (matching ``q``), and
        whether the paging proved the listing complete."""
        def run() -> tuple[list[tuple[str, str, Any]], bool]:
            svc = _Listing(account=self.account, page_size=self.cfg.page_size)
            field = FieldPath(field=CalendarItem.get_field_by_fieldname("last_modified_time"))
            restriction = None if q is None else Restriction(q, folders=[self.folder], applies_to=Restriction.ITEMS)
            rows = []
            for row in svc.call(
                    folders=[self.folder], additional_fields=[field], restriction=restriction, order_fields=None,
                    shape=ID_ONLY, query_string=None, depth=SHALLOW, calendar_view=None, max_items=None, offset=0):
                if isinstance(row, Exception):  # a page's error element: the listing failed
                    raise row
                rows.append(row)
            return rows, _consistent(svc.pages, len(rows))

        return self.call(run, "list items")

    # --- writing ---------------------------------------------------------------------------

    def projection(self, item: Item) -> tuple[str, ...]:
        """What this spoke cannot hold of ``item`` as given and how it is written instead
        (empty: carried as it is); raises ItemRejected for what it cannot store at all."""
        return project(item, self.cfg.timezone).notes

    def same(self, a: Item | None, b: Item) -> bool:
        return a is not None and fingerprint(a, self.ignore) == fingerprint(b, self.ignore)

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        return Writer(self).run(writes)

    def create(self, item: Item, hub_item_id: str) -> WriteResult:
        return _one(self.write_many([Write("create", hub_item_id, item)]))

    def update(self, remote_id: str, expected_version: str, item: Item, hub_item_id: str) -> WriteResult:
        return _one(self.write_many([Write("update", hub_item_id, item, remote_id, expected_version)]))

    def delete(self, remote_id: str, expected_version: str) -> None:
        _one(self.write_many([Write("delete", "", None, remote_id, expected_version)]))


def _one(outcomes: list[WriteOutcome]) -> WriteResult:
    if isinstance(outcomes[0], CirahubError):
        raise outcomes[0]
    return outcomes[0]


def _consistent(pages: list[tuple[int | None, int, bool]], returned: int) -> bool:
    """A listing is complete when its last page says so and every count agrees."""
    if not pages:
        return False
    total = pages[-1][1]
    return pages[-1][2] and returned == total and all(p[1] == total for p in pages)


#: calls that are no public-folder content request (signing in, finding the folder)
_HIERARCHY_CALLS = frozenset({"connect", "find folder"})


class PublicFolderConnector(EwsConnector):
    kind: ClassVar[str] = "ews-public-folder"
    #: the folder's routing headers, with ``public_folder_routing`` (found with the folder)
    _route: routing.Route | None = None

    def call(self, fn: Any, what: str) -> Any:
        """With routing on, every request but signing in and the folder lookup is a
        public-folder *content* request (the route is found with the folder, first)."""
        if not self.cfg.public_folder_routing or what in _HIERARCHY_CALLS:
            return super().call(fn, what)
        if self._route is None:
            _ = self.folder
        assert self._route is not None
        with routing.routed(self._route.content):
            return super().call(fn, what)

    def close(self) -> None:
        super().close()
        self._route = None

    def _resolve_folder(self) -> Any:
        if not self.cfg.public_folder_routing:
            return self._walk(self.account.public_folders_root)
        acc = self.account
        url = routing.autodiscover_url(self.cfg.service_endpoint, self.cfg.autodiscover_url)
        user = self.cfg.mailbox or self.cfg.username
        if "@" not in user:
            raise ConfigError("public-folder routing asks Autodiscover for an e-mail address: give the "
                              "user's address as the mailbox", key="mailbox")
        hierarchy = routing.hierarchy_headers(acc.protocol, url, user)
        with routing.routed(hierarchy):
            folder = self._walk(acc.public_folders_root)
            content = routing.content_headers(acc, folder, url, user.rsplit("@", 1)[-1])
        self._route = routing.Route(hierarchy, content)
        return folder

    def delta(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        state = json.loads(cursor) if cursor else {}
        now = time.time()
        if not state or now - float(state.get("scan", 0)) >= self.cfg.full_scan_seconds:
            rows, complete = self.list_ids()
            if complete:
                return self._delta(rows, known, state, now, full=True)
        since = _parse_wm(state.get("wm"))
        if since is None:  # never had a complete listing: try again next time
            rows, _ = self.list_ids()
        else:
            rows, _ = self.list_ids(Q(last_modified_time__gt=since - _seconds(self.cfg.overlap_seconds)))
        return self._delta(rows, known, state, None, full=False)

    def _delta(self, rows: list[tuple[str, str, Any]], known: Mapping[str, str], state: dict[str, Any],
               scanned: float | None, *, full: bool) -> Delta:
        changed_ids = [rid for rid, ck, _ in rows if known.get(rid) != ck]
        items = self.fetch(changed_ids, missing_ok=True)
        marks = [lmt for _, _, lmt in rows if lmt is not None]
        wm = max([*marks, *([_parse_wm(state["wm"])] if state.get("wm") else [])], default=None)
        new_state = {"wm": wm.isoformat() if wm else None, "scan": scanned if full else state.get("scan", 0)}
        listed = {rid for rid, _, _ in rows}
        deleted = tuple(sorted(set(known) - listed)) if full else ()
        return Delta(changed=tuple(items), deleted=deleted, cursor=json.dumps(new_state),
                     complete=full, listing_size=len(rows) if full else None)


def _parse_wm(text: str | None) -> Any:
    from exchangelib import EWSDateTime
    return EWSDateTime.fromisoformat(text) if text else None


def _seconds(value: float) -> Any:
    from datetime import timedelta
    return timedelta(seconds=value)
