"""The Graph emulator's state: mailboxes (users, shared mailboxes, groups), calendars,
events with series expanded into instances, extended properties, transaction ids, and the
snapshots behind calendarView delta tokens. Thread-safe through :attr:`Store.lock`."""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .recurrence import expand, parse_local, series_start

#: Windows zone names the emulator understands (IANA names are taken as they are)
WINDOWS = {"W. Europe Standard Time": "Europe/Berlin", "UTC": "UTC",
           "Romance Standard Time": "Europe/Paris", "GMT Standard Time": "Europe/London",
           "Eastern Standard Time": "America/New_York",
           "Pacific Standard Time": "America/Los_Angeles"}
#: properties a client may write on an event
WRITABLE = ("subject", "body", "start", "end", "isAllDay", "showAs", "sensitivity", "importance",
            "categories", "isReminderOn", "reminderMinutesBeforeStart", "location", "recurrence",
            "attendees")
OCC = "_OID_"


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(WINDOWS.get(name, name))
    except (ValueError, KeyError, OSError):
        raise GraphError(400, "ErrorInvalidTimeZone", f"unknown time zone {name!r}") from None


def moment(value: dict[str, str]) -> datetime:
    return parse_local(value["dateTime"]).replace(tzinfo=zone(value.get("timeZone") or "UTC"))


def iso(m: datetime) -> str:
    return m.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Event:
    id: str
    owner: str
    calendar: str
    data: dict[str, Any]
    change_key: str
    modified: datetime
    #: series only: occurrence key (UTC ISO of the original start) → exception patch
    exceptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    exception_keys: dict[str, str] = field(default_factory=dict)
    cancelled: set[str] = field(default_factory=set)

    @property
    def is_series(self) -> bool:
        return bool(self.data.get("recurrence"))


