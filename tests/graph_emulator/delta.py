"""calendarView delta as Graph documents it: a round lists the window's singles and
instances page by page (``$skiptoken`` next links), ends with a ``$deltatoken`` delta link;
the next round from that link reports what changed and, as ``@removed`` (reason
``deleted``), every instance no longer in the window — deleted *or merely moved out*.
Empty pages with a next link happen (fault knob)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .store import Calendar, GraphError, Store


@dataclass
class Round:
    calendar: str
    start: datetime
    end: datetime
    entries: list[dict[str, Any]]
    snapshot: dict[str, str]
    offset: int = 0
    empty_pages: int = 0


@dataclass
class Delta:
    store: Store
    rounds: dict[str, Round] = field(default_factory=dict)
    links: dict[str, tuple[str, datetime, datetime, dict[str, str]]] = field(default_factory=dict)
    #: empty pages (with next links) to insert into each coming round
    empty_pages: int = 0
    rounds_started: int = 0
    #: True after any page of a round was served with a next link
    removed_sent: int = 0

    def begin(self, cal: Calendar, start: datetime, end: datetime,
              before: dict[str, str] | None) -> Round:
        view = self.store.view(cal, start, end)
        snapshot = {i: v["changeKey"] for i, v in view.items()}
        if before is None:
            entries = list(view.values())
        else:
            entries = [v for i, v in view.items() if before.get(i) != v["changeKey"]]
            gone = [{"id": i, "@removed": {"reason": "deleted"}} for i in before if i not in view]
            self.removed_sent += len(gone)
            entries += gone
        self.rounds_started += 1
        return Round(cal.id, start, end, entries, snapshot, empty_pages=self.empty_pages)

    def page(self, base: str, path: str, rnd: Round, size: int) -> dict[str, Any]:
        token = secrets.token_urlsafe(12)
        if rnd.empty_pages > 0:
            rnd.empty_pages -= 1
            self.rounds[token] = rnd
            return {"value": [], "@odata.nextLink": f"{base}/{path}?$skiptoken={token}"}
        chunk = rnd.entries[rnd.offset:rnd.offset + size]
        rnd.offset += len(chunk)
        if rnd.offset < len(rnd.entries):
            self.rounds[token] = rnd
            return {"value": chunk, "@odata.nextLink": f"{base}/{path}?$skiptoken={token}"}
        self.links[token] = (rnd.calendar, rnd.start, rnd.end, rnd.snapshot)
        return {"value": chunk, "@odata.deltaLink": f"{base}/{path}?$deltatoken={token}"}

    def answer(self, base: str, path: str, cal: Calendar, query: dict[str, str], size: int) -> dict[str, Any]:
        if "$skiptoken" in query:
            rnd = self.rounds.pop(query["$skiptoken"], None)
            if rnd is None or rnd.calendar != cal.id:
                raise GraphError(410, "SyncStateNotFound", "The sync state is not valid; start over")
            return self.page(base, path, rnd, size)
        if "$deltatoken" in query:
            link = self.links.get(query["$deltatoken"])
            if link is None or link[0] != cal.id:
                raise GraphError(410, "SyncStateNotFound", "The sync state is not valid; start over")
            return self.page(base, path, self.begin(cal, link[1], link[2], link[3]), size)
        try:
            start = datetime.fromisoformat(query["startDateTime"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(query["endDateTime"].replace("Z", "+00:00"))
        except (KeyError, ValueError):
            raise GraphError(400, "ErrorInvalidParameter",
                             "startDateTime and endDateTime are required for a first round") from None
        return self.page(base, path, self.begin(cal, start, end, None), size)
