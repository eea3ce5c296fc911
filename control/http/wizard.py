"""The "Add a spoke" wizard: object type → source type → connection (with "Test connection")
→ calendar → spoke name → hub (new or existing) → sync options → Create.

One form per step, POSTed to ``/wizard``; the draft lives in the server-side session only (a
password typed in step 3 is never rendered back into a page). Every step is validated when
left, by the same code the API uses (``check_spoke_input``, ``SyncOptions``,
``Handlers.test_connection``), and errors are shown next to the field they concern. Nothing is
stored before Create; Create checks everything once more, then creates the hub (when new) and
attaches the spoke.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from cirahub.connectors.kinds import FieldType, all_kinds, get_kind
from cirahub.control.http.context import console_of, session_of
from cirahub.control.http.forms import (
    PERMISSIONS,
    PRIVATE_MODES,
    OptionsForm,
    echo_form,
    field_of,
    options_changes,
)
from cirahub.control.spoke_checks import check_spoke_input
from cirahub.core.errors import CirahubError, InvalidInput
from cirahub.core.options import SyncOptions

STEPS = ("object", "source", "connection", "calendar", "name", "hub", "options", "review")
STEP_TITLES = {"object": "What to sync", "source": "Source type", "connection": "Connection",
               "calendar": "Calendar", "name": "Spoke name", "hub": "Hub",
               "options": "Sync options", "review": "Review and create"}
MAX_VALUE = 2000
#: the config field the calendar step fills, per kind (kinds not listed have no such step)
PICK_FIELD = {"vdir": "path", "caldav": "calendar", "ews-public-folder": "folder",
              "ews-mailbox": "calendar", "graph": "calendar"}


@dataclass(frozen=True)
class Field:
    """A connection field as the wizard shows it (from the kind's registration)."""

    name: str
    label: str
    kind: str = "text"  # text | password | checkbox
    required: bool = False
    hint: str = ""
    stored_key: str = ""
    inverted: bool = False


def kinds() -> list[tuple[str, str]]:
    """Every spoke kind this installation registers, with its summary (``memory`` is for
    tests)."""
    return [(k.name, f"{k.name}: {k.summary}") for k in all_kinds().values()
            if k.name != "memory"]


def kind_label(kind: str) -> str:
    spec = all_kinds().get(kind)
    return f"{spec.name}: {spec.summary}" if spec else kind


def pick_field(kind: str) -> str | None:
    spec = all_kinds().get(kind)
    name = PICK_FIELD.get(kind)
    return name if spec is not None and name and spec.field_named(name) else None


def connection_fields(kind: str) -> tuple[Field, ...]:
    """The kind's CLI config fields (but the one the calendar step picks, unless it is the
    only way to name the calendar), then its secret."""
    spec = get_kind(kind)
    pick = pick_field(kind)
    out: list[Field] = []
    for f in spec.fields:
        if not f.cli or (f.name == pick and not f.required):
            continue
        out.append(Field(f.name, f.name.replace("_", " ").capitalize(),
                         "checkbox" if f.type is FieldType.SWITCH else "text",
                         f.required, f.help, f.stored_key, f.inverted))
    if spec.secret is not None:
        out.append(Field("password", spec.secret.what.capitalize(), "password",
                         hint="Stored encrypted; never shown again."))
    return tuple(out)


def _draft(request: web.Request) -> dict[str, Any]:
    wizard = session_of(request).wizard
    wizard.setdefault("step", "object")
    return wizard


def config_of(kind: str, values: dict[str, str], pick: str, pick_key: str = "") -> dict[str, Any]:
    """The spoke config (stored connector keys) from the connection fields and the picked
    calendar."""
    out: dict[str, Any] = {}
    for f in connection_fields(kind):
        value = values.get(f.name, "")
        if f.kind == "password" or not value:
            continue
        if f.kind == "checkbox":
            out[f.stored_key] = not f.inverted
        else:
            out[f.stored_key] = value
    name = pick_key or pick_field(kind)
    if pick and name:
        spec = get_kind(kind).field_named(name)
        out[spec.stored_key if spec else name] = pick
    return out


def _field_for(kind: str, exc: CirahubError) -> str:
    """The wizard field an error concerns (config errors name the stored key)."""
    key = str(exc.fields.get("key") or exc.fields.get("field") or "")
    fields = connection_fields(kind)
    key = next((f.name for f in fields if f.stored_key == key), key)
    if key == "secret":
        return "password"
    if key == pick_field(kind) and key not in {f.name for f in fields}:
        return "pick"
    return key if key in {f.name for f in fields} else "form"


async def page(request: web.Request) -> web.StreamResponse:
    draft = _draft(request)
    if request.query.get("restart"):
        draft.clear()
        draft["step"] = "object"
    return await _show(request, draft, {})


async def _show(request: web.Request, draft: dict[str, Any], errors: dict[str, str],
                status: int = 200, note: str = "") -> web.Response:
    ctx = console_of(request)
    step = draft["step"]
    hubs = [h.name for h in await ctx.call(ctx.handlers.list_hubs)] if step == "hub" else []
    kind = str(draft.get("kind") or "")
    opts = draft.get("options_form") or OptionsForm.of(SyncOptions())
    return ctx.render(
        request, "wizard.html", status=status, title="Add a spoke", step=step, steps=STEPS,
        step_titles=STEP_TITLES, index=STEPS.index(step), draft=draft, errors=errors,
        note=note, kinds=kinds(), kind=kind, kind_label=kind_label(kind) if kind else "",
        fields=connection_fields(kind) if kind else (), has_pick=bool(pick_field(kind)), values=draft.get("values") or {},
        choices=draft.get("choices") or [], hubs=hubs, form=opts, permissions=PERMISSIONS,
        private_modes=PRIVATE_MODES, has_secret=bool(draft.get("secret")),
        config=sorted(config_of(kind, draft.get("values") or {}, str(draft.get("pick") or ""),
                                str(draft.get("pick_key") or "")).items()) if kind else [],
    )


async def submit(request: web.Request) -> web.StreamResponse:
    draft = _draft(request)
    form = await request.post()
    action = "open" if "open" in form else str(form.get("action") or "next")
    if action == "restart":
        draft.clear()
        draft["step"] = "object"
        return await _show(request, draft, {})
    if str(form.get("step") or "") != draft["step"]:
        return await _show(request, draft, {"form": "this step was already submitted in "
                                                    "another tab; continue here"}, 409)
    if action == "back":
        draft["step"] = _previous(draft)
        return await _show(request, draft, {})
    step = draft["step"]
    errors, note = await STEP_HANDLERS[step](request, draft, form, action)
    if errors or action in ("test", "open"):
        return await _show(request, draft, errors, 400 if errors else 200, note)
    if step == "review":
        draft.clear()
        session_of(request).flash.append(note)
        raise web.HTTPSeeOther("/")
    draft["step"] = _next(draft)
    return await _show(request, draft, {}, note=note)


def _next(draft: dict[str, Any]) -> str:
    i = STEPS.index(draft["step"]) + 1
    if STEPS[i] == "calendar" and not pick_field(str(draft.get("kind") or "")):
        i += 1
    return STEPS[i]


def _previous(draft: dict[str, Any]) -> str:
    i = max(0, STEPS.index(draft["step"]) - 1)
    if STEPS[i] == "calendar" and not pick_field(str(draft.get("kind") or "")):
        i -= 1
    return STEPS[i]


def _text(form: Any, name: str) -> str:
    return str(form.get(name) or "").strip()[:MAX_VALUE]


async def _object(request: web.Request, draft: dict[str, Any], form: Any,
                  action: str) -> tuple[dict[str, str], str]:
    if _text(form, "object_type") != "calendar":
        return {"object_type": "choose Calendars (contacts are coming later)"}, ""
    draft["object_type"] = "calendar"
    return {}, ""


async def _source(request: web.Request, draft: dict[str, Any], form: Any,
                  action: str) -> tuple[dict[str, str], str]:
    kind = _text(form, "kind")
    if kind not in dict(kinds()):
        return {"kind": "choose the kind of calendar to attach"}, ""
    if kind != draft.get("kind"):
        draft.update(kind=kind, values={}, secret="", choices=[], pick="", pick_key="")
    return {}, ""


async def _connection(request: web.Request, draft: dict[str, Any], form: Any,
                      action: str) -> tuple[dict[str, str], str]:
    kind = draft["kind"]
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in connection_fields(kind):
        value = "on" if f.kind == "checkbox" and form.get(f.name) == "on" else _text(form, f.name)
        if f.name == "password":
            if value:
                draft["secret"] = value
            continue
        values[f.name] = value
        if f.required and not value:
            errors[f.name] = f"{f.label} is required"
    draft["values"] = values
    if errors:
        return errors, ""
    return await _reach(request, draft, "")


async def _reach(request: web.Request, draft: dict[str, Any],
                 under: str) -> tuple[dict[str, str], str]:
    """Reach the calendar: the kind's discovery (the DiscoverCalendars handler) when it has
    one, else ``test_connection``; fills the picker's choices."""
    ctx = console_of(request)
    kind = draft["kind"]
    values = draft.get("values") or {}
    secret = str(draft.get("secret") or "") or None
    config = config_of(kind, values, "")
    try:
        if get_kind(kind).discover is not None:
            page = await ctx.call(ctx.handlers.discover, kind, config, secret, under)
            draft["choices"] = [_choice(c) for c in page.calendars]
            draft["under"] = under
            more = " (more than shown: type the rest)" if page.next_offset is not None else ""
            message = f"connected: {len(page.calendars)} found{more}"
        else:
            check = await ctx.call(ctx.handlers.test_connection, kind, config, secret)
            if not check.ok:
                where = check.error_field if check.error_field in values else (
                    "password" if check.error_code.startswith("auth") else "form")
                return {where: f"cannot connect: {check.message}"}, ""
            draft["choices"] = [(c.value, c.label, True, c.key) for c in check.choices]
            message = check.message
    except InvalidInput as exc:
        return {_field_for(kind, exc): exc.message}, ""
    except CirahubError as exc:
        where = "password" if exc.code.startswith("auth") else "form"
        return {where: f"cannot connect: {exc.message}"}, ""
    calendars = [c for c in draft["choices"] if c[2]]
    if len(calendars) == 1 and len(draft["choices"]) == 1:
        draft["pick"], draft["pick_key"] = calendars[0][0], calendars[0][3]
    return {}, message


def _choice(c: Any) -> tuple[str, str, bool, str]:
    """(value, label, is a calendar, config key) of one discovered calendar or folder."""
    label = c.display_name or c.path
    if c.owner:
        label += f" (of {c.owner})"
    if c.item_count is not None:
        label += f" ({c.item_count} items)"
    if not c.writable:
        label += " (read-only)"
    if not c.is_calendar:
        label += f" (folder: {c.child_count} inside)"
    return (c.path, label, bool(c.is_calendar), c.key)


async def _calendar(request: web.Request, draft: dict[str, Any], form: Any,
                    action: str) -> tuple[dict[str, str], str]:
    if action == "open":  # list inside a folder (tree-shaped kinds: public folders)
        return await _reach(request, draft, _text(form, "open"))
    pick = _text(form, "manual") or _text(form, "pick")
    if not pick:
        return {"pick": "choose a calendar, or type its name"}, ""
    chosen = next((c for c in draft.get("choices") or [] if c[0] == pick), None)
    draft["pick"] = pick
    draft["pick_key"] = chosen[3] if chosen else ""
    label = chosen[1] if chosen else pick
    draft.setdefault("spoke", "")
    if not draft["spoke"]:
        draft["spoke"] = _suggest(label)
    return {}, ""


def _suggest(label: str) -> str:
    base = label.split(" (")[0].rstrip("/").rpartition("/")[2] or label
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in base.lower()).strip("-")[:40]


