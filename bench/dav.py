"""CalDAV helpers of the side-by-side benchmark: a Radicale server, fresh collections, the raw
limits (what a plain HTTP client needs: to store the same items, and for an edit sync's
requests), a user's edits on the server, and the collection's items for the content check."""

from __future__ import annotations

import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree

import requests

from bench.calendars import Truth, check_texts, edit_text

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.caldav.servers import PASSWORD, USER, Radicale  # noqa: E402

__all__ = ["PASSWORD", "USER", "Radicale", "check_collection", "edit_on_server",
           "held_by_uid", "new_collection", "raw_edit_sync", "raw_put", "sync_state"]

_QUERY = (b'<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" '
          b'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
          b'</D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>')


def new_collection(server: Radicale) -> str:
    """URL of a new empty calendar collection."""
    return server.base + server.mkcalendar("bench-" + uuid.uuid4().hex[:10])


def raw_put(url: str, texts: list[str], parallel: int) -> None:
    """PUT every text as a new resource (If-None-Match: *), ``parallel`` keep-alive
    connections, like a client that does nothing else."""
    _put_all([(f"{url}{uuid.uuid4().hex}.ics", text, {"If-None-Match": "*"})
              for text in texts], parallel, "raw PUT")


def _put_all(puts: list[tuple[str, str, dict[str, str]]], parallel: int, what: str) -> None:
    """PUT each (URL, text, condition header) over ``parallel`` keep-alive connections."""
    def worker(part: list[tuple[str, str, dict[str, str]]]) -> None:
        with requests.Session() as s:
            s.auth = (USER, PASSWORD)
            for target, text, condition in part:
                r = s.put(target, data=text.encode(),
                          headers={"Content-Type": "text/calendar; charset=utf-8", **condition})
                if r.status_code not in (201, 204):
                    raise RuntimeError(f"{what}: {r.status_code} {r.text[:200]}")

    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(worker, [puts[i::parallel] for i in range(parallel)]))


_DAV, _CAL = "{DAV:}", "{urn:ietf:params:xml:ns:caldav}"
_XML = {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}


def _sync_report(s: requests.Session, url: str, token: str | None) -> ElementTree.Element:
    tok = f"<D:sync-token>{token}</D:sync-token>" if token else "<D:sync-token/>"
    body = ('<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:">'
            f'{tok}<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop>'
            '</D:sync-collection>')
    r = s.request("REPORT", url, data=body.encode(), headers=_XML)
    if r.status_code != 207:
        raise RuntimeError(f"sync-collection {r.status_code}")
    return ElementTree.fromstring(r.content)


def sync_state(url: str) -> str:
    """The collection's sync token (what a client keeps after its last sync; not timed)."""
    with requests.Session() as s:
        s.auth = (USER, PASSWORD)
        return _sync_report(s, url, None).findtext(f"{_DAV}sync-token") or ""


def raw_edit_sync(url: str, token: str, local: list[tuple[str, str, str]],
                  parallel: int) -> int:
    """Exactly the requests an edit sync needs, from a plain client: one sync-collection
    REPORT from ``token``, one calendar-multiget of the hrefs it reports (the server-side
    changes), and the folder-side edits ``local`` (href, ETag, text) as If-Match PUTs over
    ``parallel`` keep-alive connections. Returns how many server-side changes it read."""
    base = "/".join(url.split("/", 3)[:3])
    with requests.Session() as s:
        s.auth = (USER, PASSWORD)
        root = _sync_report(s, url, token)
        changed = [h for r in root.iter(f"{_DAV}response")
                   if (h := r.findtext(f"{_DAV}href") or "") and not h.endswith("/")]
        if changed:
            body = ('<?xml version="1.0" encoding="utf-8"?><C:calendar-multiget xmlns:D="DAV:" '
                    'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>'
                    '<C:calendar-data/></D:prop>'
                    + "".join(f"<D:href>{h}</D:href>" for h in changed)
                    + "</C:calendar-multiget>")
            r = s.request("REPORT", url, data=body.encode(), headers=_XML)
            got = [d for d in ElementTree.fromstring(r.content).iter(f"{_CAL}calendar-data")]
            if r.status_code != 207 or len(got) != len(changed):
                raise RuntimeError(f"multiget {r.status_code}: {len(got)} of {len(changed)}")

    _put_all([(base + href, text, {"If-Match": etag}) for href, etag, text in local],
             parallel, "raw edit PUT")
    return len(changed)


def items(url: str) -> dict[str, tuple[str, str]]:
    """href → (etag, text) of every item (one calendar-query REPORT)."""
    r = requests.request("REPORT", url, data=_QUERY, auth=(USER, PASSWORD),
                         headers={"Depth": "1", "Content-Type": "application/xml"})
    if r.status_code != 207:
        raise RuntimeError(f"REPORT {r.status_code}")
    out = {}
    for response in ElementTree.fromstring(r.content).iter("{DAV:}response"):
        href = response.findtext("{DAV:}href") or ""
        data = response.findtext(".//{urn:ietf:params:xml:ns:caldav}calendar-data")
        etag = response.findtext(".//{DAV:}getetag") or ""
        if data:
            out[href] = (etag, data)
    return out


def held_by_uid(url: str) -> dict[str, tuple[str, str]]:
    """UID → (href, etag) of every item the collection holds."""
    return {line[4:].strip(): (href, etag) for href, (etag, text) in items(url).items()
            for line in text.splitlines() if line.startswith("UID:")}


def check_collection(url: str, truth: Truth) -> None:
    found = items(url)
    if len(found) != len(truth.items):
        raise AssertionError(f"{url}: {len(found)} items, expected {len(truth.items)}")
    check_texts(url, [t for _, t in found.values()], truth)


def edit_on_server(url: str, truth: Truth, uids: list[str], note: str) -> None:
    """A user's edits with a plain client: PUT with If-Match over the item of each UID."""
    by_uid = held_by_uid(url)
    base = url.split("/", 3)[:3]
    with requests.Session() as s:
        s.auth = (USER, PASSWORD)
        for uid in uids:
            href, etag = by_uid[uid]
            text = edit_text(truth.items[uid], "20261201T110000Z", note)
            r = s.put("/".join(base) + href, data=text.encode(),
                      headers={"Content-Type": "text/calendar; charset=utf-8", "If-Match": etag})
            if r.status_code not in (201, 204):
                raise RuntimeError(f"edit PUT {r.status_code}")
            truth.add(uid, text)
