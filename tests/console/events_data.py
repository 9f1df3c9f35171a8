"""A tenant's event webhooks on an ordinary day: an endpoint with delivered, failed and retrying deliveries, and
one the receiver disabled with 410.

``seed_event_log`` is used by the test-client tests (inside their rolled-back transaction) and by the browser
tests (committed, in their own tenant). Answers, errors and payloads carry markup, as a hostile receiver or
contact could send: the console must show it as text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django_tenants.utils import tenant_context

from events.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event, EventType
from events.services import secret_new

ORDERS_URL = "https://backend.example.com/whatsapp/events"
LEGACY_URL = "https://old.example.com/hook"
HOSTILE_RESPONSE = '<script>alert("response")</script> upstream said no'
HOSTILE_TEXT = "<img src=x onerror=alert(1)> Your order has shipped"
HOSTILE_ERROR = 'ConnectError: <b>refused</b> & "closed"'
GONE_REASON = "The endpoint answered 410 Gone."


@dataclass
class EventLog:
    orders: Endpoint
    legacy: Endpoint
    delivered: Delivery
    failed: Delivery
    retrying: Delivery
    fresh: Delivery
    gone: Delivery


def _message_data(status: str, text: str) -> dict:
    return {"id": "0b8f3c1e-0000-7000-8000-000000000001", "status": status, "to": "4915112345678@c.us", "text": text}


def _delivery(
    endpoint: Endpoint, event_type: str, at: dt.datetime, data: dict, *, attempts: list[tuple], **fields
) -> Delivery:
    """An event at ``at``, its delivery to ``endpoint`` and its attempts ``(seconds after, code, error, response,
    ms)``; the delivery's last-attempt fields follow the last one."""
    event = Event.objects.create(type=event_type, created_at=at, data=data)
    last = attempts[-1] if attempts else None
    delivery = Delivery.objects.create(
        event=event,
        endpoint=endpoint,
        event_type=event_type,
        created_at=at,
        attempts=len(attempts),
        last_attempt_at=at + dt.timedelta(seconds=last[0]) if last else None,
        last_status_code=last[1] if last else None,
        last_error=last[2] if last else "",
        last_response=last[3] if last else "",
        duration_ms=last[4] if last else None,
        **fields,
    )
    Attempt.objects.bulk_create(
        Attempt(
            delivery=delivery,
            attempted_at=at + dt.timedelta(seconds=after),
            status_code=code,
            error=error,
            response=response,
            duration_ms=ms,
        )
        for after, code, error, response, ms in attempts
    )
    return delivery


def seed_event_log(tenant, *, orders_url: str = ORDERS_URL, now: dt.datetime | None = None) -> EventLog:
    now = (now or timezone.now()).replace(microsecond=0)
    with tenant_context(tenant):
        orders = Endpoint.objects.create(
            url=orders_url,
            events=[
                EventType.MESSAGE_DELIVERED,
                EventType.MESSAGE_FAILED,
                EventType.MESSAGE_READ,
                EventType.SESSION_STATUS,
            ],
            description="Order notifications backend",
            secret=secret_new(),
        )
        legacy = Endpoint.objects.create(
            url=LEGACY_URL,
            events=["*"],
            secret=secret_new(),
            enabled=False,
            disabled_reason=GONE_REASON,
            disabled_at=now - dt.timedelta(days=1),
        )
        Endpoint.objects.filter(pk=legacy.pk).update(created_at=now - dt.timedelta(days=30))
        Endpoint.objects.filter(pk=orders.pk).update(created_at=now - dt.timedelta(days=2))
        failed = _delivery(
            orders,
            EventType.MESSAGE_FAILED,
            now - dt.timedelta(hours=2),
            _message_data("failed", HOSTILE_TEXT),
            attempts=[
                (1, 500, "", "Internal Server Error", 87),
                (7, None, "ReadTimeout: no answer within 10 s", "", 10003),
                (70, 503, HOSTILE_ERROR, HOSTILE_RESPONSE, 41),
            ],
            status=DeliveryStatus.FAILED,
        )
        delivered = _delivery(
            orders,
            EventType.MESSAGE_DELIVERED,
            now - dt.timedelta(minutes=20),
            _message_data("delivered", "Your order 4711 has shipped"),
            attempts=[(1, 200, "", "ok", 64)],
            status=DeliveryStatus.DELIVERED,
            delivered_at=now - dt.timedelta(minutes=20) + dt.timedelta(seconds=1),
        )
        retrying = _delivery(
            orders,
            EventType.MESSAGE_READ,
            now - dt.timedelta(minutes=5),
            _message_data("read", "Your order 4711 has shipped"),
            attempts=[(1, 502, "", "Bad Gateway", 120)],
            status=DeliveryStatus.PENDING,
            next_attempt_at=now + dt.timedelta(minutes=4),
        )
        fresh = _delivery(
            orders,
            EventType.SESSION_STATUS,
            now - dt.timedelta(seconds=30),
            {"id": "7c1f", "name": "main", "status": "WORKING"},
            attempts=[],
            status=DeliveryStatus.PENDING,
            next_attempt_at=now - dt.timedelta(seconds=30),
        )
        gone = _delivery(
            legacy,
            EventType.MESSAGE_SENT,
            now - dt.timedelta(days=1),
            _message_data("sent", "Hello"),
            attempts=[(1, 410, "", "Gone", 12)],
            status=DeliveryStatus.FAILED,
        )
        return EventLog(orders, legacy, delivered, failed, retrying, fresh, gone)