async def _name(request: web.Request, draft: dict[str, Any], form: Any,
                action: str) -> tuple[dict[str, str], str]:
    name = _text(form, "spoke")
    if not name:
        return {"spoke": "a spoke name is required"}, ""
    draft["spoke"] = name
    return {}, ""


async def _hub(request: web.Request, draft: dict[str, Any], form: Any,
               action: str) -> tuple[dict[str, str], str]:
    ctx = console_of(request)
    mode = _text(form, "hub_mode")
    existing = [h.name for h in await ctx.call(ctx.handlers.list_hubs)]
    if mode == "existing":
        hub = _text(form, "hub_existing")
        if hub not in existing:
            return {"hub_existing": "choose one of the hubs"}, ""
    elif mode == "new":
        hub = _text(form, "hub_new")
        if not hub:
            return {"hub_new": "a hub name is required"}, ""
        if hub in existing:
            return {"hub_new": f"hub {hub!r} already exists: choose it under 'existing'"}, ""
    else:
        return {"hub_mode": "choose a new or an existing hub"}, ""
    draft.update(hub_mode=mode, hub=hub)
    return {}, ""


async def _options(request: web.Request, draft: dict[str, Any], form: Any,
                   action: str) -> tuple[dict[str, str], str]:
    changes, errors = options_changes(form)
    draft["options_form"] = echo_form(form)
    draft["options"] = changes
    return errors, ""


