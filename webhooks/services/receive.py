"""The WAHA webhook receiver: verify, route, store once, apply.

``webhook_receive`` is the whole pipeline of ``POST /webhooks/waha``:

1. **Verify.** A missing ``X-Webhook-Hmac`` is a 401 before anything is
   parsed; the body must be UTF-8 JSON (400), an object with string ``id``,
   ``event`` and ``session`` (400); the session must have a route (404); the
   HMAC-SHA512 of the exact bytes, with that route's key, must match in
   constant time (401). Nothing is stored before all of that passed.
2. **Route.** The tenant comes from the public ``SessionRoute`` table only:
   never from the Host, ``X-Tenant`` or the envelope's metadata, so a tenant
   host cannot be used to put events into another tenant.
3. **Store once.** ``INSERT ... ON CONFLICT (event_id) DO NOTHING`` in the
   tenant's schema: a retry, or the same event through a second webhook,
   finds the row and changes nothing (``duplicate``, answered 200).
   An event to apply is stored ``pending`` (one autocommit statement) and
   answered ``accepted``; events this service does not use are stored
   ``ignored``.
4. **Apply** in the background: the insert kicks a Celery task
   (``apply_kick``) that applies the tenant's pending events in arrival
   order (``pending_events_apply``): messages, acks, session status,
   revoke/edit/reaction. The periodic sweep applies whatever a lost kick left.
   Answering first is what WAHA (and Stripe, for its own webhooks) asks of a
   receiver, and it keeps the request to one write: see bench/RESULTS.md.

A bug in a handler must neither block the events behind it nor lose the
event: the handler's writes are rolled back, the event keeps ``outcome=error``
and the traceback, logged at ERROR and counted, and the applier goes on. A
database that cannot be reached is a 503, so that WAHA retries later. No input
is ever a 500.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.db import statements as db_statements
from core.logging import tenant_var
from core.problems import InvalidInput, NotFound, ServiceError, ServiceUnavailable
from core.quiet import QuietWindow
from messaging.models import Direction, Message, PendingAck
from messaging.services import inbound
from messaging.services import media as media_service
from messaging.services.status import message_ack_apply, pending_acks_apply
from sessions_waha.models import Session
from sessions_waha.waha import wa_id_of
from tenants.models import SessionRoute
from webhooks import metrics
from webhooks.models import Outcome, WebhookEvent

logger = logging.getLogger("webhooks")

DUPLICATE = "duplicate"
# Stored; the applier (a Celery task kicked after the insert) applies it.
ACCEPTED = "accepted"
# WAHA's session-name rule (PROTOCOL §2): anything else cannot be one of ours.
_SESSION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,54}$")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_EVENT_ID = re.compile(r"^[\x21-\x7e]{1,100}$")  # evt_ + ULID; printable ASCII, no spaces
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ACK_BY_NAME = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}


# ------------------------------------------------------------------ errors


_CHALLENGE = {"WWW-Authenticate": 'HMAC realm="waha-webhooks", algorithm="sha512", header="X-Webhook-Hmac"'}


class SignatureMissing(ServiceError):
    status_code = 401
    code = "signature_missing"
    title = "Signature missing"
    headers = _CHALLENGE


class SignatureInvalid(ServiceError):
    status_code = 401
    code = "signature_invalid"
    title = "Signature invalid"
    headers = _CHALLENGE


class MalformedJson(ServiceError):
    code = "malformed_json"
    title = "Malformed JSON"


class UnknownSession(NotFound):
    code = "unknown_session"
    title = "Unknown session"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"
    title = "Request body too large"


# ------------------------------------------------------------------ verification


def signature_for(*, key: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA512 of the exact body bytes (PROTOCOL §5.3)."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def signature_valid(*, key: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of ``X-Webhook-Hmac`` over the raw body."""
    if not signature or not key:
        return False
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(signature_for(key=key, body=body).encode(), given)


def body_size_check(*, declared: str | None, body_length: int | None = None) -> None:
    """413 when the declared or actual body is over ``WEBHOOK_MAX_BODY_BYTES``."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared_length = int(declared or 0)
    except ValueError as exc:
        raise InvalidInput("Content-Length is not a number.") from exc
    if declared_length > limit or (body_length is not None and body_length > limit):
        raise PayloadTooLarge(f"Webhook bodies are limited to {limit} bytes.")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _clean(value: Any) -> Any:
    """Strings PostgreSQL can store: no NUL characters, no lone surrogates."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


