"""The ``caldav`` spoke: any CalDAV calendar collection, over plain HTTP(S) with basic auth.

Change detection (see :meth:`CalDAVConnector.delta`): RFC 6578 sync-collection when the
server offers it (a no-change poll costs one REPORT), else a Depth-1 PROPFIND ETag listing
diffed against ``known``. Changed items are fetched with calendar-multiget in batches, in
parallel up to ``max_parallel``. Writes are conditional PUT/DELETE (If-None-Match / If-Match).

Decision: no time-range query is used for the listing. The planner applies the spoke's window;
a complete listing must stay complete, or an item leaving the window would read as deleted.

The pull cursor and what it notes of our own writes: :mod:`.cursor`.

Remote ids are decoded absolute paths (``/alice/work/x.ics``); remote versions are ETags as
the server sends them (quotes included). A write whose server sends no usable ETag returns
the ETag read back, or ``""`` (never matches) when what was read back is not what we wrote,
so a concurrent edit is fetched on the next pull instead of being mistaken for our echo.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import ClassVar, TypeVar

import requests

from cirahub.connectors.base import BaseConnector, Write, WriteOutcome, WriteResult, WriteStream
from cirahub.connectors.caldav import cursor as cursor_state
from cirahub.connectors.caldav import dav, readcheck, rewritten, writing
from cirahub.connectors.caldav.answers import check_write
from cirahub.connectors.caldav.config import CalDAVConfig
from cirahub.connectors.caldav.discovery import (
    Collection,
    discover,
    read_privileges,
    url_for,
)
from cirahub.connectors.caldav.http import HttpClient, RetryPolicy, header
from cirahub.connectors.caldav.multiget import held_etags, multiget
from cirahub.connectors.caldav.resources import remote_item, resource_name, stored_text
from cirahub.connectors.caldav.syncing import (
    ListingResult,
    SyncUnsupported,
    changes_since,
    listing_delta,
    sync_delta,
)
from cirahub.core.errors import (
    CirahubError,
    PreconditionFailed,
    RemoteAlreadyExists,
    RemoteNotFound,
)
from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, Delta, RemoteItem

#: hrefs per calendar-multiget REPORT
MULTIGET_BATCH = 100
#: writes of a push run from which a token past them is asked for (:meth:`cursor_after_push`)
SETTLE_AFTER = 100
_T = TypeVar("_T")


class CalDAVConnector(BaseConnector):
    """A CalDAV collection as a spoke. Thread-safe for one caller at a time; internally it
    runs up to ``max_parallel`` requests at once."""

    kind: ClassVar[str] = "caldav"

    def __init__(
        self,
        config: CalDAVConfig,
        password: str | None,
        *,
        retry: RetryPolicy | None = None,
        multiget_batch: int = MULTIGET_BATCH,
    ) -> None:
        self.config = config
        self.http = HttpClient(
            username=config.username,
            password=password,
            verify_tls=config.verify_tls,
            timeout=config.timeout,
            max_parallel=config.max_parallel,
            retry=retry,
        )
        self.multiget_batch = multiget_batch
        self.settle_after = SETTLE_AFTER
        self._own = cursor_state.OwnWrites()  # what the writes since the last pull left
        self._settler = cursor_state.Settler()
        self.write_parallel = config.max_parallel  # PUTs of different items at once
        self._collection: Collection | None = None
        #: href → (item, body) of each PUT that succeeded in the running write_many
        self._sent: dict[str, tuple[Item, str]] | None = None
        # CalDAV carries full iCalendar: nothing is lossy, tasks and journals included
        self.capabilities = Capabilities(unsupported_fields=frozenset(), incremental=True,
                                         carries_components=True, carries_source=True)
        self._config_key = hashlib.sha1(
            json.dumps([config.url, config.calendar]).encode()
        ).hexdigest()[:16]

    # --- collection and cursor -------------------------------------------------------------

    def collection(self) -> Collection:
        """The synced collection, discovered on first use."""
        if self._collection is None:
            self._set_collection(discover(self.http, self.config.url, self.config.calendar))
        assert self._collection is not None
        return self._collection

    def _set_collection(self, collection: Collection) -> None:
        self._collection = collection
        if collection.sync is False:
            self.capabilities = Capabilities(unsupported_fields=frozenset(), incremental=False,
                                             carries_components=True, carries_source=True)

    def _read_cursor(self, cursor: str | None) -> tuple[str | None, list[str], list[str]]:
        """The sync token in ``cursor`` and the hrefs we created and deleted after it was
        issued; adopts the collection it names, so a restarted connector polls with one
        request. A cursor from another config is ignored."""
        state = cursor_state.parse_state(cursor, self._config_key)
        if state is None:
            return None, [], []
        path, token = state.get("c"), state.get("t")
        if self._collection is None and isinstance(path, str) and path.endswith("/"):
            self._set_collection(Collection(path, True if token else None))
        if not isinstance(token, str) or not token:
            return None, [], []
        return token, cursor_state.hrefs(state.get("new")), cursor_state.hrefs(state.get("gone"))

    def cursor_after_writes(self, cursor: str | None, created: Sequence[str],
                            deleted: Sequence[str]) -> str | None:
        """``cursor`` noting that we created ``created`` and deleted ``deleted`` after its
        token was issued (see :mod:`.cursor`). A cursor without a token needs nothing:
        its next poll lists all."""
        state = cursor_state.parse_state(cursor, self._config_key)
        if state is None or not state.get("t") or not (created or deleted):
            return cursor
        return cursor_state.note_writes(state, created, deleted)

    def cursor_after_push(self, cursor: str | None) -> str | None:
        """``cursor`` as it is. When this run's own writes were at least
        :attr:`settle_after`, a background check starts whether a token past them may
        replace it (:class:`.cursor.Settling`), and the next :meth:`delta` from ``cursor``
        polls from that token (see :class:`.cursor.Settler`)."""
        settling = self._own.take(cursor, self._config_key, self.settle_after)
        if settling is not None:
            self._settler.start(settling, self._changes_since)
        return cursor

    def _changes_since(self, token: str) -> tuple[dict[str, str | None], set[str], str]:
        coll = self.collection()
        return changes_since(self.http, self.url(coll.path), coll.path, token)

    def _cursor(self, token: str | None) -> str:
        return json.dumps({"k": self._config_key, "c": self.collection().path, "t": token})

    def url(self, path: str) -> str:
        return url_for(self.config.url, path)

    # --- reading -------------------------------------------------------------------------

    def delta(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        """Changes since ``cursor``; see the module docstring. Deletions come only from a
        server report (sync-collection 404 entries) or a complete listing."""
        token, created, deleted = self._read_cursor(self._settler.adopt(cursor))
        self._own.clear()  # a new run: its writes come after this pull
        coll = self.collection()
        if coll.sync is not False:
            try:
                result = sync_delta(self.http, self.url(coll.path), coll.path, token, known)
            except SyncUnsupported:
                self._set_collection(Collection(coll.path, False, coll.display_name))
            else:
                if not result.complete:
                    result = cursor_state.check_written(result, created, deleted, known,
                                                        self._etags)
                return self._finish(result)
        return self._finish(listing_delta(self.http, self.url(coll.path), coll.path, known))

    def _etags(self, hrefs: Sequence[str]) -> dict[str, str | None]:
        return held_etags(self.http, self.url(self.collection().path), hrefs,
                          self.multiget_batch)

    def _finish(self, result: ListingResult) -> Delta:
        hrefs = sorted(result.to_fetch)
        fetched = self._fetch(hrefs, result.to_fetch)
        # an item gone between listing and fetch is left out (neither changed nor deleted):
        # the next poll reports its deletion
        return Delta(
            changed=tuple(fetched[h] for h in hrefs if h in fetched),
            deleted=result.deleted,
            cursor=self._cursor(result.token),
            complete=result.complete,
            listing_size=result.listing_size,
        )

    def get_many(self, remote_ids: Sequence[str]) -> list[RemoteItem]:
        """Items by href, in input order; RemoteNotFound names the first missing one."""
        fetched = self._fetch(list(remote_ids), {})
        for rid in remote_ids:
            if rid not in fetched:
                raise RemoteNotFound("the item is not on the server", remote_id=rid)
        return [fetched[rid] for rid in remote_ids]

    def _fetch(self, hrefs: list[str], etags: Mapping[str, str | None]) -> dict[str, RemoteItem]:
        """The items of ``hrefs``, each read in its batch's thread (see :meth:`_batched`)."""
        def items(batch: list[str]) -> dict[str, RemoteItem]:
            return {h: remote_item(h, v, t) for h, (v, t) in self._multiget(batch, etags).items()}

        return self._batched(hrefs, items)

    def _batched(self, hrefs: list[str], fetch: Callable[[list[str]], dict[str, _T]],
                 ) -> dict[str, _T]:
        """``fetch`` of every batch of hrefs (calendar-multiget), in parallel up to
        ``max_parallel``; what the batches answered, merged (absent hrefs are left out)."""
        batches = [
            hrefs[i : i + self.multiget_batch] for i in range(0, len(hrefs), self.multiget_batch)
        ]
        out: dict[str, _T] = {}
        if len(batches) <= 1 or self.config.max_parallel == 1:
            results = [fetch(b) for b in batches]
        else:
            with ThreadPoolExecutor(min(self.config.max_parallel, len(batches))) as pool:
                results = list(pool.map(fetch, batches))
        for part in results:
            out.update(part)
        return out

    def _multiget(self, hrefs: list[str], etags: Mapping[str, str | None],
                  ) -> dict[str, tuple[str, str]]:
        """href → (ETag, text as the server sent it) of one calendar-multiget."""
        out: dict[str, tuple[str, str]] = {}
        for r in multiget(self.http, self.url(self.collection().path), hrefs):
            data = r.props.get(dav.CALENDAR_DATA)
            if (r.status is not None and r.status >= 300) or data is None:
                continue
            out[r.href] = (r.text(dav.GETETAG) or etags.get(r.href) or "", data.text or "")
        return out

    def _read_back(self, href: str) -> RemoteItem | None:
        return self._fetch([href], {}).get(href)

    # --- writing -------------------------------------------------------------------------

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        try:
            self.collection()  # discovered once, before writes run in parallel
        except CirahubError as exc:
            return [exc for _ in writes]
        sent: dict[str, tuple[Item, str]] = {}
        self._sent = sent
        try:
            out = super().write_many(writes)
        finally:
            self._sent = None
        return self._recorded(writes, out, sent)

    def write_stream(self) -> WriteStream | None:
        """:meth:`write_many` for consecutive batches without the pause at each batch's end:
        a batch is read back and checked (:meth:`_checked`) on one of the stream's threads
        while the next batch's PUTs are on the wire (``max_parallel`` requests at once)."""
        try:
            self.collection()  # discovered once, before writes run in parallel
        except CirahubError:
            return None  # write_many gives each write the error
        if self.write_parallel <= 1:
            return None
        sent: dict[str, tuple[Item, str]] = {}
        self._sent = sent
        return WriteStream(self._outcome, self.write_parallel,
                           lambda writes, out: self._recorded(writes, out, sent),
                           lambda: setattr(self, "_sent", None))

    def _recorded(self, writes: Sequence[Write], out: list[WriteOutcome],
                  sent: Mapping[str, tuple[Item, str]]) -> list[WriteOutcome]:
        """``out`` checked (:meth:`_checked`), and kept for the settled cursor."""
        out = self._checked(writes, out, sent)
        self._own.record(writes, out)
        return out

    def _checked(self, writes: Sequence[Write], out: list[WriteOutcome],
                 sent: Mapping[str, tuple[Item, str]]) -> list[WriteOutcome]:
        """``out`` with what the server changed in what it stored declared: every created or
        updated resource is read back (one calendar-multiget per batch) and compared with
        the text sent (:func:`.readback.rewrites`). A rewrite that changes the item's meaning
        is mended when a repaired text says the same to readers (sent once more, If-Match);
        what still differs is a note on the write. A resource changed by someone else since
        (another ETag) is left to the next pull; a failed read-back leaves the writes as
        they are (it is a check, not the write)."""
        done = [(i, r) for i, (w, r) in enumerate(zip(writes, out, strict=True))
                if w.op in ("create", "update") and isinstance(r, WriteResult)
                and r.remote_id in sent]
        if not done:
            return out
        try:  # the texts only: an item is read from one only when the server changed it
            stored = self._batched(sorted({r.remote_id for _, r in done}),
                                   lambda batch: self._multiget(batch, {}))
        except CirahubError:
            return out
        result = list(out)
        for i, r in done:
            version, raw = stored.get(r.remote_id, ("", None))
            if raw is None or (r.remote_version and version != r.remote_version):
                continue
            item, body = sent[r.remote_id]
            changes = readcheck.changes(body, stored_text(raw))
            if changes:
                remote = remote_item(r.remote_id, version, raw)
                result[i] = rewritten.after_rewrite(self, r, item, body, remote, changes)
        return result

    def create(self, item: Item, hub_item_id: str) -> WriteResult:
        """PUT with If-None-Match: * at ``<collection>/<safe uid>.ics``. The href follows from
        the UID, so a create repeated after a crash finds its first copy (RemoteAlreadyExists)
        instead of making a duplicate."""
        href = self.collection().path + resource_name(item.uid)
        response, notes = self._put(href, item, {"If-None-Match": "*"})
        if response.status_code == 412:
            raise RemoteAlreadyExists(
                "an item already exists at this href", remote_id=href, uid=item.uid
            )
        if response.status_code == 409 and "no-uid-conflict" in dav.error_conditions(
            response.content
        ):
            raise RemoteAlreadyExists(
                "an item with this UID already exists", remote_id=href, uid=item.uid
            )
        check_write(response, href, "create", item)
        return WriteResult(href, self._version_after_put(response, href, item), notes)

    def update(
        self, remote_id: str, expected_version: str, item: Item, hub_item_id: str
    ) -> WriteResult:
        """PUT with If-Match. A 412 whose current content already equals ``item`` is success."""
        if not expected_version:
            raise PreconditionFailed(
                "no ETag known for this item; re-pull first", remote_id=remote_id
            )
        response, notes = self._put(remote_id, item, {"If-Match": expected_version})
        if response.status_code == 404:
            raise RemoteNotFound("the item to update is gone", remote_id=remote_id)
        if response.status_code == 412:
            current = self._read_back(remote_id)
            if current is None:
                raise RemoteNotFound("the item to update is gone", remote_id=remote_id)
            if current.item is not None and _same(current.item, item):
                return WriteResult(remote_id, current.remote_version)
            raise PreconditionFailed("the item changed on the server", remote_id=remote_id)
        check_write(response, remote_id, "update", item)
        return WriteResult(remote_id, self._version_after_put(response, remote_id, item), notes)

    def delete(self, remote_id: str, expected_version: str) -> None:
        """DELETE with If-Match; an item already gone is success."""
        if not expected_version:
            raise PreconditionFailed(
                "no ETag known for this item; re-pull first", remote_id=remote_id
            )
        response = self.http.request(
            "DELETE", self.url(remote_id), headers={"If-Match": expected_version}, what="DELETE"
        )
        if response.status_code in (404, 410):
            return
        if response.status_code == 412:
            if self._read_back(remote_id) is None:
                return
            raise PreconditionFailed("the item changed on the server", remote_id=remote_id)
        check_write(response, remote_id, "delete")

    def _put(self, href: str, item: Item, condition: Mapping[str, str],
             ) -> tuple[requests.Response, tuple[str, ...]]:
        """PUT ``item`` as :func:`.writing.put` says (DTSTAMP: the write time); inside
        :meth:`write_many` the body a server took is remembered for the read-back."""
        response, notes, body = writing.put(lambda text: self._send(href, text, condition),
                                            item, datetime.now(UTC))
        if self._sent is not None and 200 <= response.status_code < 300:
            self._sent[href] = (item, body)  # one key per write: threads never share one
        return response, notes

    def _send(self, href: str, body: str, condition: Mapping[str, str]) -> requests.Response:
        return self.http.request(
            "PUT",
            self.url(href),
            headers={"Content-Type": "text/calendar; charset=utf-8", **condition},
            data=body,
            what="PUT",
        )

    def _version_after_put(self, response: requests.Response, href: str, item: Item) -> str:
        etag = header(response, "ETag")
        if etag and not etag.startswith("W/"):
            return etag
        # no (strong) ETag: read back; record it only if it is still what we wrote
        current = self._read_back(href)
        if current is not None and current.item is not None and _same(current.item, item):
            return current.remote_version
        return ""

    def probe(self) -> Collection:
        """Check URL and credentials now (discovery plus one PROPFIND, which also asks for
        the user's privileges there); for 'spoke add' and 'spoke test'."""
        coll = self.collection()
        return replace(coll, privileges=read_privileges(self.http, self.url(coll.path)))

    def close(self) -> None:
        self._settler.close()
        self.http.close()


def _same(a: Item, b: Item) -> bool:
    return fingerprint(a) == fingerprint(b)
