"""Deliveries: the state machine, and the worker's loop that delivers one endpoint's due events.

``TRANSITIONS`` is the machine, and every write of ``Delivery.status`` names
a ``Move`` of it. A delivery is ``pending`` until an attempt gets a 2xx
(``delivered``) or its retry schedule is spent (``failed``); a disabled
endpoint fails its pending deliveries; a replay makes any delivery ``pending``
again, due now, with a whole new schedule.

The database is the source of truth. A task only says "deliver this
endpoint's due events" (``events.kick.deliveries_kick``); the drainer claims due rows by
pushing their ``next_attempt_at`` a lease ahead (``FOR UPDATE SKIP LOCKED``),
sends them, and records every outcome in one statement (holding the endpoint's
row, so that a delete waits for it: ``events.locks``). A worker killed
mid-delivery leaves its claimed rows to come due again when the lease ends,
and the beat sweep (``events.sweep``) kicks every endpoint with due rows, so a
lost task, a dead worker or a Redis restart delays a delivery and never loses
it (at least once: the receiver dedups on ``webhook-id``).

One drainer per endpoint at a time (a Redis lock), each on its own task of the
``events`` queue and with ``EVENT_ENDPOINT_CONCURRENCY`` requests in flight at
most: a slow endpoint holds its own task and no one else's, and never the
message pipeline, which runs on the other queue.
"""

from __future__ import annotations

import json
import logging
import math
import random
import secrets as token_source
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.db.ids import RowId
from core.transitions import Move, TransitionTable
from events import kick, locks, metrics, render, sender, url_rules
from events.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event, event_public_id

logger = logging.getLogger("events.delivery")

PENDING, DELIVERED, FAILED = DeliveryStatus.PENDING, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED

# ------------------------------------------------------------------ the machine

TRANSITIONS: dict[str | None, frozenset[str]] = {
    PENDING: frozenset({PENDING, DELIVERED, FAILED}),  # pending → pending: a replay makes it due now
    DELIVERED: frozenset({PENDING}),
    FAILED: frozenset({PENDING}),
}
_TABLE = TransitionTable(TRANSITIONS, subject="a delivery")
_move = _TABLE.move


DELIVER = _move("deliver", {PENDING}, DELIVERED)  # an attempt got a 2xx
GIVE_UP = _move("give_up", {PENDING}, FAILED)  # the retry schedule is spent
ENDPOINT_DISABLED = _move("endpoint_disabled", {PENDING}, FAILED)  # 410, 24 hours of failures, or a user
REPLAY = _move("replay", {PENDING, DELIVERED, FAILED}, PENDING)  # POST .../replay
MOVES = (DELIVER, GIVE_UP, ENDPOINT_DISABLED, REPLAY)
_TABLE.require_moves(MOVES)


def deliveries_move(queryset: QuerySet[Delivery], move: Move, **changes: Any) -> int:
    """Apply ``move`` (and ``changes``) to the deliveries of ``queryset`` in one of its sources; how many moved."""
    return Delivery.objects.filter(pk__in=queryset.values("pk"), status__in=move.sources).update(
        status=move.target, **changes
    )


def retry_delay(attempt_in_round: int) -> float | None:
    """Seconds before the next attempt after the ``attempt_in_round``-th failed one (None: give up).

    ``EVENT_RETRY_SCHEDULE`` with ±10 % jitter: the default (5 s, 1 min, 5 min, 30 min, 2 h, 5 h, 10 h,
    10 h) retries for 27.6 hours, never less than 24.8 with the jitter, and the first retry comes within
    5.5 seconds.
    """
    schedule = settings.EVENT_RETRY_SCHEDULE
    if attempt_in_round > len(schedule):
        return None
    return float(schedule[attempt_in_round - 1]) * random.uniform(0.9, 1.1)


LOCK_KEY = "events:lock:{schema}:{endpoint}"


def _redis() -> Any:
    from django_redis import get_redis_connection

    return get_redis_connection("default")


def lease_seconds() -> float:
    """How long a claimed delivery is left alone: a whole claimed batch at the slowest, plus a margin."""
    rounds = math.ceil(settings.EVENT_DELIVERY_BATCH_SIZE / settings.EVENT_ENDPOINT_CONCURRENCY)
    timeout = settings.EVENT_DELIVERY_TIMEOUT_SECONDS
    return rounds * (sender.connect_timeout() + timeout) + 5


_UNLOCK = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def _lock(key: str, token: str) -> bool:
    return bool(_redis().set(key, token, nx=True, ex=math.ceil(lease_seconds())))