@dataclass(frozen=True)
class Envelope:
    """A parsed WAHA envelope (PROTOCOL §5.4) and the JSON text to store for it."""

    data: dict[str, Any]
    stored_json: str

    @property
    def event_id(self) -> str:
        return self.data["id"]

    @property
    def event(self) -> str:
        return self.data["event"]

    @property
    def session(self) -> str:
        return self.data["session"]

    @property
    def payload(self) -> Any:
        return self.data.get("payload")

    def timestamp(self, *, now: dt.datetime) -> dt.datetime:
        """Event creation time (``timestamp`` is in ms); ``now`` when absent or implausible."""
        value = self.data.get("timestamp")
        if isinstance(value, bool) or not isinstance(value, int | float):
            return now
        try:
            moment = dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            return now
        return now if moment > now + dt.timedelta(minutes=5) else moment


def envelope_parse(body: bytes) -> Envelope:
    """The envelope of a webhook body, or ``MalformedJson``/``InvalidInput`` (both 400)."""
    try:
        text = body.decode("utf-8")
        data = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedJson("The body is not valid UTF-8 JSON.") from exc
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object (a WAHA event envelope).",
                           errors={"non_field_errors": ["Expected a JSON object."]})
    errors: dict[str, list[str]] = {}
    for name, pattern in (("id", _EVENT_ID), ("event", _EVENT_NAME), ("session", None)):
        value = data.get(name)
        if not isinstance(value, str) or not value:
            errors[name] = ["This field is required and must be a non-empty string."]
        elif pattern is not None and not pattern.match(value):
            errors[name] = ["This value is not in the expected format."]
    if errors:
        raise InvalidInput("The body is not a WAHA event envelope.", errors=errors)
    if "\\u" in text:  # escapes may hide NULs or lone surrogates that PostgreSQL refuses
        data = _clean(data)
        text = json.dumps(data)
    return Envelope(data=data, stored_json=text)


_route_cache: dict[str, tuple[float, SessionRoute]] = {}
_route_cache_lock = threading.Lock()
_ROUTE_CACHE_MAX = 10_000


def route_for(session_name: str) -> SessionRoute | None:
    """The route of a WAHA session name (unique across servers), from the public schema.

    Found routes are kept in the process for ``WEBHOOK_ROUTE_CACHE_SECONDS``
    (a route only changes when its session is created or deleted; the HMAC is
    still checked with the cached key on every event). Misses are never
    cached, so a new session's first event always finds its route.
    """
    if not _SESSION_NAME.match(session_name):
        return None
    ttl = settings.WEBHOOK_ROUTE_CACHE_SECONDS
    now = time.monotonic()
    cached = _route_cache.get(session_name)
    if cached is not None and now - cached[0] < ttl:
        return cached[1]
    route = db_statements.read_retrying(  # a connection dropped since the request began
        SessionRoute.objects.select_related("tenant").filter(waha_session_name=session_name).first)
    if route is not None and ttl > 0:
        with _route_cache_lock:
            if len(_route_cache) >= _ROUTE_CACHE_MAX:
                _route_cache.clear()
            _route_cache[session_name] = (now, route)
    return route


def route_cache_clear() -> None:
    with _route_cache_lock:
        _route_cache.clear()


# ------------------------------------------------------------------ receiving


@dataclass
class Receipt:
    """What happened to one delivery."""

    event_id: str
    event: str
    tenant: str
    session_id: str
    outcome: str
    reason: str = ""


