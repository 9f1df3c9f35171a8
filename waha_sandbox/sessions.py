"""Sessions and their simulated lifecycle.

STOPPED -> STARTING -> SCAN_QR_CODE -> WORKING, with FAILED reachable on demand.
Every transition emits one ``session.status`` event.  Pairing survives stop/start
(start then goes STARTING -> WORKING directly); logout wipes it.  All transitions are
plain synchronous methods driven by ``loop.call_later`` timers, so there are no
awaits in the middle of a state change.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import Any

from .config import Settings
from .ids import now_ms
from .qr import new_qr_value
from .webhooks import Dispatcher, targets_from_config

STOPPED, STARTING, SCAN_QR_CODE, WORKING, FAILED = "STOPPED", "STARTING", "SCAN_QR_CODE", "WORKING", "FAILED"


class Session:
    def __init__(self, name: str, config: dict | None, apps: Any) -> None:
        self.name = name
        self.apps = apps
        self.config: dict | None = None
        self.targets: list = []
        self.set_config(config)
        self.status = STOPPED
        self.history: list[dict] = [{"status": STOPPED, "timestamp": now_ms()}]
        self.paired = False
        self.pair_phone: str | None = None
        self.pair_push_name: str | None = None
        self.me: dict | None = None
        self.qr_value: str | None = None
        self.activity: int | None = None
        self.timers: list[asyncio.TimerHandle] = []

    def set_config(self, config: dict | None) -> None:
        self.config = config
        self.targets = targets_from_config(config)

    @property
    def running(self) -> bool:
        return self.status != STOPPED

    def keeps_messages(self, engine: str) -> bool:
        """Whether the engine stores this session's messages, so that they can be looked up.

        NOWEB keeps none unless ``config.noweb.store.enabled`` is true (WAHA applies a changed
        config by restarting the session, so the current config is the one it runs with).
        GOWS stores messages unless ``config.gows.storage.messages`` is false (not modelled
        here) and WEBJS reads them from WhatsApp Web: both always answer.
        """
        if engine != "NOWEB":
            return True
        store = ((self.config or {}).get("noweb") or {}).get("store") or {}
        return store.get("enabled") is True

    def cancel_timers(self) -> None:
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()

    def dto(self) -> dict:
        """``{name, status, config}`` plus the SessionInfo fields clients read."""
        return {
            "name": self.name,
            "status": self.status,
            "config": self.config,
            "me": self.me,
            "presence": "online" if self.status == WORKING else None,
            "timestamps": {"activity": self.activity},
        }

    def info(self, engine: str) -> dict:
        data = self.dto()
        if engine == "NOWEB":
            eng: dict[str, Any] = {"engine": "NOWEB", "state": "CONNECTED" if self.status == WORKING else None}
        elif engine == "GOWS":
            ready = "READY" if self.running else None
            eng = {"engine": "GOWS", "grpc": {"client": ready, "stream": ready}}
        else:
            eng = {"engine": "WEBJS", "WWebVersion": "2.3000.1023456789",
                   "state": "CONNECTED" if self.status == WORKING else None}
        data["engine"] = eng
        if self.apps is not None:
            data["apps"] = self.apps
        return data


class SessionManager:
    """Owns all sessions and performs lifecycle transitions."""

    def __init__(self, settings: Settings, dispatcher: Dispatcher) -> None:
        self.settings = settings
        self.dispatcher = dispatcher
        self.sessions: dict[str, Session] = {}

    # -- helpers -------------------------------------------------------------------------
    def get(self, name: str) -> Session | None:
        return self.sessions.get(name)

    def _later(self, s: Session, delay: float, fn: Callable[..., object], *args: Any) -> None:
        s.timers.append(asyncio.get_running_loop().call_later(max(0.0, delay), fn, *args))

    def _set_status(self, s: Session, status: str) -> None:
        if status == WORKING and s.status == WORKING:
            return  # repeated WORKING events are collapsed
        ts = now_ms()
        s.status = status
        s.activity = ts
        s.history.append({"status": status, "timestamp": ts})
        del s.history[:-3]
        s.me = self._me(s) if status == WORKING else None
        payload = {"name": s.name, "status": status, "statuses": list(s.history), "data": None}
        self.dispatcher.emit(s, "session.status", payload)

    def _me(self, s: Session) -> dict:
        crc = zlib.crc32(s.name.encode())
        phone = s.pair_phone or f"{self.settings.phone_prefix}{crc % 10000:04d}"
        lid = f"{(crc * 7919 + 1) % 10**14:014d}"
        return {
            "id": f"{phone}@c.us",
            "pushName": s.pair_push_name or self.settings.push_name,
            "lid": f"{lid}@lid",
            "jid": f"{phone}:12@s.whatsapp.net",
        }

    # -- public transitions ----------------------------------------------------------------
    def create(self, name: str, config: dict | None, apps: Any = None) -> Session:
        s = Session(name, config, apps)
        self.sessions[name] = s
        return s

    def start(self, s: Session) -> None:
        s.cancel_timers()
        self._set_status(s, STARTING)
        self._later(s, self.settings.starting_seconds, self._after_starting, s)

    def _after_starting(self, s: Session) -> None:
        if s.status != STARTING or self.sessions.get(s.name) is not s:
            return
        s.cancel_timers()
        if s.paired:
            self._set_status(s, WORKING)
            return
        s.qr_value = new_qr_value()
        self._set_status(s, SCAN_QR_CODE)
        if self.settings.qr_rotate_seconds and self.settings.qr_rotate_seconds > 0:
            self._later(s, self.settings.qr_rotate_seconds, self._rotate_qr, s)
        if self.settings.autopair_seconds and self.settings.autopair_seconds > 0:
            self._later(s, self.settings.autopair_seconds, self._autopair, s)

    def _rotate_qr(self, s: Session) -> None:
        if s.status != SCAN_QR_CODE or self.sessions.get(s.name) is not s:
            return
        s.qr_value = new_qr_value()
        self._set_status(s, SCAN_QR_CODE)  # re-emitted on every rotation
        self._later(s, self.settings.qr_rotate_seconds, self._rotate_qr, s)

    def _autopair(self, s: Session) -> None:
        if s.status == SCAN_QR_CODE and self.sessions.get(s.name) is s:
            self.pair(s)

    def pair(self, s: Session, phone: str | None = None, push_name: str | None = None) -> None:
        """Simulate scanning the QR code on a phone."""
        if phone:
            s.pair_phone = phone
        if push_name:
            s.pair_push_name = push_name
        s.paired = True
        if s.status in (SCAN_QR_CODE, STARTING):
            s.cancel_timers()
            s.qr_value = None
            self._set_status(s, WORKING)

    def stop(self, s: Session) -> None:
        s.cancel_timers()
        s.qr_value = None
        if s.status != STOPPED:
            self._set_status(s, STOPPED)

    def restart(self, s: Session) -> None:
        self.stop(s)
        self.start(s)

    def logout(self, s: Session) -> None:
        was_running = s.running
        self.stop(s)
        s.paired = False
        s.pair_phone = None
        s.pair_push_name = None
        if was_running:
            self.start(s)

    def fail(self, s: Session, logout: bool = False) -> None:
        s.cancel_timers()
        s.qr_value = None
        if logout:
            s.paired = False
            s.pair_phone = None
            s.pair_push_name = None
        self._set_status(s, FAILED)

    def update(self, s: Session, config: dict | None, apps: Any = None, set_apps: bool = False) -> None:
        was_running = s.running
        if was_running:
            self.stop(s)
        s.set_config(config)
        if set_apps:
            s.apps = apps
        if was_running:
            self.start(s)

    def delete(self, name: str) -> None:
        s = self.sessions.get(name)
        if s is None:
            return
        self.stop(s)
        s.paired = False
        del self.sessions[name]

    def reset(self) -> None:
        for s in self.sessions.values():
            s.cancel_timers()
        self.sessions.clear()

    async def wait_for(self, s: Session, wanted: str) -> None:
        """Wait briefly while a session is STARTING, like WAHA's status waits (but capped)."""
        budget = self.settings.status_wait_seconds
        if s.status != STARTING or not budget or budget <= 0:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        while s.status == STARTING and loop.time() < deadline:
            await asyncio.sleep(0.02)
