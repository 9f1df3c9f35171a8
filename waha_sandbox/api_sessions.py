"""Routes for /ping, /health, /api/server/*, /api/sessions/* and /api/{session}/auth/*."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import qr
from .ids import now_ms, ulid
from .responses import empty, jresp, nest_error, session_does_not_exist, session_not_found, status_not_expected
from .sessions import SCAN_QR_CODE, STOPPED, Session
from .state import read_json, sandbox_of
from .validation import clean_config, validate_config, validate_name

routes = web.RouteTableDef()


# -- health and server ------------------------------------------------------------------------
@routes.get("/ping")
async def ping(request: web.Request) -> web.Response:
    return jresp({"message": "pong"})


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    down = sb.faults.unhealthy
    checks = {
        "media.files.space": {"status": "down" if down else "up", "path": "/tmp/whatsapp-files",  # noqa: S108 - reported only
                              "diskPath": "/", "free": 0 if down else 10_000, "threshold": 100},
        "sessions.space": {"status": "up", "path": "/app/.sessions", "diskPath": "/", "free": 10_000,
                           "threshold": 100},
    }
    if down:
        body = {"status": "error", "info": {"sessions.space": checks["sessions.space"]},
                "error": {"media.files.space": checks["media.files.space"]}, "details": checks}
        return jresp(body, 503)
    return jresp({"status": "ok", "info": checks, "error": {}, "details": checks})


@routes.get("/api/server/version")
@routes.get("/api/version")
async def version(request: web.Request) -> web.Response:
    return jresp(sandbox_of(request).settings.environment())


@routes.get("/api/server/status")
async def server_status(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    return jresp({"startTimestamp": sb.started, "uptime": now_ms() - sb.started, "worker": {"id": ""}})


# -- sessions -----------------------------------------------------------------------------------
def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


@routes.get("/api/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    show_all = _truthy(request.query.get("all"))
    engine = sb.settings.engine
    items = [s.info(engine) for s in sb.sessions.sessions.values() if show_all or s.status != STOPPED]
    return jresp(items)


@routes.post("/api/sessions")
async def create_session(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    if not isinstance(body, dict):
        return nest_error(400, ["body must be an object"])
    errors = []
    name = body.get("name")
    if name is not None:
        errors += validate_name(name)
    errors += validate_config(body.get("config"))
    if errors:
        return nest_error(400, errors)
    if not name:
        name = "session_" + ulid()
    if sb.sessions.get(name) is not None:
        return nest_error(422, f"Session '{name}' already exists. Use PUT to update it.")
    s = sb.sessions.create(name, clean_config(body.get("config")), body.get("apps"))
    if body.get("start") is True:
        sb.sessions.start(s)
    return jresp(s.dto(), 201)


@routes.get("/api/sessions/{session}")
async def get_session(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    s = sb.sessions.get(request.match_info["session"])
    if s is None:
        return session_not_found()
    return jresp(s.info(sb.settings.engine))


@routes.put("/api/sessions/{session}")
async def update_session(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    s = sb.sessions.get(request.match_info["session"])
    if s is None:
        return session_not_found()
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    if not isinstance(body, dict):
        return nest_error(400, ["body must be an object"])
    errors = validate_config(body.get("config"))
    if errors:
        return nest_error(400, errors)
    sb.sessions.update(s, clean_config(body.get("config")), body.get("apps"), "apps" in body)
    return jresp(s.dto())


@routes.delete("/api/sessions/{session}")
async def delete_session(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    name = request.match_info["session"]
    sb.sessions.delete(name)
    return empty(200)


def _action(fn_name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        sb = sandbox_of(request)
        name = request.match_info["session"]
        s = sb.sessions.get(name)
        if s is None:
            return session_not_found()
        if fn_name == "start":
            if s.running:
                return nest_error(422, f"Session '{name}' is already started.")
            sb.sessions.start(s)
        else:
            getattr(sb.sessions, fn_name)(s)
        return jresp(s.dto(), 201)

    return handler


for _verb in ("start", "stop", "logout", "restart"):
    routes.post(f"/api/sessions/{{session}}/{_verb}")(_action(_verb))


@routes.get("/api/sessions/{session}/me")
async def me(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    name = request.match_info["session"]
    s = sb.sessions.get(name)
    if s is None or not s.running:
        msg = (f"We didn't find a session with name '{name}'.\n"
               f"Please start it first by using POST /api/sessions/{name}/start request")
        return nest_error(404, msg)
    if s.me is None:
        return empty(200)  # NestJS turns a null result into an empty body
    return jresp(s.me)


# -- QR and pairing code ------------------------------------------------------------------------
async def _session_in(request: web.Request, wanted: str) -> Session | web.Response:
    """The session once it reached ``wanted``, or WAHA's error answer."""
    sb = sandbox_of(request)
    name = request.match_info["session"]
    s = sb.sessions.get(name)
    if s is None:
        return session_does_not_exist(name)
    await sb.sessions.wait_for(s, wanted)
    if s.status != wanted:
        return status_not_expected(name, s.status, [wanted])
    return s