def _unlock(key: str, token: str) -> None:
    try:
        _redis().eval(_UNLOCK, 1, key, token)
    except Exception as exc:  # noqa: BLE001 - the lock expires on its own
        logger.warning("events.unlock_failed error=%s", type(exc).__name__)


# ------------------------------------------------------------------ claim, send, record


@dataclass
class Claimed:
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    attempts: int
    round_started_at_attempt: int
    created_at: datetime


def _claim(endpoint_id: RowId, limit: int) -> list[Claimed]:
    """Push up to ``limit`` due pending deliveries a lease ahead and return them (``SKIP LOCKED``)."""
    table = Delivery._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} SET next_attempt_at = clock_timestamp() + %s * interval '1 second'
                 WHERE id IN (SELECT id FROM {table}
                               WHERE endpoint_id = %s AND status = '{PENDING}'
                                 AND next_attempt_at <= clock_timestamp()
                               ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED)
             RETURNING id, event_id, attempts, round_started_at_attempt, created_at""",  # noqa: S608  # nosec B608
            [lease_seconds(), endpoint_id, limit],
        )
        return [Claimed(*row) for row in cursor.fetchall()]


def _bodies(claimed: list[Claimed], *, tenant: str) -> dict[uuid.UUID, tuple[str, bytes]]:
    """The event id and body of each claimed delivery's event, rendering (and storing) data not yet rendered.

    A render stores data only where none is stored yet, so two endpoints of one event, drained at once,
    still send the same data.
    """
    events = list(Event.objects.filter(pk__in={c.event_id for c in claimed}))
    rendered = render.events_render(events)
    if rendered:
        table = Event._meta.db_table
        values = ", ".join(["(%s::uuid, %s::jsonb)"] * len(rendered))
        params = [value for event in rendered for value in (str(event.pk), json.dumps(event.data))]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {table} AS e SET data = v.data FROM (VALUES {values}) AS v(id, data)
                                WHERE e.id = v.id AND e.data IS NULL RETURNING e.id""",  # noqa: S608  # nosec B608
                params,
            )
            stored = {row[0] for row in cursor.fetchall()}
        lost = [event.pk for event in rendered if event.pk not in stored]
        if lost:
            fresh = dict(Event.objects.filter(pk__in=lost).values_list("pk", "data"))
            for event in rendered:
                if event.pk in fresh:
                    event.data = fresh[event.pk]
    by_id = {event.pk: event for event in events}
    return {
        c.delivery_id: (by_id[c.event_id].public_id, render.event_body(by_id[c.event_id], tenant=tenant))
        for c in claimed
        if c.event_id in by_id
    }


def _secrets(endpoint: Endpoint, now: datetime) -> list[str]:
    secrets_now = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets_now.append(endpoint.previous_secret)
    return secrets_now


@dataclass
class Outcome:
    claimed: Claimed
    answer: sender.Answer
    attempted_at: datetime


def _attempt(endpoint: Endpoint, claimed: Claimed, event_id: str, body: bytes) -> Outcome:
    """One attempt: check the URL's addresses again (DNS rebinding), sign, send. Never raises."""
    attempted_at = timezone.now()
    started = time.monotonic()
    try:
        target = url_rules.delivery_target(endpoint.url)
    except url_rules.UrlNotAllowed as exc:
        answer = sender.Answer(
            None, f"url_not_allowed: {exc.detail}"[:300], "", round((time.monotonic() - started) * 1000)
        )
        return Outcome(claimed, answer, attempted_at)
    headers = sender.signature_headers(event_id=event_id, body=body, secrets=_secrets(endpoint, attempted_at))
    return Outcome(claimed, sender.post(target, body=body, headers=headers), attempted_at)


def _next_step(outcome: Outcome) -> tuple[str, datetime | None]:
    """(the delivery's status after this attempt, when to try again)."""
    if outcome.answer.delivered:
        return DELIVER.target, None
    attempt_in_round = outcome.claimed.attempts + 1 - outcome.claimed.round_started_at_attempt
    delay = retry_delay(attempt_in_round)
    if delay is None:
        return GIVE_UP.target, None
    return PENDING, outcome.attempted_at + timedelta(seconds=delay)


