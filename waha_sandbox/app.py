"""The aiohttp application: auth, fault injection and route registration."""

from __future__ import annotations

import asyncio
import logging
import re

from aiohttp import web
from aiohttp.typedefs import Handler

from . import api_chatting, api_sandbox, api_sessions
from .config import ApiKey, Settings
from .responses import engine_failure, nest_error, unauthorized
from .state import MAX_BODY, SANDBOX_KEY, Sandbox

API_KEY_KEY: web.AppKey[ApiKey] = web.AppKey("api_key", ApiKey)
EXCLUDE_KEY: web.AppKey[list] = web.AppKey("auth_exclude", list)
log = logging.getLogger("waha_sandbox")


def _abort(request: web.Request) -> web.Response:
    """Drop the connection without answering, as if the server were gone."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    return web.Response(status=503)


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the ``down``/``latency`` faults, then the API-key check, then the handler."""
    path = request.path
    sandbox_path = path.startswith("/sandbox")
    if not sandbox_path:
        faults = request.app[SANDBOX_KEY].faults
        if faults.down:
            return _abort(request)
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
            if faults.down:
                return _abort(request)
    if path != "/ping" and (sandbox_path or path.startswith("/api/") or path == "/health") and not (
        request.app[EXCLUDE_KEY] and any(p.fullmatch(path[1:]) for p in request.app[EXCLUDE_KEY])
    ):
        # The header wins over the query parameter when both are present.
        key = request.headers.get("X-Api-Key")
        if key is None:
            key = request.query.get("x-api-key")
        if not request.app[API_KEY_KEY].check(key):
            return unauthorized()
    try:
        return await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        return nest_error(404, f"Cannot {request.method} {path}")
    except web.HTTPRequestEntityTooLarge:
        return nest_error(413, "request entity too large")
    except web.HTTPException:
        raise
    except Exception as exc:  # like WAHA's catch-all filter: answer 500 and keep serving
        log.exception("unhandled error on %s %s", request.method, path)
        return engine_failure(request, None, str(exc) or type(exc).__name__,
                              request.app[SANDBOX_KEY].settings.environment())


async def _on_startup(app: web.Application) -> None:
    await app[SANDBOX_KEY].dispatcher.start()


async def _on_cleanup(app: web.Application) -> None:
    sb = app[SANDBOX_KEY]
    sb.sessions.reset()
    sb.files.clear()
    sb.faults.clear()  # releases any request held by the ``hang`` fault
    await sb.dispatcher.close()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[gate], client_max_size=MAX_BODY)
    app[SANDBOX_KEY] = Sandbox(settings)
    app[API_KEY_KEY] = ApiKey(settings.api_key)
    # WHATSAPP_API_KEY_EXCLUDE_PATH: comma list of patterns without the leading "/".
    app[EXCLUDE_KEY] = [re.compile(p) for p in settings.auth_exclude]
    app.add_routes(api_sessions.routes)
    app.add_routes(api_chatting.routes)
    app.add_routes(api_sandbox.routes)
    app.on_startup.append(_on_startup)
    app.on_cleanup.append(_on_cleanup)
    return app