@routes.get("/api/{session}/auth/qr")
async def auth_qr(request: web.Request) -> web.Response:
    s = await _session_in(request, SCAN_QR_CODE)
    if isinstance(s, web.Response):
        return s
    value = s.qr_value or ""
    if request.query.get("format") == "raw":
        return jresp({"value": value})
    png = qr.render_png(value)
    if request.headers.get("Accept") == "application/json":
        return jresp({"mimetype": "image/png", "data": base64.b64encode(png).decode()})
    return web.Response(body=png, content_type="image/png")


@routes.post("/api/{session}/auth/request-code")
async def request_code(request: web.Request) -> web.Response:
    sb = sandbox_of(request)
    name = request.match_info["session"]
    s = sb.sessions.get(name)
    if s is None:
        return session_does_not_exist(name)
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    await sb.sessions.wait_for(s, SCAN_QR_CODE)
    if s.status != SCAN_QR_CODE:
        return nest_error(422, f"Can request code only in SCAN_QR_CODE status. Current status: {s.status}")
    if isinstance(body, dict) and body.get("method") is not None:
        return nest_error(422, "Only web pairing is supported: 'method' must be null")
    return jresp({"code": qr.pairing_code()}, 201)


# -- deprecated body-based session endpoints ------------------------------------------------------
@routes.post("/api/sessions/start")
async def deprecated_start(request: web.Request) -> web.Response:
    """Upsert a session from ``{name, config}`` and start it (already running -> 422)."""
    sb = sandbox_of(request)
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    body = body if isinstance(body, dict) else {}
    name = body.get("name") or "default"
    errors = validate_name(name) + validate_config(body.get("config"))
    if errors:
        return nest_error(400, errors)
    s = sb.sessions.get(name)
    if s is not None and s.running:
        return nest_error(422, f"Session '{name}' is already started.")
    if s is None:
        s = sb.sessions.create(name, clean_config(body.get("config")))
    elif "config" in body:
        s.set_config(clean_config(body.get("config")))
    sb.sessions.start(s)
    return jresp({"name": s.name, "status": s.status, "config": s.config}, 201)


@routes.post("/api/sessions/stop")
async def deprecated_stop(request: web.Request) -> web.Response:
    """Stop ``{name}``; with ``logout: true`` also log out and delete it."""
    sb = sandbox_of(request)
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    body = body if isinstance(body, dict) else {}
    name = body.get("name") or "default"
    s = sb.sessions.get(name)
    if s is None:
        return session_not_found()
    if body.get("logout"):
        sb.sessions.delete(name)
    else:
        sb.sessions.stop(s)
    return empty(201)


@routes.post("/api/sessions/logout")
async def deprecated_logout(request: web.Request) -> web.Response:
    """Stop, log out and delete ``{name}``."""
    sb = sandbox_of(request)
    body = await read_json(request)
    if isinstance(body, web.Response):
        return body
    body = body if isinstance(body, dict) else {}
    name = body.get("name") or "default"
    if sb.sessions.get(name) is None:
        return session_not_found()
    sb.sessions.delete(name)
    return empty(201)