def _record(endpoint: Endpoint, outcomes: list[Outcome]) -> bool:
    """Every outcome in one statement (the deliveries and their attempt rows), then the endpoint's health;
    False when the endpoint was deleted meanwhile (its deliveries went with it: nothing to record)."""
    rows = []
    for outcome in outcomes:
        status, next_at = _next_step(outcome)
        answer = outcome.answer
        rows.append(
            (
                str(outcome.claimed.delivery_id),
                status,
                next_at,
                outcome.attempted_at,
                answer.status_code,
                answer.error[:300],
                answer.response,
                answer.duration_ms,
            )
        )
    values = ", ".join(["(%s::uuid, %s, %s::timestamptz, %s::timestamptz, %s::int, %s, %s, %s::int)"] * len(rows))
    delivery_table, attempt_table = Delivery._meta.db_table, Attempt._meta.db_table
    with transaction.atomic():
        if not locks.endpoint_hold(endpoint.pk):
            logger.info(
                "event.outcomes_dropped endpoint_id=%s count=%s reason=endpoint_deleted", endpoint.pk, len(outcomes)
            )
            return False
        with connection.cursor() as cursor:
            # Only a delivery still pending takes the outcome: one disabled or replayed meanwhile keeps what that
            # did (its attempt is logged all the same).
            cursor.execute(
                f"""WITH v(id, outcome, next_at, at, code, error, response, duration) AS (VALUES {values}),
                    updated AS (
                        UPDATE {delivery_table} AS d SET attempts = d.attempts + 1, last_attempt_at = v.at,
                               last_status_code = v.code, last_error = v.error, last_response = v.response,
                               duration_ms = v.duration, next_attempt_at = v.next_at
                          FROM v WHERE d.id = v.id AND d.status = '{PENDING}' RETURNING d.id)
                    INSERT INTO {attempt_table} (delivery_id, attempted_at, status_code, error, response, duration_ms)
                    SELECT v.id, v.at, v.code, v.error, v.response, v.duration FROM v""",  # noqa: S608  # nosec B608
                [value for row in rows for value in row],
            )
        for move in (DELIVER, GIVE_UP):
            ids = [row[0] for row in rows if row[1] == move.target]
            if ids:
                deliveries_move(
                    Delivery.objects.filter(pk__in=ids),
                    move,
                    **({"delivered_at": timezone.now()} if move is DELIVER else {}),
                )
        _endpoint_health(endpoint, outcomes)
    for outcome, row in zip(outcomes, rows, strict=True):
        _observe(endpoint, outcome, status=row[1])
    return True


def _observe(endpoint: Endpoint, outcome: Outcome, *, status: str) -> None:
    answer, claimed = outcome.answer, outcome.claimed
    metrics.attempt_counted(answer)
    if status == DELIVERED:
        metrics.DELIVERIES.labels(outcome="delivered").inc()
        metrics.LAG.observe(max(0.0, (timezone.now() - claimed.created_at).total_seconds()))
    elif status == FAILED:
        metrics.DELIVERIES.labels(outcome="failed").inc()
    log = logger.info if answer.delivered else logger.warning
    log(
        "event.delivery_attempt event_id=%s delivery_id=%s endpoint_id=%s status_code=%s outcome=%s duration_ms=%s%s",
        event_public_id(claimed.event_id),
        claimed.delivery_id,
        endpoint.pk,
        answer.status_code,
        status,
        answer.duration_ms,
        f" error={answer.error!r}" if answer.error else "",
    )


def _endpoint_health(endpoint: Endpoint, outcomes: list[Outcome]) -> None:
    """410 disables the endpoint at once; failing for ``EVENT_DISABLE_AFTER_SECONDS`` without one success too."""
    now = timezone.now()
    if any(o.answer.status_code == 410 for o in outcomes):
        endpoint_disable(endpoint_id=endpoint.pk, reason="The endpoint answered 410 Gone.")
        return
    if any(o.answer.delivered for o in outcomes):
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=False).update(failing_since=None)
        return
    Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
    failing_since = Endpoint.objects.filter(pk=endpoint.pk).values_list("failing_since", flat=True).first()
    if failing_since and now - failing_since >= timedelta(seconds=settings.EVENT_DISABLE_AFTER_SECONDS):
        last = outcomes[-1].answer
        cause = f"HTTP {last.status_code}" if last.status_code else last.error.split(":", 1)[0]
        hours = settings.EVENT_DISABLE_AFTER_SECONDS / 3600
        endpoint_disable(
            endpoint_id=endpoint.pk, reason=f"Every delivery failed for {hours:g} hours (last attempt: {cause})."
        )


def endpoint_disable(*, endpoint_id: RowId, reason: str) -> bool:
    """Disable the endpoint with ``reason`` and fail its pending deliveries; False when it was disabled already."""
    with transaction.atomic():
        disabled = Endpoint.objects.filter(pk=endpoint_id, enabled=True).update(
            enabled=False, disabled_reason=reason[:300], disabled_at=timezone.now(), updated_at=timezone.now()
        )
        if disabled:
            deliveries_fail_pending(endpoint_id=endpoint_id, reason="endpoint disabled")
    if disabled:
        metrics.ENDPOINTS_DISABLED.inc()
        logger.warning("webhook_endpoint.disabled endpoint_id=%s reason=%r", endpoint_id, reason)
    return bool(disabled)


