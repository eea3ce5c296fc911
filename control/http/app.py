"""The HTTP side of the control plane as an aiohttp application.

Open routes: ``/healthz`` (the process serves), ``/readyz`` (the runtime and the store
answer), ``/signin``, ``/static/*``. ``/metrics`` needs ``Authorization: Bearer <control
token>`` (Prometheus' ``authorization`` setting). Everything else needs a console session.

Guarantees (enforced in :func:`guard` for every route): no page without a session (a browser
is sent to ``/signin``, anything else gets 401); no state-changing request (POST) without the
session's CSRF token; no token or password ever read from a URL (sign-in takes POST bodies
only); every answer carries a strict Content-Security-Policy (scripts and styles only from
``/static``), ``X-Frame-Options: DENY`` and ``Cache-Control: no-store``. Errors of the
project's hierarchy become a page naming what was wrong; anything else is logged and shown as
a generic failure, never a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

from cirahub.control.http import pages, wizard
from cirahub.control.http.auth import (
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    csrf_ok,
    secret_matches,
)
from cirahub.control.http.context import CONSOLE_KEY, STATIC, Console, console_of
from cirahub.control.http.metrics import CONTENT_TYPE
from cirahub.core.errors import AlreadyExists, CirahubError, InvalidInput, NotFound

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = ("/healthz", "/readyz", "/signin", "/metrics")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
MAX_BODY = 256 * 1024
STATUS = {InvalidInput: 400, NotFound: 404, AlreadyExists: 409}
def _wants_html(request: web.Request) -> bool:
    return "text/html" in request.headers.get("Accept", "")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = console_of(request)
    path = request.path
    if not (path in OPEN_PATHS or path.startswith("/static/")):
        session = ctx.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            if request.method == "GET" and _wants_html(request):
                raise web.HTTPSeeOther("/signin")
            return _plain(401, "sign in first")
        request["session"] = session
        if request.method not in ("GET", "HEAD"):
            given = request.headers.get("X-CSRF-Token")
            if given is None:
                form = await request.post()
                given = str(form.get("csrf") or "")
            if not csrf_ok(session.csrf, given):
                return _plain(403, "the form's CSRF token is missing or wrong: reload the page "
                              "and try again")
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    except CirahubError as exc:
        status = next((code for kind, code in STATUS.items() if isinstance(exc, kind)), 503
                      if exc.retryable else 400)
        response = ctx.render(request, "error.html", status=status, message=exc.message)
    except Exception:
        log.exception("console: %s %s failed", request.method, path)
        response = ctx.render(request, "error.html", status=500,
                              message="the server failed to answer this request; see its log")
    _harden(response)
    if isinstance(response, web.HTTPException) and response.status >= 300:
        raise response
    return response


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n")


def _harden(response: web.StreamResponse) -> None:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Cache-Control", "no-store")


def set_cookie(ctx: Console, response: web.StreamResponse, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, httponly=True, samesite="Strict", secure=ctx.tls,
                        path="/", max_age=max_age)


# --- sign-in -----------------------------------------------------------------------------


async def signin_page(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    if ctx.sessions.get(request.cookies.get(SESSION_COOKIE)) is not None:
        raise web.HTTPSeeOther("/")
    return _signin_form(request, ctx, "")


def _signin_form(request: web.Request, ctx: Console, error: str,
                 status: int = 200) -> web.Response:
    token = secrets.token_urlsafe(32)
    request["signin_csrf"] = token
    response = ctx.render(request, "signin.html", status=status, error=error)
    set_cookie(ctx, response, SIGNIN_COOKIE, token, max_age=3600)
    return response


def client_of(request: web.Request) -> str:
    return request.remote or "unknown"


async def signin(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    client = client_of(request)
    wait = ctx.limiter.retry_after(client)
    if wait:
        response = _signin_form(request, ctx, f"too many failed sign-ins: try again in {wait} "
                                "seconds", status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    form = await request.post()
    cookie = request.cookies.get(SIGNIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, str(form.get("csrf") or "")):
        return _signin_form(request, ctx, "the sign-in form expired: try again", status=403)
    secret = str(form.get("secret") or "")
    if not await ctx.call(secret_matches, secret, ctx.token, ctx.data_dir):
        ctx.limiter.failed(client)
        log.info("console: failed sign-in from %s", client)
        return _signin_form(request, ctx, "wrong token or password", status=401)
    ctx.limiter.succeeded(client)
    sid, _ = ctx.sessions.create()
    response = web.HTTPSeeOther("/")
    set_cookie(ctx, response, SESSION_COOKIE, sid)
    response.del_cookie(SIGNIN_COOKIE, path="/")
    log.info("console: signed in from %s", client)
    return response


async def signout(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    ctx.sessions.end(request.cookies.get(SESSION_COOKIE))
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# --- health and metrics ------------------------------------------------------------------


async def healthz(request: web.Request) -> web.StreamResponse:
    return _plain(200, "ok")


async def readyz(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    try:
        await asyncio.wait_for(ctx.call(ctx.handlers.status, ""), timeout=10)
    except Exception as exc:
        return _plain(503, f"not ready: {type(exc).__name__}")
    return _plain(200, "ready")


async def metrics(request: web.Request) -> web.StreamResponse:
    ctx = console_of(request)
    given = request.headers.get("Authorization", "").encode()
    if not hmac.compare_digest(given, f"Bearer {ctx.token}".encode()):
        return _plain(401, "metrics need 'Authorization: Bearer <control token>'")
    body = await ctx.call(ctx.metrics.render)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


# --- live events -------------------------------------------------------------------------


async def event_stream(request: web.Request) -> web.StreamResponse:
    """Server-sent events: every runtime event as JSON, ``id`` = its sequence number."""
    ctx = console_of(request)
    sub = ctx.pump.subscribe(asyncio.get_running_loop())
    if sub is None:
        return _plain(503, "too many live pages open")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-store"})
    _harden(response)
    await response.prepare(request)
    try:
        await response.write(b"retry: 3000\n: connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), timeout=15)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            await response.write(f"id: {event.seq}\ndata: {event.to_json()}\n\n".encode())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        ctx.pump.unsubscribe(sub)
    return response


def build_app(ctx: Console) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY)
    app[CONSOLE_KEY] = ctx
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/signin", signin_page)
    app.router.add_post("/signin", signin)
    app.router.add_post("/signout", signout)
    app.router.add_get("/events/stream", event_stream)
    app.router.add_static("/static/", STATIC, follow_symlinks=False)
    pages.register(app.router)
    wizard.register(app.router)
    return app
