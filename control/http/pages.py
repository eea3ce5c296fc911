"""Console pages: the dashboard of hubs and spokes, and what can be done to one spoke.

Every action is a POST form (CSRF-checked by the guard) answered with a redirect, so each
works without JavaScript; with it, the dashboard refreshes itself from the live event stream.
All of them call :class:`~cirahub.control.handlers.Handlers`, the same code the gRPC API runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from cirahub.connectors.kinds import all_kinds
from cirahub.control.http import views
from cirahub.control.http.auth import MAX_SECRET
from cirahub.control.http.context import Snapshot, console_of, session_of, when
from cirahub.control.http.forms import (
    PERMISSIONS,
    PRIVATE_MODES,
    OptionsForm,
    echo_form,
    options_changes,
)
from cirahub.core.errors import InvalidInput

STATE_TEXT = {
    "ok": "OK", "idle": "waiting for its first run", "running": "syncing",
    "backoff": "backing off after errors", "halted": "halted", "error": "error",
    "disabled": "disabled", "unassigned": "starting",
}


def spoke_url(hub: str, spoke: str, action: str = "") -> str:
    base = f"/hubs/{quote(hub, safe='')}/spokes/{quote(spoke, safe='')}"
    return f"{base}/{action}" if action else base


@dataclass(frozen=True)
class SpokeRow:
    hub: str
    name: str
    kind: str
    state: str
    state_text: str
    enabled: bool
    last_run: str
    last_status: str
    next_run: str
    linked: int
    problem: str
    url: str


def row_of(s: Any) -> SpokeRow:
    last = s.last_run or {}
    problem = s.halted_reason or ((s.last_error or {}).get("message") or "")
    state_text: str = STATE_TEXT.get(s.state) or str(s.state)
    if s.state == "backoff" and s.next_run_at:
        state_text += f" (next retry {when(s.next_run_at)})"
    return SpokeRow(
        hub=s.hub, name=s.name, kind=s.kind, state=s.state, state_text=state_text,
        enabled=s.enabled, last_run=when(last.get("finished_at") or last.get("started_at")),
        last_status=str(last.get("status") or ""), next_run=when(s.next_run_at),
        linked=int(s.linked_items or 0), problem=str(problem), url=spoke_url(s.hub, s.name),
    )


def dashboard_data(handlers: Any) -> list[dict[str, Any]]:
    statuses = handlers.status("")
    out = []
    for hub in handlers.list_hubs():
        rows = [row_of(s) for s in statuses if s.hub_id == hub.id]
        out.append({"name": hub.name, "policy": str(getattr(hub.policy, "value", hub.policy)),
                    "item_count": handlers.hub_item_count(hub.name), "spokes": rows,
                    "sync_url": f"/hubs/{quote(hub.name, safe='')}/sync"})
    return out


def _dashboard(ctx: Any) -> list[dict[str, Any]]:
    snapshot = ctx.cache.get("dashboard")
    if snapshot is None:
        snapshot = ctx.cache.setdefault("dashboard", Snapshot(lambda: dashboard_data(ctx.handlers)))
    value: list[dict[str, Any]] = snapshot.get()
    return value


async def dashboard(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hubs = await ctx.call(_dashboard, ctx)
    return ctx.render(request, "dashboard.html", hubs=hubs, title="Dashboard")


async def hubs_partial(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hubs = await ctx.call(_dashboard, ctx)
    return ctx.render(request, "_hubs.html", hubs=hubs)


def _names(request: web.Request) -> tuple[str, str]:
    return request.match_info["hub"], request.match_info.get("spoke", "")


def _back(request: web.Request, message: str, to: str = "/") -> web.StreamResponse:
    """After an action: back to ``to`` with ``message`` shown there; an htmx request (the
    page stays, so its live stream stays connected) gets the message alone."""
    for snapshot in console_of(request).cache.values():
        snapshot.invalidate()  # the next page shows the change
    if request.headers.get("HX-Request") == "true":
        return console_of(request).render(request, "_flash.html", flash_now=[message])
    session_of(request).flash.append(message)
    return web.HTTPSeeOther(to)


async def sync_now(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _names(request)
    # NotFound / disabled checks first, so the operator hears about them now
    if spoke:
        record = await ctx.call(ctx.handlers.get_spoke, hub, spoke)
        if not record.options.enabled:
            raise InvalidInput(f"spoke {spoke!r} of hub {hub!r} is disabled; enable it first")
    else:
        await ctx.call(ctx.handlers.get_hub, hub)
    started = ctx.start_sync(hub, spoke)
    what = f"spoke {spoke!r} of hub {hub!r}" if spoke else f"hub {hub!r}"
    return _back(request, f"sync started: {what}" if started else
                 f"a sync of {what} is already running")


async def enable(request: web.Request) -> web.StreamResponse:
    return await _set_enabled(request, True)


async def disable(request: web.Request) -> web.StreamResponse:
    return await _set_enabled(request, False)


async def _set_enabled(request: web.Request, on: bool) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _names(request)
    await ctx.call(ctx.handlers.set_enabled, hub, spoke, on)
    return _back(request, f"{'enabled' if on else 'disabled'} spoke {spoke!r} of hub {hub!r}")


async def spoke_page(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _names(request)
    record = await ctx.call(ctx.handlers.get_spoke, hub, spoke)
    status = next((s for s in await ctx.call(ctx.handlers.status, hub) if s.name == spoke),
                  None)
    runs = await ctx.call(ctx.handlers.runs, hub, spoke, 10)
    return ctx.render(
        request, "spoke.html", title=f"Spoke {spoke}", hub=hub, spoke=record,
        row=row_of(status) if status else None, runs=[views.run_row(r, hub, spoke)
                                                       for r in runs],
        halt=record.halt if record.halted_reason else None,
        url=spoke_url(hub, spoke), options=OptionsForm.of(record.options),
        config=sorted((k, v) for k, v in record.config.items()),
    )


async def _halt_id(request: web.Request) -> str:
    """The halt the operator was shown: the answer is bound to it (a newer halt refuses)."""
    halt_id = str((await request.post()).get("halt_id") or "")
    if not halt_id:
        raise InvalidInput("the form names no halt: reload the spoke's page", field="halt")
    return halt_id[:64]


async def confirm(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _names(request)
    _, halt = await ctx.call(ctx.handlers.confirm_deletes, hub, spoke, await _halt_id(request))
    return _back(request, f"confirmed halt {halt.id}: the next run of spoke {spoke!r} applies "
                 f"exactly these {halt.deleting} deletions", spoke_url(hub, spoke))


async def restore(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _names(request)
    _, halt, recreated = await ctx.call(ctx.handlers.restore, hub, spoke,
                                        await _halt_id(request))
    return _back(request, f"restoring halt {halt.id}: the next run writes {recreated} items "
                 f"back into spoke {spoke!r}", spoke_url(hub, spoke))


async def options_page(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _names(request)
    record = await ctx.call(ctx.handlers.get_spoke, hub, spoke)
    return _options_form(request, hub, record, OptionsForm.of(record.options), {})


def _options_form(request: web.Request, hub: str, record: Any, form: Any,
                  errors: dict[str, str], status: int = 200) -> web.Response:
    spec = all_kinds().get(record.kind)
    secret_what = spec.secret.what if spec is not None and spec.secret is not None else ""
    return console_of(request).render(
        request, "options.html", status=status, title=f"Sync Options of {record.name}",
        hub=hub, spoke=record.name, form=form, errors=errors, permissions=PERMISSIONS,
        private_modes=PRIVATE_MODES, url=spoke_url(hub, record.name, "options"),
        secret_what=secret_what, has_secret=bool(record.has_secret))


async def save_options(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _names(request)
    posted = await request.post()
    changes, errors = options_changes(posted)
    if errors:
        record = await ctx.call(ctx.handlers.get_spoke, hub, spoke)
        return _options_form(request, hub, record, echo_form(posted), errors, status=400)
    # like `spoke options --password-env`: a new secret only when one is typed
    secret = str(posted.get("new_secret") or "")[:MAX_SECRET] or None
    await ctx.call(ctx.handlers.update_spoke, hub, spoke, changes, secret)
    return _back(request, f"saved the sync options of spoke {spoke!r}", spoke_url(hub, spoke))


async def remove_page(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _names(request)
    record = await ctx.call(ctx.handlers.get_spoke, hub, spoke)
    return ctx.render(request, "remove.html", title=f"Remove {spoke}", hub=hub, spoke=record,
                      url=spoke_url(hub, spoke, "remove"))


async def remove(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    hub, spoke = _names(request)
    await ctx.call(ctx.handlers.remove_spoke, hub, spoke)
    await ctx.call(ctx.metrics.sync)
    return _back(request, f"removed spoke {spoke!r} from hub {hub!r}; nothing in its calendar "
                 "was deleted")


def register(router: web.UrlDispatcher) -> None:
    spoke = "/hubs/{hub}/spokes/{spoke}"
    router.add_get("/", dashboard)
    router.add_get("/partials/hubs", hubs_partial)
    router.add_post("/hubs/{hub}/sync", sync_now)
    router.add_get(spoke, spoke_page)
    router.add_post(spoke + "/sync", sync_now)
    router.add_post(spoke + "/enable", enable)
    router.add_post(spoke + "/disable", disable)
    router.add_post(spoke + "/confirm", confirm)
    router.add_post(spoke + "/restore", restore)
    router.add_get(spoke + "/options", options_page)
    router.add_post(spoke + "/options", save_options)
    router.add_get(spoke + "/remove", remove_page)
    router.add_post(spoke + "/remove", remove)
    views.register(router)