async def _review(request: web.Request, draft: dict[str, Any], form: Any,
                  action: str) -> tuple[dict[str, str], str]:
    ctx = console_of(request)
    kind, hub, spoke = draft["kind"], draft["hub"], draft["spoke"]
    config = config_of(kind, draft.get("values") or {}, str(draft.get("pick") or ""),
                       str(draft.get("pick_key") or ""))
    secret = str(draft.get("secret") or "") or None
    try:
        check_spoke_input(kind, config, secret)
        SyncOptions.from_dict(draft.get("options") or {})
        if draft["hub_mode"] == "new":
            await ctx.call(ctx.handlers.create_hub, hub, "", draft.get("object_type", ""))
        await ctx.call(ctx.handlers.add_spoke, hub, spoke, kind, config,
                       draft.get("options") or {}, secret)
    except InvalidInput as exc:
        option = exc.fields.get("option")
        return {field_of(exc) if option else _field_for(kind, exc): exc.message}, ""
    except CirahubError as exc:
        return {"form": exc.message}, ""
    await ctx.call(ctx.metrics.sync)
    for snapshot in ctx.cache.values():
        snapshot.invalidate()
    return {}, f"attached spoke {spoke!r} ({kind}) to hub {hub!r}"


STEP_HANDLERS = {"object": _object, "source": _source, "connection": _connection,
                 "calendar": _calendar, "name": _name, "hub": _hub, "options": _options,
                 "review": _review}


def register(router: web.UrlDispatcher) -> None:
    router.add_get("/wizard", page)
    router.add_post("/wizard", submit)
