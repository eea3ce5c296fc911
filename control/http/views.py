"""Read-only console pages: conflicts, quarantine, run history (with its chart), events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from cirahub.control.http import chart
from cirahub.control.http.context import console_of, when

MAX_RUNS = 500
MAX_CONFLICTS = 200
STATUSES = ("ok", "partial", "error", "halted", "skipped")


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


@dataclass(frozen=True)
class FieldRow:
    field: str
    base: str
    hub: str
    spoke: str
    winner: str
    differs: bool


@dataclass(frozen=True)
class ConflictView:
    hub: str
    spoke: str
    uid: str
    kind: str
    at: str
    fields: list[FieldRow]
    versions: list[FieldRow]  # whole items side by side: losing version vs the hub's now


def conflict_view(entry: Any, current: Any, names: Any) -> ConflictView:
    rows = [FieldRow(str(f.get("field", "")), _text(f.get("base")), _text(f.get("hub_value")),
                     _text(f.get("spoke_value")), str(f.get("winner", "")),
                     f.get("hub_value") != f.get("spoke_value")) for f in entry.fields]
    losing = _flat(dict(entry.losing_item or {}))
    now = _flat(current.item.to_json() if current is not None and current.item else {})
    keys = sorted(set(losing) | set(now))
    versions = [FieldRow(k, "", _text(now.get(k)), _text(losing.get(k)), "",
                         now.get(k) != losing.get(k)) for k in keys]
    return ConflictView(names.hub(entry.hub_id), names.spoke(entry.spoke_id), entry.uid,
                        entry.kind, when(entry.created_at), rows, versions)


def _flat(item: dict[str, Any]) -> dict[str, Any]:
    """An item's JSON form with its ``fields`` spread out, so each field gets its own row."""
    fields = item.pop("fields", None)
    return {**(fields if isinstance(fields, dict) else {}), **item}


def _filters(request: web.Request) -> tuple[str, str]:
    return request.query.get("hub", "")[:200], request.query.get("spoke", "")[:200]


async def conflicts(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _filters(request)

    def load() -> list[ConflictView]:
        names = ctx.handlers.names()
        return [conflict_view(e, c, names)
                for e, c in ctx.handlers.conflicts(hub, spoke, MAX_CONFLICTS)]

    return ctx.render(request, "conflicts.html", title="Conflicts",
                      conflicts=await ctx.call(load), hub=hub, spoke=spoke)


async def quarantine(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _filters(request)

    def load() -> list[dict[str, str]]:
        names = ctx.handlers.names()
        hub_of = {s.id: s.hub_id for s in ctx.handlers.list_spokes("")}
        return [{"hub": names.hub(hub_of.get(q.spoke_id)), "spoke": names.spoke(q.spoke_id),
                 "remote_id": q.remote_id, "uid": q.uid or "", "reason": q.reason,
                 "detail": q.detail, "last_seen": when(q.last_seen)}
                for q in ctx.handlers.quarantine(hub, spoke)]

    return ctx.render(request, "quarantine.html", title="Quarantine",
                      entries=await ctx.call(load), hub=hub, spoke=spoke)


@dataclass(frozen=True)
class RunRow:
    hub: str
    spoke: str
    trigger: str
    status: str
    started: str
    started_at: datetime
    seconds: float | None
    counts: str
    error: str


def run_row(run: Any, hub: str, spoke: str) -> RunRow:
    seconds = ((run.finished_at - run.started_at).total_seconds()
               if run.finished_at is not None else None)
    counts = ", ".join(f"{k} {v}" for k, v in sorted((run.counts or {}).items()) if v)
    return RunRow(hub, spoke, run.trigger, run.status, when(run.started_at), run.started_at,
                  seconds, counts, str((run.error or {}).get("message") or ""))


async def runs(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _filters(request)
    status = request.query.get("status", "")
    try:
        limit = max(1, min(MAX_RUNS, int(request.query.get("limit", "100"))))
    except ValueError:
        limit = 100

    def load() -> tuple[list[RunRow], list[Any]]:
        names = ctx.handlers.names()
        rows = [run_row(r, names.hub(r.hub_id), names.spoke(r.spoke_id))
                for r in ctx.handlers.runs(hub, spoke, limit)]
        return [r for r in rows if not status or r.status == status], ctx.handlers.list_hubs()

    rows, hubs = await ctx.call(load)
    return ctx.render(request, "runs.html", title="Run history", runs=rows, hub=hub,
                      spoke=spoke, status_filter=status, statuses=STATUSES, limit=limit,
                      hubs=[h.name for h in hubs], chart=chart.runs_svg(rows))


async def events(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    recent = list(reversed(ctx.pump.recent))[:100]
    return ctx.render(request, "events.html", title="Events", events=recent)


def register(router: web.UrlDispatcher) -> None:
    router.add_get("/conflicts", conflicts)
    router.add_get("/quarantine", quarantine)
    router.add_get("/runs", runs)
    router.add_get("/events", events)
