"""The periodic work of one tenant's webhooks (``webhooks.sweep``, every ``WEBHOOK_SWEEP_SECONDS``).

Events whose kick was lost, media the queue has not fetched, early acks whose message has been stored since,
and events older than the retention.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.db.ids import RowId
from messaging.models import Direction, Message, PendingAck
from messaging.services import media as media_service
from messaging.services.status import pending_acks_apply
from webhooks.models import WebhookEvent
from webhooks.services.applier import pending_events_apply


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
    by_session: dict[RowId, list[str]] = {}
    for session_id, wa_id in rows:
        by_session.setdefault(session_id, []).append(wa_id)
    for session_with_acks, wa_ids in by_session.items():
        with transaction.atomic():
            pending_acks_apply(session_id=session_with_acks, wa_ids=wa_ids)
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
