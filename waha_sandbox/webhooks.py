"""Webhook fan-out: envelopes, HMAC signing, retries and delivery statistics."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
from collections import deque
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp

from .config import HookSpec, Settings
from .ids import event_id, now_ms, uniqid
from .responses import dumps
from .validation import STAR_EXCLUDED

log = logging.getLogger("waha_sandbox.webhooks")


class Target:
    """A resolved webhook destination with its event filter and retry policy."""

    __slots__ = ("attempts", "delay", "events", "headers", "hmac_key", "policy", "star", "url")

    def __init__(self, spec: HookSpec):
        self.url = spec.url
        self.events = frozenset(spec.events)
        self.star = "*" in self.events
        self.hmac_key = spec.hmac_key.encode() if spec.hmac_key else None
        self.policy = spec.policy
        self.delay = max(0.0, float(spec.delay_seconds))
        self.attempts = max(0, int(spec.attempts))
        self.headers = list(spec.headers)

    def accepts(self, event: str) -> bool:
        return event in self.events or (self.star and event not in STAR_EXCLUDED)

    def retry_delay(self, n: int) -> float:
        """Delay before retry number ``n`` (1-based)."""
        if self.policy == "linear":
            return n * self.delay
        if self.policy == "exponential":
            return (2 ** n) * self.delay * (1 + random.random() * 0.2)
        return self.delay


def targets_from_config(config: dict | None) -> list[Target]:
    """Targets from a session's ``config.webhooks``; items lacking url or events are skipped."""
    out = []
    for item in (config or {}).get("webhooks") or []:
        if not isinstance(item, dict) or not item.get("url") or not item.get("events"):
            continue
        retries = item.get("retries") or {}
        headers = [
            (str(h.get("name")), str(h.get("value")))
            for h in item.get("customHeaders") or []
            if isinstance(h, dict) and h.get("name")
        ]
        spec = HookSpec(
            url=item["url"],
            events=[e for e in item["events"] if isinstance(e, str)],
            hmac_key=(item.get("hmac") or {}).get("key") or None,
            policy=retries.get("policy") or "constant",
            delay_seconds=2.0 if retries.get("delaySeconds") is None else float(retries["delaySeconds"]),
            attempts=15 if retries.get("attempts") is None else int(retries["attempts"]),
            headers=headers,
        )
        out.append(Target(spec))
    return out


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_ms() / 1000)
    except (TypeError, ValueError):
        return None


class EmittingSession(Protocol):
    """What an event needs from a session (``sessions.Session``, which imports this module)."""

    name: str
    config: dict[str, Any] | None
    me: Any
    targets: list[Target]


class Dispatcher:
    """Builds envelopes and delivers them concurrently to every matching target."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.global_target = Target(settings.global_hook) if settings.global_hook else None
        self._client: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()
        self.recent: deque[dict] = deque(maxlen=1000)
        self.log: deque[dict] = deque(maxlen=500)
        self.reset_stats()

    def reset_stats(self) -> None:
        self.stats = {"events": 0, "deliveries": 0, "attempted": 0, "succeeded": 0, "failed": 0, "dropped": 0}

    async def start(self) -> None:
        # A modest pool of keep-alive connections per receiver is faster than hundreds
        # of parallel sockets; deliveries beyond it simply queue for a connection.
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=self.settings.hook_connections, ssl=False,
                                         keepalive_timeout=30)
        timeout = aiohttp.ClientTimeout(total=self.settings.hook_timeout_seconds or None)
        self._client = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False,
                                             cookie_jar=aiohttp.DummyCookieJar())

    async def close(self) -> None:
        self.cancel_all()
        if self._client is not None:
            await self._client.close()
            self._client = None

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    def emit(self, session: EmittingSession, event: str, payload: Any, *, me: Any = "__session__",
             evt_id: str | None = None, repeat: int = 1) -> dict[str, Any]:
        """Create one event envelope and schedule its delivery to each matching target.

        ``session`` must provide ``name``, ``config``, ``me`` and ``targets``.  ``repeat``
        delivers the very same envelope (same ``id``) several times, for duplicate tests.
        """
        ts = now_ms()
        env: dict[str, Any] = {"id": evt_id or event_id(ts), "timestamp": ts, "event": event, "session": session.name}
        config = session.config or {}
        if config.get("metadata") is not None:
            env["metadata"] = config["metadata"]
        env["me"] = session.me if me == "__session__" else me
        env["payload"] = payload
        env["engine"] = self.settings.engine
        env["environment"] = self.settings.environment()
        self.stats["events"] += 1
        self.recent.append(env)
        targets = [t for t in session.targets if t.accepts(event)]
        if self.global_target is not None and self.global_target.accepts(event):
            targets.append(self.global_target)
        if targets:
            body = dumps(env)
            for _ in range(max(1, repeat)):
                for target in targets:
                    self._spawn(target, body, env)
        return env

    def _spawn(self, target: Target, body: bytes, env: dict) -> None:
        self.stats["deliveries"] += 1
        task = asyncio.get_running_loop().create_task(self._deliver(target, body, env["timestamp"], env))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _headers(self, target: Target, body: bytes, ts: int) -> dict:
        headers = {"content-type": "application/json", "User-Agent": f"WAHA/{self.settings.version}"}
        for name, value in target.headers:
            headers[name] = value
        headers["X-Webhook-Request-Id"] = uniqid()
        headers["X-Webhook-Timestamp"] = str(ts)
        if target.hmac_key is not None:
            headers["X-Webhook-Hmac"] = hmac.new(target.hmac_key, body, hashlib.sha512).hexdigest()
            headers["X-Webhook-Hmac-Algorithm"] = "sha512"
        return headers

    async def _deliver(self, target: Target, body: bytes, ts: int, env: dict) -> None:
        headers = self._headers(target, body, ts)
        retry = 0
        last: int | str | None = None
        while True:
            self.stats["attempted"] += 1
            wait_at_least = None
            try:
                assert self._client is not None
                async with self._client.post(target.url, data=body, headers=headers, allow_redirects=False) as resp:
                    await resp.read()
                    last = resp.status
                    if 200 <= resp.status < 300:
                        self.stats["succeeded"] += 1
                        self._log(env, target, retry + 1, "delivered", last)
                        return
                    wait_at_least = _retry_after(resp.headers.get("Retry-After"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any network error is retried like a non-2xx
                last = type(exc).__name__
            self.stats["failed"] += 1
            if retry >= target.attempts:
                self.stats["dropped"] += 1
                self._log(env, target, retry + 1, "dropped", last)
                log.warning("webhook %s for %s dropped after %d attempts", env["event"], target.url, retry + 1)
                return
            retry += 1
            delay = target.retry_delay(retry)
            if wait_at_least is not None:
                delay = max(delay, wait_at_least)
            if delay > 0:
                await asyncio.sleep(delay)

    def _log(self, env: dict[str, Any], target: Target, attempts: int, result: str, last: int | str | None) -> None:
        self.log.append({"eventId": env["id"], "event": env["event"], "session": env["session"],
                         "url": target.url, "attempts": attempts, "result": result, "last": last})

    def snapshot(self) -> dict:
        return {**self.stats, "inFlight": len(self._tasks), "recent": list(self.log)[-100:]}
