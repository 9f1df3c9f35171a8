"""Reads of the webhook receiver: what /webhooks/health and the admin show."""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.urls import reverse

from core.db.ids import RowId
from messaging.console_hooks import EventLink
from messaging.models import Message
from webhooks.last_event import LAST_EVENT_KEY, last_event_local
from webhooks.models import WebhookEvent

logger = logging.getLogger("webhooks")


def last_event_at() -> dt.datetime | None:
    """When the last verified event arrived (any tenant, any process), or None.

    Kept in Redis so that the public host answers without a tenant schema;
    with Redis down, this process's own last event is the answer.
    """
    seconds = last_event_local["at"] or None
    try:
        from django_redis import get_redis_connection

        stored = get_redis_connection("default").get(LAST_EVENT_KEY)
        if stored:
            seconds = max(float(stored), seconds or 0.0)
    except Exception as exc:  # noqa: BLE001 - Redis down or a foreign value: fall back to local knowledge
        logger.warning("webhook.last_event_unreadable error=%s", type(exc).__name__)
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC) if seconds else None


def webhook_events(*, session_id: RowId | None = None, event: str | None = None) -> QuerySet[WebhookEvent]:
    """This tenant's stored events, newest first (call inside the tenant's schema)."""
    events = WebhookEvent.objects.all()
    if session_id is not None:
        events = events.filter(session_id=session_id)
    if event:
        events = events.filter(event=event)
    return events


# How far before a message a webhook event may have arrived and still concern it (an inbound
# message's event is stored just before the message).
EVENT_WINDOW = dt.timedelta(minutes=5)
EVENTS_SHOWN = 20


def events_touching_message(message: Message) -> QuerySet[WebhookEvent]:
    """Stored WAHA events of the message's session that name its WhatsApp id (acks, edits, reactions...)."""
    if not message.wa_id:
        return WebhookEvent.objects.none()
    return (WebhookEvent.objects
            .filter(session_id=message.session_id, received_at__gte=message.created_at - EVENT_WINDOW)
            .annotate(body=Cast("payload", TextField()))
            .filter(body__contains=message.wa_id)
            .only("id", "event", "received_at", "outcome")
            .order_by("received_at")[:EVENTS_SHOWN])


def console_event_links(message: Message) -> list[EventLink]:
    """The message page's links to these events (registered with ``messaging.console_hooks``)."""
    return [EventLink(url=reverse("admin:webhooks_webhookevent_change", args=[event.pk]), name=event.event,
                      received_at=event.received_at, outcome=event.get_outcome_display())
            for event in events_touching_message(message)]
