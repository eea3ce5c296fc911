"""The soak's users: one per spoke, editing its calendar the way a person's client would
(never through cirahub), and reading it back for the checker.

Every user does the same four things on its own kind of calendar: create an event or a weekly
series (4 occurrences), rename it, exclude one occurrence of a series, delete it; and lists
what its calendar holds as :class:`Seen` rows (one per item, so a duplicate shows twice).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cirahub.core.ical import parse_item
from tests.caldav.servers import CalendarUser

#: every series: weekly, this many occurrences
SERIES_COUNT = 4


@dataclass(frozen=True)
class Seen:
    """What a calendar shows of one item."""

    uid: str
    summary: str
    #: number of excluded occurrences (0 for a single event)
    excluded: int


def first_start(uid: str) -> datetime:
    """A stable start per UID (spread over December 2026, on the hour)."""
    n = int(hashlib.sha256(uid.encode()).hexdigest()[:8], 16)
    return datetime(2026, 12, 1 + n % 20, 8 + n % 9, tzinfo=UTC)


def ics_text(uid: str, summary: str, series: bool, excluded: tuple[int, ...]) -> str:
    start = first_start(uid)
    fmt = "%Y%m%dT%H%M%SZ"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//cirahub soak//EN", "BEGIN:VEVENT",
             f"UID:{uid}", "DTSTAMP:20261101T080000Z", f"DTSTART:{start.strftime(fmt)}",
             f"DTEND:{(start + timedelta(hours=1)).strftime(fmt)}", f"SUMMARY:{summary}"]
    if series:
        lines.append(f"RRULE:FREQ=WEEKLY;COUNT={SERIES_COUNT}")
        lines += [f"EXDATE:{(start + timedelta(weeks=k)).strftime(fmt)}" for k in excluded]
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines)


def seen_of_text(text: str) -> Seen:
    item = parse_item(text)
    return Seen(item.uid, str(item.fields.get("summary")), len(item.fields.get("exdates") or ()))


class CalendarUserLike(Protocol):
    kind: str

    def create(self, uid: str, summary: str, series: bool) -> None: ...
    def rename(self, uid: str, summary: str) -> None: ...
    def exclude(self, uid: str, k: int) -> None: ...
    def delete(self, uid: str) -> None: ...
    def contents(self) -> list[Seen]: ...


@dataclass
class _Text:
    """The iCalendar source a text-based user keeps of what it wrote (it edits from that)."""

    summary: str
    series: bool
    excluded: tuple[int, ...] = ()


class FolderUser:
    """A person editing a vdir folder with a text editor."""

    kind = "vdir"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._mine: dict[str, _Text] = {}

    def _path(self, uid: str) -> Path:
        for f in self.folder.glob("*.ics"):
            if parse_item(f.read_text()).uid == uid:
                return f
        return self.folder / f"{uid.split('@')[0]}.ics"

    def _write(self, uid: str) -> None:
        t = self._mine[uid]
        self._path(uid).write_text(ics_text(uid, t.summary, t.series, t.excluded))

    def create(self, uid: str, summary: str, series: bool) -> None:
        self._mine[uid] = _Text(summary, series)
        self._write(uid)

    def rename(self, uid: str, summary: str) -> None:
        self._mine[uid].summary = summary
        self._write(uid)

    def exclude(self, uid: str, k: int) -> None:
        self._mine[uid].excluded = tuple(sorted({*self._mine[uid].excluded, k}))
        self._write(uid)

    def delete(self, uid: str) -> None:
        self._path(uid).unlink()
        del self._mine[uid]

    def contents(self) -> list[Seen]:
        return [seen_of_text(f.read_text()) for f in self.folder.glob("*.ics")]


def _as_a_client_would(fn: Any, tries: int = 5) -> Any:
    """``fn()``, tried again (briefly) when the server answers 5xx or hangs up, as a CalDAV
    client does (Xandikos and Radicale may refuse a write racing another one on the same
    collection)."""
    import time

    import requests

    for attempt in range(tries):
        try:
            return fn()
        except (AssertionError, requests.RequestException) as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 500
            if attempt == tries - 1 or code < 500:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


class DavUser:
    """A person using a CalDAV client on one collection (Radicale or Xandikos), talking to the
    server directly (not through the fault proxy the hub goes through)."""

    def __init__(self, user: CalendarUser, kind: str) -> None:
        self.user, self.kind = user, kind
        self._mine: dict[str, _Text] = {}
        self._href: dict[str, str] = {}

    def _put(self, uid: str) -> None:
        t = self._mine[uid]
        href = self._href.get(uid) or _as_a_client_would(self.user.hrefs_by_uid).get(uid)
        text = ics_text(uid, t.summary, t.series, t.excluded)
        self._href[uid] = _as_a_client_would(lambda: self.user.put(text, href))

    def create(self, uid: str, summary: str, series: bool) -> None:
        self._mine[uid] = _Text(summary, series)
        self._put(uid)

    def rename(self, uid: str, summary: str) -> None:
        self._mine[uid].summary = summary
        self._put(uid)

    def exclude(self, uid: str, k: int) -> None:
        self._mine[uid].excluded = tuple(sorted({*self._mine[uid].excluded, k}))
        self._put(uid)

    def delete(self, uid: str) -> None:
        href = self._href.pop(uid, None) or _as_a_client_would(self.user.hrefs_by_uid)[uid]
        _as_a_client_would(lambda: self.user.delete(href))
        del self._mine[uid]

    def contents(self) -> list[Seen]:
        return [seen_of_text(self.user.get(href).text) for href in self.user.hrefs()]


class ExchangeUser:
    """A person in Outlook on an Exchange public folder (the EWS emulator's direct edits)."""

    kind = "ews-public-folder"

    def __init__(self, emu: Any, folder_id: str) -> None:
        self.emu, self.folder_id = emu, folder_id

    def _id(self, uid: str) -> str:
        (item,) = [i for i in self.emu.user.items(self.folder_id) if i["uid"] == uid]
        return str(item["id"])

    def create(self, uid: str, summary: str, series: bool) -> None:
        start = first_start(uid)
        recurrence = None
        if series:
            recurrence = {"pattern": "Weekly", "interval": 1, "days": start.strftime("%A"),
                          "count": SERIES_COUNT}
        self.emu.user.create(self.folder_id, uid=uid, subject=summary, start=start,
                             end=start + timedelta(hours=1), tz="UTC", recurrence=recurrence)

    def rename(self, uid: str, summary: str) -> None:
        self.emu.user.update(self._id(uid), subject=summary)

    def exclude(self, uid: str, k: int) -> None:
        self.emu.user.delete_occurrence(self._id(uid), first_start(uid) + timedelta(weeks=k))

    def delete(self, uid: str) -> None:
        self.emu.user.delete(self._id(uid))

    def touch(self, uid: str) -> None:
        """An Outlook save that changes nothing but the ChangeKey (the hub's next write to
        it meets a stale ChangeKey)."""
        self.emu.bump_change_key(self._id(uid))

    def uids(self) -> list[str]:
        return [str(i["uid"]) for i in self.emu.user.items(self.folder_id)]

    def contents(self) -> list[Seen]:
        return [Seen(str(i["uid"]), str(i["subject"]), len(i["deleted_occurrences"]))
                for i in self.emu.user.items(self.folder_id)]
