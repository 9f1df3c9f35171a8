"""The shared sandbox state object handed to every request handler."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from aiohttp import web

from .config import Settings
from .ids import now_ms
from .responses import nest_error
from .sessions import SessionManager
from .store import Faults, FileStore, MessageStore, Numbers
from .webhooks import Dispatcher

MAX_BODY = 50 * 1024 * 1024  # express json({limit: '50mb'})


class Sandbox:
    """Container for everything that lives for the lifetime of the server."""

    def __init__(self, settings: Settings):
        self.initial = replace(settings)
        self.settings = settings
        self.dispatcher = Dispatcher(settings)
        self.sessions = SessionManager(settings, self.dispatcher)
        self.messages = MessageStore(settings.max_messages)
        self.files = FileStore()
        self.numbers = Numbers()
        self.faults = Faults()
        self.started = now_ms()

    def reset(self) -> None:
        """Forget every session, message, file, event, fault and runtime knob."""
        self.sessions.reset()
        self.dispatcher.cancel_all()
        self.dispatcher.reset_stats()
        self.dispatcher.recent.clear()
        self.dispatcher.log.clear()
        self.messages.clear()
        self.files.clear()
        self.numbers = Numbers()
        self.faults.clear()
        for name in RUNTIME_KNOBS:
            setattr(self.settings, name, getattr(self.initial, name))


RUNTIME_KNOBS = (
    "engine", "auto_ack", "ack_delays_ms", "starting_seconds", "qr_rotate_seconds", "autopair_seconds",
    "status_wait_seconds", "files_lifetime",
)

SANDBOX_KEY: web.AppKey[Sandbox] = web.AppKey("sandbox", Sandbox)


def sandbox_of(request: web.Request) -> Sandbox:
    return request.app[SANDBOX_KEY]


async def read_json(request: web.Request, *, allow_empty: bool = True) -> Any:
    """Parse a JSON body like express' body parser; returns the JSON value or an error response."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return nest_error(413, "request entity too large")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return nest_error(413, "request entity too large")
    if not raw.strip():
        return {} if allow_empty else nest_error(400, "Request body is required")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return nest_error(400, f"Unexpected token in JSON: {exc}")


async def sleep_ms(ms: float) -> None:
    if ms and ms > 0:
        await asyncio.sleep(ms / 1000)
