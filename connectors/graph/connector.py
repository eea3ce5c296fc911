"""The ``graph`` spoke: a user, shared-mailbox or Microsoft 365 group calendar via Graph.

Reading (:meth:`GraphConnector.delta`) uses calendarView delta over a window (the config's
``window_days_back`` / ``window_days_ahead``). The cursor is ``{"start", "end", "link"}``: the
round's window and its delta link. A new round (a listing of the whole window) starts on the
first run, when the configured window changed, and when the window has slid by more than
``window_slack_days``. Guarantees:

- a deletion is reported only when Graph answers 404 for the event: an ``@removed`` entry is
  checked first, because Graph also sends ``@removed`` (reason ``deleted``) for events that
  merely left the window; such an event is reported as changed, never deleted;
- after a new round, linked events the round did not list are checked the same way (an event
  outside the window is not a deletion);
- a failure anywhere in a round raises, and the cursor stays where it was: nothing is lost;
- occurrences and exceptions are reported as their series: the master plus its instances
  (exceptions → overrides, missing occurrences → EXDATEs).

Writing is in :mod:`.writes`. Versions are the event's changeKey, prefixed ``S:`` for a
series (Exchange changes a master's changeKey with every exception).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from time import sleep as _sleep
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from cirahub.connectors.base import BaseConnector, Write, WriteOutcome, WriteResult
from cirahub.connectors.oauth import TokenProvider
from cirahub.core.errors import CirahubError, ConfigError, MalformedItem, RemoteNotFound
from cirahub.core.expansion import walk
from cirahub.core.ical_values import as_moment, compact_key, time_value
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, Delta, RemoteItem
from cirahub.core.timezones import resolve_tzid

from . import mapping
from .config import GraphConfig
from .http import Answer, GraphHttp, Request, error_for
from .recurrence import to_rrule

#: occurrences of one series expanded at most (bounds a never-ending daily series)
MAX_OCCURRENCES = 5000
#: pages of one delta round at most (bounds a server that never ends a round)
MAX_PAGES = 10_000


def version_of(event: Mapping[str, Any]) -> str:
    key = str(event.get("changeKey") or "")
    return ("S:" + key) if event.get("type") == "seriesMaster" else key


def change_key(version: str) -> str:
    return version[2:] if version.startswith("S:") else version


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class GraphConnector(BaseConnector):
    kind: ClassVar[str] = "graph"

    def __init__(self, cfg: GraphConfig, tokens: TokenProvider, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 sleep: Callable[[float], None] | None = None) -> None:
        self.cfg = cfg
        self.http = GraphHttp(cfg.graph_url, tokens, cfg.group or cfg.mailbox or "",
                              max_concurrency=cfg.max_concurrency,
                              max_retry_seconds=cfg.max_retry_seconds, timeout=cfg.timeout,
                              sleep=sleep or _sleep)
        self.clock = clock
        self.capabilities = Capabilities(unsupported_fields=mapping.UNSUPPORTED, incremental=True)
        self.ignore = mapping.UNSUPPORTED
        self._calendar: str | None = None

    # --- plumbing --------------------------------------------------------------------------

    @property
    def calendar_path(self) -> str:
        """``/users/{m}/calendars/{id}`` (resolved once) or the owner's default calendar."""
        if self._calendar is None:
            owner = self.cfg.owner
            if self.cfg.calendar is None:
                self._calendar = f"{owner}/calendar"
            else:
                self._calendar = f"{owner}/calendars/{quote(self._find_calendar(), safe='')}"
        return self._calendar

    def _find_calendar(self) -> str:
        name = self.cfg.calendar or ""
        url: str | None = f"{self.cfg.owner}/calendars?$top=100"
        names: list[str] = []
        for _ in range(100):
            if url is None:
                break
            page = self.http.call(Request("GET", url), "list calendars") or {}
            for cal in page.get("value") or []:
                if name in (cal.get("id"), cal.get("name")):
                    return str(cal["id"])
                names.append(str(cal.get("name")))
            url = page.get("@odata.nextLink")
        raise ConfigError(f"calendar {name!r} not found in {self.cfg.owner}; calendars there: "
                          f"{', '.join(names[:20])}", calendar=name, calendars=names[:100])

    def event_path(self, event_id: str) -> str:
        return f"{self.cfg.owner}/events/{quote(event_id, safe='')}"

    def close(self) -> None:
        self.http.close()

    # --- the window ------------------------------------------------------------------------

    def window(self) -> tuple[datetime, datetime]:
        today = datetime.combine(self.clock().date(), time(0), tzinfo=UTC)
        return (today - timedelta(days=self.cfg.window_days_back),
                today + timedelta(days=self.cfg.window_days_ahead))

    def _new_round(self, state: Mapping[str, Any]) -> bool:
        if not state.get("link"):
            return True
        start, end = self.window()
        old_start = datetime.fromisoformat(state["start"])
        old_end = datetime.fromisoformat(state["end"])
        if (old_end - old_start) != (end - start):
            return True  # the configured window changed
        return start - old_start > timedelta(days=self.cfg.window_slack_days)

    # --- reading ---------------------------------------------------------------------------

    def delta(self, cursor: str | None, known: Mapping[str, str]) -> Delta:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        full = self._new_round(state)
        if full:
            start, end = self.window()
            url = (f"{self.calendar_path}/calendarView/delta?startDateTime={_stamp(start)}"
                   f"&endDateTime={_stamp(end)}")
            state = {"start": start.isoformat(), "end": end.isoformat()}
        else:
            url = state["link"]
        seen, singles, removed, link = self._round(url)
        # a single event the round reports at the version we know needs no GET (our own
        # echo, or an unchanged event of a new round); a series is always read again
        check = {rid for rid in seen if rid not in singles or known.get(rid) != singles[rid]}
        check |= {rid for rid in removed if rid in known}
        if any(rid not in known for rid in removed):
            # a cancelled occurrence names no series: read every series again
            check |= {rid for rid, v in known.items() if v.startswith("S:")}
        if full:
            check |= set(known) - seen  # unlisted links: outside the window, or gone (checked)
        found = self.fetch(sorted(check), missing_ok=True)
        fetched = {r.remote_id for r in found}
        present = fetched | (seen - check)
        deleted = tuple(sorted(rid for rid in check if rid in known and rid not in fetched))
        changed = tuple(r for r in found if known.get(r.remote_id) != r.remote_version)
        complete = full and all(rid in seen or rid in deleted for rid in known)
        return Delta(changed=changed, deleted=deleted,
                     cursor=json.dumps({**state, "link": link}, sort_keys=True),
                     complete=complete, listing_size=len(present) if complete else None)

    def _round(self, url: str) -> tuple[set[str], dict[str, str], set[str], str]:
        """(ids of singles and series the round reported, the singles' versions, ids
        reported removed, the delta link)."""
        seen: set[str] = set()
        singles: dict[str, str] = {}
        removed: set[str] = set()
        prefer = {"Prefer": f"odata.maxpagesize={self.cfg.page_size}"}
        for _ in range(MAX_PAGES):
            page = self.http.call(Request("GET", url, headers=prefer), "calendarView delta") or {}
            for entry in page.get("value") or []:
                if "@removed" in entry:
                    removed.add(str(entry.get("id")))
                elif entry.get("type") in ("occurrence", "exception") and entry.get("seriesMasterId"):
                    seen.add(str(entry["seriesMasterId"]))
                elif entry.get("id"):
                    seen.add(str(entry["id"]))
                    if entry.get("type") == "singleInstance" and entry.get("changeKey"):
                        singles[str(entry["id"])] = str(entry["changeKey"])
            if page.get("@odata.deltaLink"):
                return seen, singles, removed - seen, str(page["@odata.deltaLink"])
            next_link = page.get("@odata.nextLink")
            if not next_link:
                raise error_for(Answer(502, {"error": {"code": "NoNextLink"}}),
                                "calendarView delta: a page without nextLink or deltaLink")
            url = str(next_link)
        raise error_for(Answer(502, {"error": {"code": "TooManyPages"}}), "calendarView delta")

    def get_many(self, remote_ids: Sequence[str]) -> list[RemoteItem]:
        return self.fetch(list(remote_ids), missing_ok=False)

    def read_events(self, ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """Events (with our stamps) by id; None for one Graph answered 404."""
        answers = self.http.batch([Request("GET", f"{self.event_path(rid)}?$expand={quote(mapping.EXPAND, safe='')}")
                                   for rid in ids])
        out: dict[str, dict[str, Any] | None] = {}
        for rid, answer in zip(ids, answers, strict=True):
            if answer.status == 404:
                out[rid] = None
            elif not answer.ok:
                raise error_for(answer, f"get event {rid[-12:]}")
            else:
                out[rid] = answer.body
        return out

    def fetch(self, ids: Sequence[str], *, missing_ok: bool) -> list[RemoteItem]:
        """Items by id in order; a 404 is skipped (``missing_ok``) or RemoteNotFound."""
        events = self.read_events(ids)
        out: list[RemoteItem] = []
        for rid in ids:
            event = events[rid]
            if event is None:
                if missing_ok:
                    continue
                raise RemoteNotFound("the event does not exist", remote_id=rid)
            try:
                item = self.to_item(event)
            except MalformedItem as exc:
                out.append(RemoteItem(rid, version_of(event), None, error=exc.message,
                                      raw=json.dumps(event, default=str)[:20000]))
                continue
            out.append(RemoteItem(rid, version_of(event), item))
        return out

    def to_item(self, event: Mapping[str, Any]) -> Item:
        """The canonical item of a single event or series master (instances read for a
        series). Raises MalformedItem."""
        stamps = mapping.stamps_of(event)
        uid = stamps.get(mapping.HUB_UID) or str(event.get("iCalUId") or event.get("id"))
        fields = mapping.read_fields(event, stamps)
        overrides: dict[str, dict[str, Any]] = {}
        if event.get("type") == "seriesMaster" and event.get("recurrence"):
            fields["rrule"] = to_rrule(event["recurrence"], fields["start"], uid)
            exdates, overrides = self.series_exceptions(event, fields, stamps)
            if exdates:
                fields["exdates"] = exdates
        drop = self.ignore
        return Item(uid, {k: v for k, v in fields.items() if k not in drop},
                    {k: {f: v for f, v in o.items() if f not in drop} for k, o in overrides.items()})

    # --- series ----------------------------------------------------------------------------

    def instances(self, master_id: str, until: str) -> list[dict[str, Any]]:
        """Every occurrence and exception of a series up to the occurrence key ``until``."""
        start = datetime(1900, 1, 1, tzinfo=UTC)
        end = _key_end(until)
        url: str | None = (f"{self.event_path(master_id)}/instances?startDateTime={_stamp(start)}"
                           f"&endDateTime={_stamp(end)}&$top=500")
        out: list[dict[str, Any]] = []
        for _ in range(MAX_OCCURRENCES // 100):
            if url is None:
                return out
            page = self.http.call(Request("GET", url), "list occurrences") or {}
            out += list(page.get("value") or [])
            url = page.get("@odata.nextLink")
        return out

    def horizon(self, fields: Mapping[str, Any], stamps: Mapping[str, str]) -> str:
        """How far a series' exceptions are read: the window's end, or further when the hub
        wrote an exception beyond it."""
        end = self.window()[1]
        key = end.strftime("%Y%m%dT%H%M%SZ") if "date" not in fields["start"] else end.strftime("%Y%m%d")
        return max(key, stamps.get(mapping.HUB_HORIZON) or "")

    def series_exceptions(self, master: Mapping[str, Any], fields: Mapping[str, Any],
                          stamps: Mapping[str, str]) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """(EXDATE keys, overrides) of a series master."""
        until = self.horizon(fields, stamps)
        all_day = "date" in fields["start"]
        present: dict[str, dict[str, Any]] = {}
        for inst in self.instances(str(master["id"]), until):
            original = inst.get("originalStart")
            if original:
                key = instance_key(str(original), all_day, master.get("originalStartTimeZone"))
                present[key] = inst
        expected = occurrence_keys(fields["rrule"], fields["start"], until)
        exdates = sorted(k for k in expected if k not in present)
        overrides: dict[str, dict[str, Any]] = {}
        for key, inst in present.items():
            if inst.get("type") != "exception":
                continue
            got = {k: v for k, v in mapping.read_fields(inst, stamps).items() if k != "last_modified"}
            if got != generated_occurrence(fields, key):
                overrides[key] = got
        return exdates, overrides

    # --- writing ---------------------------------------------------------------------------

    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        from .writes import Writer
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


def _key_end(key: str) -> datetime:
    day = datetime.strptime(key[:8], "%Y%m%d").replace(tzinfo=UTC)
    return day + timedelta(days=2)


def instance_key(original_start: str, all_day: bool, zone: str | None = None) -> str:
    """Occurrence key of an instance's ``originalStart`` (a DateTimeOffset). An all-day
    series' key is the date in the series' own zone (``zone``, as Graph names it): its
    midnight is a UTC instant of the day before east of Greenwich."""
    text = re.sub(r"\.\d+", "", original_start.replace("Z", "+00:00"))
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if all_day:
        iana = resolve_tzid(zone) if zone else None
        local = moment.astimezone(ZoneInfo(iana)) if iana else moment
        return local.strftime("%Y%m%d")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def occurrence_keys(rule: str, start: Mapping[str, str], until: str) -> list[str]:
    """Occurrence keys of a series in order, up to ``until`` (bounded)."""
    moment = as_moment(start)
    all_day = not isinstance(moment, datetime)
    dtstart = datetime.combine(moment, time(0)) if isinstance(moment, date) and all_day else moment
    keys: list[str] = []
    for n, occ in enumerate(walk(rule, dtstart)):
        key = compact_key(time_value(occ.date() if all_day else occ, None))
        if key > until or n >= MAX_OCCURRENCES:
            break
        keys.append(key)
    return keys


def generated_occurrence(master: Mapping[str, Any], key: str) -> dict[str, Any]:
    """The fields the occurrence ``key`` of a series has when nobody changed it."""
    start = mapping.occurrence_start(key, master["start"])
    moment = as_moment(start)
    end_moment = moment + mapping.duration(master)
    end = (time_value(end_moment, master["start"].get("tz")) if isinstance(end_moment, datetime)
           else {"date": end_moment.isoformat()})
    skip = {"rrule", "exdates", "rdates", "last_modified"}
    return {**{k: v for k, v in master.items() if k not in skip}, "start": start, "end": end}
