"""Kicks: asking a worker to deliver an endpoint's due events soon.

Recording (``events.outbox``) and replays (``events.delivery``) kick after commit; the task itself
(``events.tasks.deliver_task``) releases the kick when it starts. Tasks are sent by name, a message contract
with the worker rather than an import (``tasks`` modules are entry points, like views).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from celery import current_app
from django.db import transaction

from core.quiet import QuietWindow
from core.tenancy import current_schema
from events import metrics

logger = logging.getLogger("events.delivery")

DELIVER = "events.deliver"

KICK_KEY = "events:kick:{schema}:{endpoint}"
KICK_QUIET_SECONDS = 0.2
KICK_LOOK_AGAIN_SECONDS = 0.5
MAX_COUNTDOWN_SECONDS = 60  # longer waits live in next_attempt_at; the sweep kicks them (PITFALLS 13)
_kicked = QuietWindow(KICK_QUIET_SECONDS)


def _redis() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def deliveries_kick(*, schema_name: str, endpoint_ids: Sequence[str]) -> None:
    """Make sure a worker delivers these endpoints' due events soon (never raises).

    Like the dispatcher's kick: at most one task queued per endpoint (a Redis key, deleted when the task
    starts), a process asks Redis at most every ``KICK_QUIET_SECONDS`` per endpoint, and each kick also
    schedules a look ``KICK_LOOK_AGAIN_SECONDS`` later for what it recorded while quiet. With Redis or the
    broker down the sweep kicks them.
    """
    for endpoint_id in endpoint_ids:
        key = (schema_name, str(endpoint_id))
        if _kicked.quiet(key):
            continue
        try:
            if _redis().set(KICK_KEY.format(schema=schema_name, endpoint=endpoint_id), "1", nx=True, ex=60):
                current_app.send_task(DELIVER, args=(schema_name, str(endpoint_id)), retry=False)
            current_app.send_task(
                DELIVER, args=(schema_name, str(endpoint_id)), countdown=KICK_LOOK_AGAIN_SECONDS, retry=False
            )
            _kicked.start(key)
        except Exception as exc:  # noqa: BLE001 - the broker or Redis is down: the sweep kicks it
            metrics.KICK_FAILURES.inc()
            logger.warning("events.kick_failed endpoint_id=%s error=%s", endpoint_id, type(exc).__name__)


def kick_release(*, schema_name: str, endpoint_id: str) -> None:
    _redis().delete(KICK_KEY.format(schema=schema_name, endpoint=endpoint_id))


def kick_claim(*, schema_name: str, endpoint_id: str, seconds: int) -> bool:
    return bool(_redis().set(KICK_KEY.format(schema=schema_name, endpoint=endpoint_id), "1", nx=True, ex=seconds))



def kick_after_commit(endpoint_ids: Iterable[object] | None) -> None:
    """Ask a worker to deliver to these endpoints once the current transaction commits."""
    endpoint_ids = sorted({str(endpoint_id) for endpoint_id in endpoint_ids or () if endpoint_id})
    if not endpoint_ids:
        return
    schema_name = current_schema()
    transaction.on_commit(lambda: deliveries_kick(schema_name=schema_name, endpoint_ids=endpoint_ids))