def webhook_receive(*, body: bytes, signature: str | None, algorithm: str | None = None) -> Receipt:
    """Verify, route, store once and apply one WAHA webhook delivery (see the module docstring)."""
    started = time.perf_counter()
    if not signature:
        metrics.signature_failed("missing")
        logger.warning("webhook.rejected reason=signature_missing")
        raise SignatureMissing("X-Webhook-Hmac is required: give the session's webhook an hmac key.")
    envelope = envelope_parse(body)
    try:
        route = route_for(envelope.session)
    except (OperationalError, InterfaceError) as exc:
        logger.warning("webhook.route_failed error=%s", type(exc).__name__)
        raise ServiceUnavailable("The event could not be routed now; retry later.") from exc
    if route is None:
        metrics.signature_failed("unknown_session")
        logger.warning("webhook.rejected reason=unknown_session event=%s", metrics.event_label(envelope.event))
        raise UnknownSession("No session with this name is routed to this service.")
    if (algorithm and algorithm.strip().lower() != "sha512") or not signature_valid(
            key=route.hmac_key, body=body, signature=signature):
        metrics.signature_failed("invalid")
        logger.warning("webhook.rejected reason=signature_invalid session_id=%s", route.session_id)
        raise SignatureInvalid("X-Webhook-Hmac does not match the body.")
    metadata = envelope.data.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("session_id") not in (None, str(route.session_id)):
        # The HMAC with the route's key is the authority; a metadata mismatch is only reported.
        logger.warning("webhook.metadata_mismatch session_id=%s", route.session_id)

    tenant_var.set(route.tenant.slug)
    receipt = _store(route, envelope)
    last_event_touch()
    metrics.event_counted(event=envelope.event, tenant=route.tenant.slug, outcome=receipt.outcome)
    logger.info("webhook.received event=%s tenant=%s session_id=%s event_id=%s outcome=%s duration_ms=%.1f",
        metrics.event_label(envelope.event), route.tenant.slug, route.session_id, envelope.event_id,
        receipt.outcome, (time.perf_counter() - started) * 1000)
    return receipt


_INSERT_SQL = (
    "INSERT INTO {table} (event_id, event, session_id, received_at, payload, processed_at, outcome, error) "
    "VALUES (%(event_id)s, %(event)s, %(session)s, %(now)s, %(payload)s::jsonb, %(processed_at)s, %(outcome)s, "
    "%(error)s) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id"
)


def _insert_params(envelope: Envelope, session_id: object, *, outcome: str, error: str,
                   processed: bool) -> dict[str, Any]:
    now = timezone.now()
    return {"event_id": envelope.event_id, "event": envelope.event, "session": session_id, "now": now,
            "processed_at": now if processed else None, "payload": envelope.stored_json, "outcome": outcome,
            "error": error}


def _insert(schema_name: str, envelope: Envelope, session_id: object, *, outcome: str, error: str = "",
            processed: bool) -> int | None:
    """Store the event in the tenant's schema unless its id is known; the new row's id, or None for a duplicate.

    Idempotent (``ON CONFLICT (event_id) DO NOTHING``), so it may be retried on a dropped connection.
    """
    sql = _INSERT_SQL.format(table=db_statements.table(schema_name, WebhookEvent))
    row = db_statements.fetch_one_retrying(sql, _insert_params(envelope, session_id, outcome=outcome, error=error,
                                                                processed=processed))
    return row[0] if row else None


def _store(route: SessionRoute, envelope: Envelope) -> Receipt:
    """Store the event once: ``accepted`` (to apply), ``ignored`` (nothing to apply) or ``duplicate``."""
    schema_name = route.tenant.schema_name
    receipt = Receipt(event_id=envelope.event_id, event=envelope.event, tenant=route.tenant.slug,
                      session_id=str(route.session_id), outcome=ACCEPTED)
    try:
        skipped = _not_applied(envelope, timezone.now())
        if skipped:
            stored = _insert(schema_name, envelope, route.session_id, outcome=Outcome.IGNORED, error=skipped,
                             processed=True)
            receipt.outcome, receipt.reason = (Outcome.IGNORED, skipped) if stored else (DUPLICATE, "")
        elif _insert(schema_name, envelope, route.session_id, outcome=Outcome.PENDING, processed=False) is None:
            receipt.outcome = DUPLICATE
        else:
            transaction.on_commit(lambda: apply_kick(schema_name))
    except (OperationalError, InterfaceError) as exc:
        logger.warning("webhook.store_failed event_id=%s error=%s", envelope.event_id, type(exc).__name__)
        raise ServiceUnavailable("The event could not be stored now; retry later.") from exc
    return receipt


