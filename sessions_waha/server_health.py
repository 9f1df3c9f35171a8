"""A WAHA server's health for the platform console: is it reachable, does it take its API key, which version.

The console asks each server ``GET /api/server/version`` (which needs the key, so a wrong key shows): briefly, so
that a page of servers never hangs on one that is down, and remembers the answers for a while, so that opening the
page again asks nobody. "Test connection" asks again at once.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from sessions_waha.services import waha_client
from sessions_waha.waha import WahaError, WahaRejected, WahaTimeout, WahaUnauthorized, WahaUnreachable
from tenants.models import WahaServer

logger = logging.getLogger("sessions_waha")

HEALTH_TIMEOUT = (1.0, 2.0)  # seconds to connect, seconds to answer
# The page waits no longer than this for all of them: the timeouts above do not cover a slow DNS lookup.
HEALTH_DEADLINE = 3.5
HEALTH_CACHE_SECONDS = 30
HEALTH_PARALLEL = 8


@dataclass(frozen=True)
class ServerHealth:
    """What a server answered: ``state`` is ``reachable``, ``unreachable``, ``refused`` (the API key) or
    ``error`` (an answer that is not WAHA's version)."""

    state: str
    detail: str
    checked_at: str  # ISO 8601
    took_ms: int
    version: str = ""
    engine: str = ""
    tier: str = ""

    @property
    def reachable(self) -> bool:
        return self.state == "reachable"


def health_cache_key(server: WahaServer) -> str:
    # A new address or key is a new server to ask (the key itself never goes into the cache).
    fingerprint = hashlib.sha256(f"{server.base_url}\0{server.api_key}".encode()).hexdigest()[:16]
    return f"waha_health:{server.pk}:{fingerprint}"


def _health_probe(server: WahaServer) -> ServerHealth:
    """Ask ``server`` for its version, within HEALTH_TIMEOUT. Runs in a worker thread: no database here."""
    started = time.monotonic()
    checked_at = timezone.now().isoformat()

    def outcome(state: str, detail: str, **version: str) -> ServerHealth:
        return ServerHealth(state, detail, checked_at, round((time.monotonic() - started) * 1000), **version)

    try:
        answer = waha_client(server).server_version(timeout=HEALTH_TIMEOUT)
    except WahaUnauthorized as exc:
        return outcome("refused", f"WAHA refused the API key (HTTP {exc.status_code}).")
    except WahaTimeout as exc:
        waited = HEALTH_TIMEOUT[0] if exc.phase == "connect" else HEALTH_TIMEOUT[1]
        return outcome("unreachable", f"No {'connection' if exc.phase == 'connect' else 'answer'} within {waited:g} s.")
    except WahaUnreachable as exc:
        return outcome("unreachable", f"No connection: {exc.message}")
    except WahaRejected as exc:
        return outcome("error", f"WAHA answered HTTP {exc.status_code} to GET /api/server/version.")
    except WahaError as exc:
        return outcome("error", f"Not a WAHA answer: {exc.message}")
    except ValueError as exc:  # the client refuses a server without an API key before any request
        return outcome("error", str(exc))
    version, engine, tier = (str(answer.get(key) or "") for key in ("version", "engine", "tier"))
    return outcome(
        "reachable", f"WAHA {version or '(no version given)'} answered.", version=version, engine=engine, tier=tier
    )


def waha_servers_health(servers: list[WahaServer], *, fresh: bool = False) -> dict[int, ServerHealth]:
    """Each server's health by id: remembered answers (up to HEALTH_CACHE_SECONDS old) unless ``fresh``, the
    others asked for in parallel, so the whole call takes about one HEALTH_TIMEOUT at most."""
    keys = {server.pk: health_cache_key(server) for server in servers}
    remembered = {} if fresh else _cache_call(cache.get_many, list(keys.values())) or {}
    health = {pk: ServerHealth(**remembered[key]) for pk, key in keys.items() if key in remembered}
    to_ask = [server for server in servers if server.pk not in health]
    if to_ask:
        answers = _health_ask(to_ask)
        _cache_call(cache.set_many, {keys[pk]: asdict(answer) for pk, answer in answers.items()}, HEALTH_CACHE_SECONDS)
        for pk, answer in answers.items():
            logger.info("waha.health server_id=%s state=%s took_ms=%s", pk, answer.state, answer.took_ms)
        health.update(answers)
    return health


def _health_ask(servers: list[WahaServer]) -> dict[int, ServerHealth]:
    """Ask ``servers`` in parallel; one that has not answered by HEALTH_DEADLINE is reported as not answering
    (its thread ends on its own)."""
    started, checked_at = time.monotonic(), timezone.now().isoformat()
    pool = ThreadPoolExecutor(max_workers=min(HEALTH_PARALLEL, len(servers)), thread_name_prefix="waha-health")
    futures = {server.pk: pool.submit(_health_probe, server) for server in servers}
    wait(futures.values(), timeout=HEALTH_DEADLINE)
    pool.shutdown(wait=False, cancel_futures=True)
    late = ServerHealth(
        "unreachable",
        f"No answer within {HEALTH_DEADLINE:g} s.",
        checked_at,
        round((time.monotonic() - started) * 1000),
    )
    return {pk: future.result() if future.done() and not future.cancelled() else late for pk, future in futures.items()}


def _cache_call(call: Callable[..., Any], *args: Any) -> Any:
    """The cache only spares WAHA a question: without Redis, every page asks again instead of failing."""
    try:
        return call(*args)
    except Exception as exc:  # noqa: BLE001 - whatever the cache backend raises, the answer is "not remembered"
        logger.warning("waha.health_cache_unavailable error=%s", type(exc).__name__)
        return None


def waha_server_health(server: WahaServer, *, fresh: bool = False) -> ServerHealth:
    """``server``'s health (see ``waha_servers_health``); ``fresh`` asks it now ("Test connection")."""
    return waha_servers_health([server], fresh=fresh)[server.pk]
