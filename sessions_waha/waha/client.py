"""The HTTP client for WAHA: the only code in the project that talks to it.

It takes plain values (no Django), so it can be unit-tested alone and used from web
processes, Celery workers and management commands alike. It never retries: a failed call
raises a typed ``WahaError`` whose ``transient`` flag tells the caller whether a retry
with backoff makes sense.
"""

from __future__ import annotations

import threading
from typing import Any

import requests

from .messages import MessageCalls
from .sessions import SessionCalls
from .transport import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    _new_http_session,
    _normalize_base_url,
)

__all__ = ["WahaClient", "clear_client_cache", "client_for"]


class WahaClient(SessionCalls, MessageCalls):
    """Calls one WAHA server with one API key. Thread-safe; share it via ``client_for``.

    Its calls are in ``sessions.py`` (server, sessions, pairing) and ``messages.py`` (sending, lookups, media),
    over the HTTP of ``transport.py``.
    """

    def __repr__(self) -> str:
        return f"WahaClient(base_url={self.base_url!r}, engine={self.engine!r})"


# One client per (server, key, timeouts, engine) and, beneath them, one pooled
# requests.Session per (server, key), so every caller reuses warm connections.
_cache_lock = threading.Lock()
_clients: dict[tuple[Any, ...], WahaClient] = {}
_http_sessions: dict[tuple[str, str], requests.Session] = {}


def client_for(
    base_url: str,
    api_key: str,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    engine: str | None = None,
) -> WahaClient:
    """The shared client for this WAHA server and key (created once, thread-safely)."""
    normalized = _normalize_base_url(base_url)
    key = (normalized, api_key, connect_timeout, read_timeout, engine.upper() if engine else None)
    client = _clients.get(key)
    if client is not None:
        return client
    with _cache_lock:
        client = _clients.get(key)
        if client is None:
            http = _http_sessions.get((normalized, api_key))
            if http is None:
                http = _http_sessions[(normalized, api_key)] = _new_http_session()
            client = WahaClient(
                normalized,
                api_key,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                engine=engine,
                http_session=http,
            )
            _clients[key] = client
        return client


def clear_client_cache() -> None:
    """Forget cached clients and close their connections (tests, key rotation)."""
    with _cache_lock:
        for http in _http_sessions.values():
            http.close()
        _clients.clear()
        _http_sessions.clear()
