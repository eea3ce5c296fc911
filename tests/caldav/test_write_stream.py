"""A push of many writes to a CalDAV collection keeps its PUTs flowing from one chunk to the
next (``CalDAVConnector.write_stream``): the next chunk is on the wire while the one before is
read back and linked, with every guarantee of ``actors/pushing.py`` kept: a chunk's pending
writes are durable before its first PUT, a link is committed only after its PUT returned, and
at most ``WRITE_CHUNK`` writes are ever written and not linked (what a crash can lose). Against
the real Radicale and Xandikos."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from cirahub.actors import pushing
from cirahub.connectors.caldav import CalDAVConnector
from cirahub.connectors.registry import open_connector
from cirahub.core.ical import to_ics
from tests.contract import samples
from tests.sync.harness import Loop

from .servers import USER, CalendarUser, DavServer

CHUNK = 10  # WRITE_CHUNK in these tests: streamed in chunks of 5
ITEMS = 23


class Recorder:
    """What the push did, in order: pending writes noted, PUTs started and ended, links
    committed, checked against the guarantees as it goes."""

    def __init__(self, conn: CalDAVConnector, store: Any, spoke_id: str) -> None:
        self.lock = threading.Lock()
        self.noted = 0  # pending writes noted
        self.started: list[str] = []  # resource names of PUTs started
        self.ended: set[str] = set()
        self.linked = 0
        self.most_unlinked = 0
        self.in_flight = self.most_in_flight = 0
        self.violations: list[str] = []
        #: the first read-back's resources, and whether a PUT of another one started while
        #: it was asked (the next chunk on the wire)
        self.first_read: set[str] | None = None
        self.overlap = threading.Event()
        self.overlapped = False
        self._wrap_http(conn)
        self._wrap_store(store, spoke_id)

    def _wrap_http(self, conn: CalDAVConnector) -> None:
        request = conn.http.request

        def spy(method: str, url: str, **kw: Any) -> Any:
            name = url.rsplit("/", 1)[-1]
            body = kw.get("data") or b""
            body = body.encode() if isinstance(body, str) else body
            read = method == "REPORT" and b"calendar-multiget" in body
            with self.lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                if method == "PUT":
                    if self.noted <= len(self.started):
                        self.violations.append(f"PUT of {name} before its pending write")
                    self.started.append(name)
                    if self.first_read is not None and name not in self.first_read:
                        self.overlap.set()
                    self.most_unlinked = max(self.most_unlinked,
                                             len(self.started) - self.linked)
                first = read and self.first_read is None and bool(self.started)
                if first:
                    self.first_read = {m.decode() for m in
                                       re.findall(rb"/([^/<]+)</D:href>", body)}
                    if any(n not in self.first_read for n in self.started):
                        self.overlap.set()
            try:
                if first:  # hold the first read-back until the next chunk is on the wire
                    self.overlapped = self.overlap.wait(30)
                return request(method, url, **kw)
            finally:
                with self.lock:
                    self.in_flight -= 1
                    if method == "PUT":
                        self.ended.add(name)

        conn.http.request = spy  # type: ignore[method-assign]

    def _wrap_store(self, store: Any, spoke_id: str) -> None:
        note, commit = store.note_pending_writes, store.commit_links

        def noted(sid: str, pending: Any) -> Any:
            with self.lock:
                if sid == spoke_id:
                    self.noted += len(pending)
            return note(sid, pending)

        def committed(sid: str, upserts: Any, deletes: Any, confirmed: Any) -> Any:
            with self.lock:
                if sid == spoke_id:
                    for link in upserts:
                        name = link.remote_id.rsplit("/", 1)[-1]
                        if name not in self.ended:
                            self.violations.append(f"link of {name} before its PUT returned")
                    self.linked += len(upserts)
            return commit(sid, upserts, deletes, confirmed)

        store.note_pending_writes, store.commit_links = noted, committed


def test_regression_a_large_push_puts_the_next_chunk_while_the_last_is_linked(
        store: Any, tmp_path: Path, dav_server: DavServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, each chunk's PUTs drained before its read-back and link commit, and the next
    chunk's PUTs waited for both (10 pauses in a 1,000-item initial push)."""
    monkeypatch.setattr(pushing, "WRITE_CHUNK", CHUNK)
    folder = tmp_path / "desk"
    folder.mkdir()
    uids = [f"stream-{i:02d}@cirahub.test" for i in range(ITEMS)]
    for i, uid in enumerate(uids):
        (folder / f"e{i}.ics").write_text(to_ics(samples.simple(uid, day=1 + i % 28)))
    path = dav_server.mkcalendar()
    config = {"url": dav_server.base + path, "username": USER, "max_parallel": 2}
    dav = open_connector("caldav", config, "secret")
    assert isinstance(dav, CalDAVConnector)
    loop = Loop(store)
    loop.add("desk", open_connector("vdir", {"path": str(folder)}), kind="vdir",
             config={"path": str(folder)})
    spoke = loop.add("dav", dav, kind="caldav", config=config)
    seen = Recorder(dav, store, spoke.id)
    try:
        loop.sync("desk")
        assert loop.sync("dav").ok
        assert seen.overlapped, "the next chunk's PUTs waited for the read-back"
        assert seen.violations == []
        assert seen.most_unlinked <= CHUNK  # what a crash could lose
        assert seen.most_in_flight <= 2  # max_parallel, the read-backs included
        assert len(seen.started) == ITEMS and seen.linked == ITEMS
        assert sorted(n.rsplit("/", 1)[-1] for n in store.link_versions(spoke.id)) == \
            sorted(seen.started)
        assert sorted(CalendarUser(dav_server, path).hrefs_by_uid()) == sorted(uids)
        assert not loop.sync("dav").counts.get("pulled")  # every write known as our echo
    finally:
        dav.close()