def deliveries_fail_pending(*, endpoint_id: RowId, reason: str) -> int:
    """``ENDPOINT_DISABLED``: the endpoint's pending deliveries end ``failed`` (replay them once it is back)."""
    failed = deliveries_move(
        Delivery.objects.filter(endpoint_id=endpoint_id),
        ENDPOINT_DISABLED,
        next_attempt_at=None,
        last_error=reason[:300],
    )
    if failed:
        metrics.DELIVERIES.labels(outcome="failed").inc(failed)
    return failed


def deliveries_replay(
    *, endpoint_id: RowId, delivery_ids: Sequence[RowId] | None = None, queryset: QuerySet[Delivery] | None = None
) -> int:
    """``REPLAY``: these deliveries are pending again, due now, with a whole new retry schedule."""
    from django.db.models import F

    deliveries = queryset if queryset is not None else Delivery.objects.filter(pk__in=delivery_ids or [])
    now = timezone.now()
    with transaction.atomic():
        replayed = deliveries_move(
            deliveries.filter(endpoint_id=endpoint_id),
            REPLAY,
            next_attempt_at=now,
            round_started_at_attempt=F("attempts"),
            delivered_at=None,
        )
        if replayed:
            kick.kick_after_commit([endpoint_id])
    logger.info("event.deliveries_replayed endpoint_id=%s count=%s", endpoint_id, replayed)
    return replayed


# ------------------------------------------------------------------ the drainer


@dataclass
class DrainResult:
    attempted: int = 0
    again_now: bool = False
    wait: float | None = None


def endpoint_drain(*, schema_name: str, endpoint_id: str, tenant: str) -> DrainResult:
    """Deliver the endpoint's due events for at most ``EVENT_DRAIN_SLICE_SECONDS``."""
    result = DrainResult()
    lock_key, token = LOCK_KEY.format(schema=schema_name, endpoint=endpoint_id), token_source.token_hex(8)
    if not _lock(lock_key, token):
        return result  # another drainer has it; it looks at the queue again before it stops
    all_failed = False
    try:
        deadline = time.monotonic() + settings.EVENT_DRAIN_SLICE_SECONDS
        while time.monotonic() < deadline:
            endpoint = Endpoint.objects.filter(pk=endpoint_id, enabled=True).first()
            if endpoint is None:
                return result
            claimed = _claim(endpoint.pk, settings.EVENT_DELIVERY_BATCH_SIZE)
            if not claimed:
                break
            outcomes = _send_all(endpoint, claimed, tenant=tenant)
            if not _record(endpoint, outcomes):
                return result
            result.attempted += len(outcomes)
            all_failed = not any(o.answer.delivered for o in outcomes)
            if all_failed:
                break  # a failing endpoint: give it a pause rather than the rest of its backlog now
            _redis().expire(lock_key, math.ceil(lease_seconds()))
        else:
            result.again_now = True
    finally:
        _unlock(lock_key, token)
    if not result.again_now:
        result.wait = _seconds_until_next_due(endpoint_id)
        if all_failed and result.wait is not None:
            result.wait = max(result.wait, 1.0)
        result.again_now = result.wait == 0
    return result


def _send_all(endpoint: Endpoint, claimed: list[Claimed], *, tenant: str) -> list[Outcome]:
    bodies = _bodies(claimed, tenant=tenant)
    work = [(c, *bodies[c.delivery_id]) for c in claimed if c.delivery_id in bodies]
    if len(work) == 1:
        return [_attempt(endpoint, *work[0])]
    with ThreadPoolExecutor(max_workers=settings.EVENT_ENDPOINT_CONCURRENCY) as pool:
        return list(pool.map(lambda item: _attempt(endpoint, *item), work))


def _seconds_until_next_due(endpoint_id: RowId) -> float | None:
    due = (
        Delivery.objects.filter(endpoint_id=endpoint_id, status=PENDING, endpoint__enabled=True)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if due is None:
        return None
    return max(0.0, (due - timezone.now()).total_seconds())


def due_endpoints() -> list[str]:
    """Enabled endpoints with a pending delivery due now (the sweep kicks them)."""
    return [
        str(pk)
        for pk in Delivery.objects.filter(status=PENDING, next_attempt_at__lte=timezone.now(), endpoint__enabled=True)
        .values_list("endpoint_id", flat=True)
        .distinct()
    ]