# ------------------------------------------------------------------ applying


@dataclass
class Applied:
    outcome: str
    reason: str = ""
    media_message_ids: list[object] = field(default_factory=list)


def _ack_level(payload: Mapping[str, Any]) -> int | None:
    ack = payload.get("ack")
    if isinstance(ack, bool) or not isinstance(ack, int):
        ack = _ACK_BY_NAME.get(str(payload.get("ackName") or "").upper())
    return ack if isinstance(ack, int) and -1 <= ack <= 4 else None


def _on_ack(session_id: object, envelope: Envelope, now: dt.datetime) -> Applied:
    """``message.ack`` / ``message.ack.group``: the monotonic status service, on the bare wa id (§9.7)."""
    payload = envelope.payload
    if not isinstance(payload, Mapping) or not isinstance(payload.get("id"), str) or not payload["id"]:
        return Applied(Outcome.IGNORED, "ack without a message id")
    if payload.get("fromMe") is False:
        return Applied(Outcome.IGNORED, "ack of a message we received")
    ack = _ack_level(payload)
    if ack is None:
        return Applied(Outcome.IGNORED, "unknown ack value")
    found = message_ack_apply(session_id=session_id, wa_id=wa_id_of(payload["id"])[:100], ack=ack)
    return Applied(Outcome.APPLIED, "" if found else "kept until the message's send result is stored")


def _clean_me(me: Any) -> dict[str, str] | None:
    if not isinstance(me, Mapping) or not isinstance(me.get("id"), str):
        return None
    push_name = me.get("pushName")
    return {"id": me["id"][:100], "pushName": push_name if isinstance(push_name, str) else ""}


def _on_session_status(session_id: object, envelope: Envelope, now: dt.datetime) -> Applied:
    from sessions_waha.services import session_status_apply

    payload = envelope.payload
    status = payload.get("status") if isinstance(payload, Mapping) else None
    if not isinstance(status, str) or not status:
        return Applied(Outcome.IGNORED, "session.status without a status")
    session = Session.objects.select_for_update().filter(pk=session_id).first()
    if session is None:
        return Applied(Outcome.IGNORED, "session not found")
    at_ms = int(envelope.timestamp(now=now).timestamp() * 1000)
    session_status_apply(session=session, status=status[:40], me=_clean_me(envelope.data.get("me")), at_ms=at_ms)
    return Applied(Outcome.APPLIED)


def _from_inbound(result: inbound.InboundResult) -> Applied:
    media = [result.message.pk] if result.fetch_media and result.message is not None else []
    return Applied(result.outcome, result.reason, media)


def _on_message(session_id: object, envelope: Envelope, now: dt.datetime) -> Applied:
    return _from_inbound(inbound.inbound_message_record(session_id=session_id, payload=envelope.payload,
                                                        now=now))


def _on_revoked(session_id: object, envelope: Envelope, now: dt.datetime) -> Applied:
    return _from_inbound(inbound.message_revoked_apply(session_id=session_id, payload=envelope.payload,
                                                       at=envelope.timestamp(now=now)))


def _on_edited(session_id: object, envelope: Envelope, now: dt.datetime) -> Applied:
    return _from_inbound(inbound.message_edited_apply(session_id=session_id, payload=envelope.payload,
                                                      at=envelope.timestamp(now=now)))


def _on_reaction(session_id: object, envelope: Envelope, now: dt.datetime) -> Applied:
    return _from_inbound(inbound.message_reaction_apply(session_id=session_id, payload=envelope.payload))


HANDLERS: dict[str, Callable[[object, Envelope, dt.datetime], Applied]] = {
    "message": _on_message,
    "message.ack": _on_ack,
    "message.ack.group": _on_ack,
    "session.status": _on_session_status,
    "message.revoked": _on_revoked,
    "message.edited": _on_edited,
    "message.reaction": _on_reaction,
}


def _not_applied(envelope: Envelope, now: dt.datetime) -> str:
    """Why this event is only stored (known before touching the database), or "" when it is applied."""
    if envelope.event not in HANDLERS:
        # message.any (own messages), presence, calls, groups...: stored, nothing to apply.
        return "event not applied by this service"
    if envelope.timestamp(now=now) < now - dt.timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS):
        # Older than our dedup memory: it may have been applied before, so it is not applied again.
        return "older than the event retention"
    return ""


