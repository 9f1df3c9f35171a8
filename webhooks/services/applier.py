"""The applier: stored webhook events become messages, acks and session statuses, in arrival order.

The receiver stores an event and kicks this tenant's applier (``apply_kick``); the Celery task
``webhooks.events_apply`` runs ``pending_events_apply``, and the periodic sweep runs it too, so an event whose
kick was lost is applied there. Each event is applied in a savepoint: a handler bug keeps that event as
``error`` with its traceback, and the others go on.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from core.db.ids import RowId
from core.logging import tenant_var
from core.quiet import QuietWindow
from core.tenancy import current_schema
from messaging.services import inbound
from messaging.services.status import message_ack_apply
from sessions_waha.models import Session
from sessions_waha.waha import wa_id_of
from webhooks import metrics
from webhooks.models import Outcome, WebhookEvent
from webhooks.services import enqueue
from webhooks.services.envelope import Envelope

logger = logging.getLogger("webhooks")

_ACK_BY_NAME = {"ERROR": -1, "PENDING": 0, "SERVER": 1, "DEVICE": 2, "READ": 3, "PLAYED": 4}


@dataclass
class Applied:
    outcome: str
    reason: str = ""
    media_message_ids: Sequence[RowId] = field(default_factory=list)


def _ack_level(payload: Mapping[str, Any]) -> int | None:
    ack = payload.get("ack")
    if isinstance(ack, bool) or not isinstance(ack, int):
        ack = _ACK_BY_NAME.get(str(payload.get("ackName") or "").upper())
    return ack if isinstance(ack, int) and -1 <= ack <= 4 else None


def _on_ack(session_id: RowId, envelope: Envelope, now: dt.datetime) -> Applied:
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


def _on_session_status(session_id: RowId, envelope: Envelope, now: dt.datetime) -> Applied:
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


def _on_message(session_id: RowId, envelope: Envelope, now: dt.datetime) -> Applied:
    return _from_inbound(inbound.inbound_message_record(session_id=session_id, payload=envelope.payload,
                                                        now=now))


def _on_revoked(session_id: RowId, envelope: Envelope, now: dt.datetime) -> Applied:
    return _from_inbound(inbound.message_revoked_apply(session_id=session_id, payload=envelope.payload,
                                                       at=envelope.timestamp(now=now)))


def _on_edited(session_id: RowId, envelope: Envelope, now: dt.datetime) -> Applied:
    return _from_inbound(inbound.message_edited_apply(session_id=session_id, payload=envelope.payload,
                                                      at=envelope.timestamp(now=now)))


def _on_reaction(session_id: RowId, envelope: Envelope, now: dt.datetime) -> Applied:
    return _from_inbound(inbound.message_reaction_apply(session_id=session_id, payload=envelope.payload))


HANDLERS: dict[str, Callable[[RowId, Envelope, dt.datetime], Applied]] = {
    "message": _on_message,
    "message.ack": _on_ack,
    "message.ack.group": _on_ack,
    "session.status": _on_session_status,
    "message.revoked": _on_revoked,
    "message.edited": _on_edited,
    "message.reaction": _on_reaction,
}


def not_applied_reason(envelope: Envelope, now: dt.datetime) -> str:
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

    if _kicked.quiet(schema_name):
        return
    _kicked.start(schema_name)
    try:
        if get_redis_connection("default").set(APPLY_KICK_KEY.format(schema=schema_name), "1", nx=True, ex=60):
            enqueue.events_apply_enqueue(schema_name)
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
    lock_name = f"webhooks.apply:{current_schema()}"
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
        transaction.on_commit(_media_enqueuer(current_schema(), str(message_id)))
    metrics.event_counted(event=event.event, tenant=tenant_var.get(), outcome=result.outcome)
    log = logger.error if result.outcome == Outcome.ERROR else logger.info
    log("webhook.applied event=%s event_id=%s session_id=%s outcome=%s%s", metrics.event_label(event.event),
        event.event_id, event.session_id, result.outcome, f" reason={result.reason[:200]!r}" if result.reason else "")



# ------------------------------------------------------------------ media copies, after commit


def _media_enqueuer(schema_name: str, message_id: str) -> Callable[[], None]:
    def media_fetch() -> None:
        try:
            enqueue.media_fetch_enqueue(schema_name, message_id)
        except Exception as exc:  # noqa: BLE001 - broker down: the sweep fetches it
            metrics.MEDIA_ENQUEUE_FAILURES.inc()
            logger.warning("webhook.media_enqueue_failed message_id=%s error=%s", message_id, type(exc).__name__)

    return media_fetch