@dataclass
class Calendar:
    id: str
    owner: str
    name: str
    can_edit: bool = True


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.owners: dict[str, list[str]] = {}  # owner key (users/x, groups/y) → calendar ids
        self.calendars: dict[str, Calendar] = {}
        self.events: dict[str, Event] = {}
        self.transactions: dict[tuple[str, str], str] = {}
        self.snapshots: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    # --- setup -----------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):06d}{secrets.token_hex(6)}"

    def add_owner(self, owner: str) -> Calendar:
        owner = owner.lower()
        if owner not in self.owners:
            self.owners[owner] = []
            self.add_calendar(owner, "Calendar")
        return self.calendars[self.owners[owner][0]]

    def add_calendar(self, owner: str, name: str) -> Calendar:
        cal = Calendar(self.new_id("AAMkCal"), owner.lower(), name)
        self.calendars[cal.id] = cal
        self.owners.setdefault(owner.lower(), []).append(cal.id)
        return cal

    def calendar(self, owner: str, cal_id: str | None) -> Calendar:
        ids = self.owners.get(owner.lower())
        if ids is None:
            raise GraphError(404, "ErrorInvalidUser", f"the mailbox {owner!r} does not exist")
        if cal_id is None:
            return self.calendars[ids[0]]
        if cal_id not in ids:
            raise GraphError(404, "ErrorItemNotFound", "the calendar does not exist")
        return self.calendars[cal_id]

    # --- events ----------------------------------------------------------------------------

    def _touch(self, ev: Event) -> None:
        ev.change_key = secrets.token_urlsafe(9)
        ev.modified = datetime.now(UTC)

    def create(self, cal: Calendar, body: dict[str, Any]) -> Event:
        tx = body.get("transactionId")
        if tx and (cal.id, tx) in self.transactions and self.transactions[(cal.id, tx)] in self.events:
            return self.events[self.transactions[(cal.id, tx)]]
        data = {k: copy.deepcopy(body[k]) for k in WRITABLE if k in body}
        check_times(data)
        data["iCalUId"] = "040000008200E00074C5B7101A82E008" + secrets.token_hex(16).upper()
        data["originalStartTimeZone"] = data["start"].get("timeZone", "UTC")
        data["originalEndTimeZone"] = data["end"].get("timeZone", "UTC")
        data["singleValueExtendedProperties"] = copy.deepcopy(body.get("singleValueExtendedProperties") or [])
        ev = Event(self.new_id("AAMkEv"), cal.owner, cal.id, data, "", datetime.now(UTC))
        self._touch(ev)
        self.events[ev.id] = ev
        if tx:
            self.transactions[(cal.id, tx)] = ev.id
        return ev

    def find(self, event_id: str) -> tuple[Event, str | None]:
        """(event, occurrence key or None) for an event or instance id; 404 otherwise."""
        master_id, _, key = event_id.partition(OCC)
        ev = self.events.get(master_id)
        if ev is None or (key and (not ev.is_series or key not in self.instance_keys(ev))):
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return ev, key or None

    def update(self, ev: Event, key: str | None, body: dict[str, Any]) -> None:
        patch = {k: copy.deepcopy(body[k]) for k in WRITABLE if k in body}
        if key is not None:
            patch.pop("recurrence", None)
            ev.exceptions[key] = {**ev.exceptions.get(key, {}), **patch}
            ev.exception_keys[key] = secrets.token_urlsafe(9)
        else:
            reset = any(k in patch and patch[k] != ev.data.get(k) for k in ("recurrence", "start", "end"))
            ev.data.update(patch)
            if patch.get("recurrence") is None and "recurrence" in patch:
                ev.data.pop("recurrence", None)
            check_times(ev.data)
            if "start" in patch:
                ev.data["originalStartTimeZone"] = ev.data["start"].get("timeZone", "UTC")
                ev.data["originalEndTimeZone"] = ev.data["end"].get("timeZone", "UTC")
            if reset:  # Exchange drops a series' exceptions when its pattern or times change
                ev.exceptions.clear()
                ev.cancelled.clear()
            if "singleValueExtendedProperties" in body:
                props = {p["id"].lower(): p for p in ev.data["singleValueExtendedProperties"]}
                props.update({p["id"].lower(): p for p in body["singleValueExtendedProperties"]})
                ev.data["singleValueExtendedProperties"] = list(props.values())
        self._touch(ev)

    def delete(self, ev: Event, key: str | None) -> None:
        if key is not None:
            ev.cancelled.add(key)
            ev.exceptions.pop(key, None)
            self._touch(ev)
        else:
            del self.events[ev.id]

    # --- instances -------------------------------------------------------------------------

    def instance_keys(self, ev: Event, until: datetime | None = None) -> list[str]:
        first = series_start(ev.data, zone(ev.data["start"].get("timeZone") or "UTC"))
        limit = until or first + timedelta(days=365 * 30)
        return [iso(m) for m in expand(ev.data["recurrence"], first, limit)]

    def instances(self, ev: Event, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The occurrences and exceptions of a series overlapping [start, end)."""
        first = series_start(ev.data, zone(ev.data["start"].get("timeZone") or "UTC"))
        length = moment(ev.data["end"]) - moment(ev.data["start"])
        out = []
        for m in expand(ev.data["recurrence"], first, end):
            key = iso(m)
            if key in ev.cancelled:
                continue
            local_start = {"dateTime": m.replace(tzinfo=None).isoformat(),
                           "timeZone": ev.data["start"].get("timeZone", "UTC")}
            local_end = {"dateTime": (m + length).replace(tzinfo=None).isoformat(),
                         "timeZone": ev.data["end"].get("timeZone", "UTC")}
            data = {**ev.data, "start": local_start, "end": local_end}
            data.pop("recurrence", None)
            kind = "occurrence"
            if key in ev.exceptions:
                data.update(copy.deepcopy(ev.exceptions[key]))
                kind = "exception"
            if moment(data["end"]) <= start or moment(data["start"]) >= end:
                continue
            out.append(self.render(ev, data, kind=kind, key=key))
        return out

    def render(self, ev: Event, data: dict[str, Any] | None = None, *, kind: str | None = None,
               key: str | None = None, expand_props: bool = False) -> dict[str, Any]:
        data = data if data is not None else ev.data
        out = {k: copy.deepcopy(v) for k, v in data.items()
               if k not in ("singleValueExtendedProperties",)}
        out.setdefault("attendees", [])
        change = ev.change_key if key is None else f"{ev.change_key}.{ev.exception_keys.get(key, '0')}"
        out.update({"id": ev.id if key is None else f"{ev.id}{OCC}{key}", "changeKey": change,
                    "@odata.etag": f'W/"{change}"', "lastModifiedDateTime": iso(ev.modified),
                    "type": kind or ("seriesMaster" if ev.is_series else "singleInstance")})
        if key is not None:
            out["seriesMasterId"] = ev.id
            out["originalStart"] = key
        if expand_props:
            out["singleValueExtendedProperties"] = copy.deepcopy(data.get("singleValueExtendedProperties") or [])
        return out

    def view(self, cal: Calendar, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
        """calendarView: singles and instances overlapping [start, end), by id."""
        out: dict[str, dict[str, Any]] = {}
        for ev in list(self.events.values()):
            if ev.calendar != cal.id:
                continue
            if ev.is_series:
                out.update({i["id"]: i for i in self.instances(ev, start, end)})
            elif moment(ev.data["end"]) > start and moment(ev.data["start"]) < end:
                out[ev.id] = self.render(ev)
        return out


def check_times(data: dict[str, Any]) -> None:
    for name in ("start", "end"):
        value = data.get(name)
        if not isinstance(value, dict) or not value.get("dateTime"):
            raise GraphError(400, "ErrorInvalidRequest", f"{name} is required")
        moment(value)
    if moment(data["end"]) < moment(data["start"]):
        raise GraphError(400, "ErrorInvalidRequest", "end is before start")