# ------------------------------------------------------------------ the applier

# One Redis key per tenant: set while an applier task is queued and not yet started.
APPLY_KICK_KEY = "webhooks:apply-kick:{schema}"
# A process asks Redis at most this often per tenant; the applier task looks again this long after it
# found nothing, so an event stored in a skipped window is still seen (see apply_kick).
APPLY_KICK_WINDOW_SECONDS = 0.2
_kicked = QuietWindow(APPLY_KICK_WINDOW_SECONDS)
_APPLIER_LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext(%s))"
_APPLIER_UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtext(%s))"


def apply_kick(schema_name: str) -> None:
    """Make sure an applier task will run for this tenant soon (never raises).

    At most one task is queued per tenant: the key is set here and deleted
    when the task starts, so an event stored while the key exists is seen by
    that task's scan. Within ``APPLY_KICK_WINDOW_SECONDS`` of its last kick a
    process skips Redis: the task it kicked (or found queued) starts after that
    kick, and scans again that long after it last found nothing. Broker or
    Redis down: the periodic sweep applies the events.
    """
    from django_redis import get_redis_connection

    from webhooks.tasks import events_apply_task

    if _kicked.quiet(schema_name):
        return
    _kicked.start(schema_name)
    try:
        if get_redis_connection("default").set(APPLY_KICK_KEY.format(schema=schema_name), "1", nx=True, ex=60):
            events_apply_task.apply_async(args=[schema_name], retry=False)
    except Exception as exc:  # noqa: BLE001 - the sweep applies what the queue missed
        metrics.APPLY_ENQUEUE_FAILURES.inc()
        logger.warning("webhook.apply_enqueue_failed schema=%s error=%s", schema_name, type(exc).__name__)


def apply_kick_release(schema_name: str) -> None:
    from django_redis import get_redis_connection

    get_redis_connection("default").delete(APPLY_KICK_KEY.format(schema=schema_name))


def pending_events_apply(*, batch_size: int = 200) -> int:
    """Apply this tenant's stored, not yet applied events in arrival order; how many were applied.

    One applier per tenant at a time (a PostgreSQL advisory lock), so events
    of one chat are applied in the order WAHA sent them. An applier that finds
    the lock taken returns at once: the holder looks again after releasing it,
    so nothing stored before that is left behind.
    """
    applied = 0
    lock_name = f"webhooks.apply:{connection.schema_name}"
    while True:
        with connection.cursor() as cursor:
            cursor.execute(_APPLIER_LOCK_SQL, [lock_name])
            if not cursor.fetchone()[0]:
                return applied
        try:
            while batch := _apply_batch(batch_size):
                applied += batch
        finally:
            with connection.cursor() as cursor:
                cursor.execute(_APPLIER_UNLOCK_SQL, [lock_name])
        if not WebhookEvent.objects.filter(outcome=Outcome.PENDING).exists():
            return applied


def _apply_batch(batch_size: int) -> int:
    """Apply the oldest pending events, each in its own savepoint; media is enqueued after commit."""
    with transaction.atomic():
        events = list(WebhookEvent.objects.filter(outcome=Outcome.PENDING).order_by("id")[:batch_size])
        for event in events:
            _apply_stored(event)
        WebhookEvent.objects.bulk_update(events, ["outcome", "error", "processed_at"])
    return len(events)


def _apply_stored(event: WebhookEvent) -> None:
    """Apply one stored event; a handler bug is kept on the event (``error`` and the traceback), never raised."""
    envelope = Envelope(data=event.payload, stored_json="")
    try:
        with transaction.atomic():
            result = HANDLERS[event.event](event.session_id, envelope, event.received_at)
    except (OperationalError, InterfaceError):
        raise  # the database is gone: the batch rolls back and the event stays pending
    except Exception as exc:  # noqa: BLE001 - a handler bug: keep the event for inspection, go on
        result = Applied(Outcome.ERROR, "".join(traceback.format_exception(exc))[-4000:])
    event.outcome, event.error, event.processed_at = result.outcome, result.reason, timezone.now()
    for message_id in result.media_message_ids:
        transaction.on_commit(_media_enqueuer(connection.schema_name, str(message_id)))
    metrics.event_counted(event=event.event, tenant=tenant_var.get(), outcome=result.outcome)
    log = logger.error if result.outcome == Outcome.ERROR else logger.info
    log("webhook.applied event=%s event_id=%s session_id=%s outcome=%s%s", metrics.event_label(event.event),
        event.event_id, event.session_id, result.outcome, f" reason={result.reason[:200]!r}" if result.reason else "")


