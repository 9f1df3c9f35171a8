"""Send pacing and dispatcher coordination, shared by all workers through Redis.

A session's policy (WAHA.md §8: random gaps, never fixed; a per-minute cap)
is enforced by one dispatcher at a time per session (a Redis lock) and a
"next send allowed at" timestamp in Redis, so any worker that picks the
session up next honours the gap the previous one chose.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time

from django.conf import settings
from django_redis import get_redis_connection
from redis import Redis
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock

from core.db.ids import RowId
from core.tenancy import current_schema
from sessions_waha.models import Session

logger = logging.getLogger("messaging.pacing")


def _redis() -> Redis:
    return get_redis_connection("default")


def _key(kind: str, session_id: RowId) -> str:
    return f"msg:{kind}:{current_schema()}:{session_id}"


def dispatcher_lock(session_id: RowId) -> Lock | None:
    """The session's dispatcher lock (one sender per session across all workers), or None when another holds it.

    It expires after ``DISPATCH_LOCK_SECONDS``: short enough that a killed worker's lock frees the session soon;
    each batch extends it (``dispatcher_lock_extend``), so a live dispatcher keeps it.
    """
    lock = _redis().lock(_key("lock", session_id), timeout=settings.DISPATCH_LOCK_SECONDS, blocking=False)
    return lock if lock.acquire() else None


def dispatcher_lock_extend(lock: Lock) -> None:
    """Restart the lock's expiry, if it is still ours."""
    try:
        lock.reacquire()
    except LockNotOwnedError:
        logger.warning("dispatch.lock_lost lock=%s", lock.name)


def dispatcher_unlock(lock: Lock) -> None:
    """Release the lock if it is still ours (redis-py compares and deletes in one script)."""
    with contextlib.suppress(LockNotOwnedError):  # expired, perhaps taken by another dispatcher since
        lock.release()


def kick_claim(session_id: RowId, seconds: int = 15) -> bool:
    """True when no dispatch is already scheduled for the session (then one should be)."""
    return bool(_redis().set(_key("kick", session_id), "1", nx=True, ex=seconds))


def kick_release(session_id: RowId) -> None:
    _redis().delete(_key("kick", session_id))


def wait_seconds(session: Session) -> float:
    """How long the session must wait before its next send (0 when pacing is off)."""
    if not session.pacing_enabled:
        return 0.0
    redis = _redis()
    now = time.time()
    next_at = float(redis.get(_key("next", session.id)) or 0)
    wait = max(0.0, next_at - now)
    minute = int(now // 60)
    sent_this_minute = int(redis.get(_key(f"rate:{minute}", session.id)) or 0)
    if sent_this_minute >= session.max_per_minute:
        wait = max(wait, (minute + 1) * 60 - now)
    return wait


def record_send(session: Session) -> float:
    """Note a send; return the random gap chosen before the session's next one."""
    if not session.pacing_enabled:
        return 0.0
    gap = random.uniform(session.min_gap_seconds, max(session.min_gap_seconds, session.max_gap_seconds))
    now = time.time()
    minute = int(now // 60)
    pipe = _redis().pipeline()
    pipe.set(_key("next", session.id), now + gap, ex=int(gap) + 120)
    pipe.incr(_key(f"rate:{minute}", session.id))
    pipe.expire(_key(f"rate:{minute}", session.id), 120)
    pipe.execute()
    return gap


def typing_seconds(text: str) -> float:
    """A human-looking typing time: proportional to length, random, at most 3 s."""
    return min(3.0, 0.5 + len(text) / 40.0) * random.uniform(0.6, 1.0)

