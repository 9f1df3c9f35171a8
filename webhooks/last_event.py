"""When the last verified webhook arrived: written by the receiver, read by ``GET /webhooks/health``."""

from __future__ import annotations

import logging
import threading
import time

logger = logging.getLogger("webhooks")

# A plain Redis key, not the tenant-prefixed cache: the public host reads it without a tenant.
LAST_EVENT_KEY = "webhooks:last_event_at"
_last_event_lock = threading.Lock()
# This process's own last event ("at") and last write to Redis ("written"), in epoch seconds.
last_event_local: dict[str, float] = {"at": 0.0, "written": 0.0}


def last_event_touch() -> None:
    """Record "an event arrived now" in Redis, at most once a second per process."""
    now = time.time()
    with _last_event_lock:
        last_event_local["at"] = now
        if now - last_event_local["written"] < 1.0:
            return
        last_event_local["written"] = now
    try:
        from django_redis import get_redis_connection

        get_redis_connection("default").set(LAST_EVENT_KEY, repr(now))
    except Exception as exc:  # noqa: BLE001 - health reporting must never fail a webhook
        logger.warning("webhook.last_event_unrecorded error=%s", type(exc).__name__)