# ------------------------------------------------------------------ media queue and sweep


def _media_enqueuer(schema_name: str, message_id: str) -> Callable[[], None]:
    def enqueue() -> None:
        from webhooks.tasks import media_fetch_task

        try:
            media_fetch_task.apply_async(args=[schema_name, message_id], retry=False)
        except Exception as exc:  # noqa: BLE001 - broker down: the sweep fetches it
            metrics.MEDIA_ENQUEUE_FAILURES.inc()
            logger.warning("webhook.media_enqueue_failed message_id=%s error=%s", message_id, type(exc).__name__)

    return enqueue


def media_fetch_pending(*, limit: int = 50) -> dict[str, int]:
    """Copy media the queue has not (yet) fetched, in this tenant; give up after the attempt budget."""
    counts = {"stored": 0, "failed": 0, "retry": 0}
    pending = media_service.media_pending(older_than=dt.timedelta(seconds=settings.MEDIA_SWEEP_GRACE_SECONDS),
                                          newer_than=dt.timedelta(hours=1), limit=limit)
    for message in pending:
        try:
            counts["stored" if media_service.media_fetch(message=message) else "failed"] += 1
        except media_service.MediaFetchRetry as exc:
            message.refresh_from_db(fields=["media"])
            if int((message.media or {}).get("attempts") or 0) >= settings.MEDIA_FETCH_MAX_ATTEMPTS:
                media_service.media_fetch_failed(message=message, code="media_unavailable",
                                                 detail=f"WAHA did not answer ({exc.code}).")
                counts["failed"] += 1
            else:
                counts["retry"] += 1
    return counts


def pending_acks_reconcile(*, limit: int = 500) -> int:
    """Apply early acks whose message id has been stored since, and drop very old unmatched ones.

    ``message_sent`` applies early acks when it stores the id; an ack that
    committed a moment after that check would wait forever without this.
    Acks for messages this service never sent (typed on the phone) never
    match and are dropped after ``PENDING_ACK_MAX_AGE_HOURS``.
    """
    matched = Message.objects.filter(session_id=OuterRef("session_id"), wa_id=OuterRef("wa_id"),
                                     direction=Direction.OUTBOUND)
    rows = list(PendingAck.objects.filter(Exists(matched)).values_list("session_id", "wa_id").distinct()[:limit])
    by_session: dict[object, list[str]] = {}
    for session_id, wa_id in rows:
        by_session.setdefault(session_id, []).append(wa_id)
    for session_id, wa_ids in by_session.items():
        with transaction.atomic():
            pending_acks_apply(session_id=session_id, wa_ids=wa_ids)
    cutoff = timezone.now() - dt.timedelta(hours=settings.PENDING_ACK_MAX_AGE_HOURS)
    PendingAck.objects.filter(received_at__lt=cutoff).delete()
    return len(rows)


def webhook_events_prune(*, batch: int = 5000) -> int:
    """Delete events older than ``WEBHOOK_EVENT_RETENTION_DAYS`` (at most ``batch`` per call)."""
    cutoff = timezone.now() - dt.timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    ids = list(WebhookEvent.objects.filter(received_at__lt=cutoff).values_list("pk", flat=True)[:batch])
    if ids:
        WebhookEvent.objects.filter(pk__in=ids).delete()
    return len(ids)


def webhooks_sweep() -> dict[str, int]:
    """The periodic work of one tenant (call inside its schema)."""
    report = {"events_applied": pending_events_apply()}
    report.update(media_fetch_pending())
    report["acks_reconciled"] = pending_acks_reconcile()
    report["events_pruned"] = webhook_events_prune()
    return report


# ------------------------------------------------------------------ last event (public, for /webhooks/health)

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
