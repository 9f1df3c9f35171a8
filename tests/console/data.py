"""What a tenant's console shows on an ordinary day: one session, a few chats, every kind of message.

``seed_console`` is used by the test-client tests (inside their rolled-back transaction) and by
the browser tests (committed, in their own tenant, for a live gunicorn to read).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django_tenants.utils import tenant_context

from messaging.models import Batch, Conversation, Direction, Message, MessageStatus
from sessions_waha.models import Session, SessionStatus
from tenants.models import WahaServer
from tenants.waha_pool import DEFAULT_SERVER_NAME, waha_server_default
from webhooks.models import Outcome, WebhookEvent

# The number of the failed message, as the API accepted it and as the chat id stores it.
FAILED_NUMBER = "+49 151 9999 9999"
FAILED_CHAT = "4915199999999@c.us"
FAILED_DETAIL = "WAHA refused the message (422): the number is not on WhatsApp"

# The bulk send's rejected recipients, as POST /messages/bulk answered them (and the batch stores them).
BATCH_REJECTIONS = [
    {
        "index": 1,
        "to": "0151-CALL-ME",
        "errors": {"to": ["phone numbers may contain only digits, one leading +, spaces, dashes, dots and brackets"]},
    },
    {"index": 4, "to": "+4915233344455", "errors": {"variables": ["missing variable 'order'"]}},
]


@dataclass
class ConsoleData:
    session: Session
    failed: Message
    retrying: Message
    delivered: Message
    inbound: Message
    batch: Batch
    batch_failed: Message
    ack_event: WebhookEvent


def _chat(session: Session, chat_id: str, name: str) -> Conversation:
    return Conversation.objects.create(
        session=session, chat_id=chat_id, contact_name=name, last_message_at=timezone.now()
    )


def seed_console(tenant, *, now: dt.datetime | None = None) -> ConsoleData:
    """A WORKING session ``main`` and its messages: failed, retrying, delivered, inbound, a bulk send."""
    now = now or timezone.now()
    with tenant_context(tenant):
        # provisioned=False: the console never asks WAHA about it (no WAHA runs for these tests).
        # The default server as it is: the browser tests' gunicorn points it at the sandbox, and this process
        # (with another WAHA_BASE_URL) must not move it back.
        server = WahaServer.objects.filter(name=DEFAULT_SERVER_NAME).first() or waha_server_default()
        session = Session.objects.create(
            name="main",
            waha_name=f"{tenant.schema_name}_main",
            waha_server=server,
            status=SessionStatus.WORKING,
            phone="4915100000000",
            push_name="Acme Support",
            provisioned=False,
            status_changed_at=now - dt.timedelta(hours=2),
            status_refreshed_at=now,
        )
        anna = _chat(session, FAILED_CHAT, "Anna Schmidt")
        ben = _chat(session, "4917612345678@c.us", "Ben Okafor")
        carla = _chat(session, "34600111222@c.us", "Carla Ruiz")
        dana = _chat(session, "4915222333444@c.us", "Dana Weber")
        emil = _chat(session, "4917055566677@c.us", "Emil Nowak")
        batch = Batch.objects.create(
            session=session,
            template="Your order {order} has shipped",
            total=3,
            rejected=len(BATCH_REJECTIONS),
            rejected_recipients=BATCH_REJECTIONS,
        )

        def message(conversation: Conversation, seconds_ago: int, **fields) -> Message:
            created = Message.objects.create(
                session=session, conversation=conversation, chat_id=conversation.chat_id, **fields
            )
            # created_at is auto_now_add: set the story's times afterwards.
            Message.objects.filter(pk=created.pk).update(created_at=now - dt.timedelta(seconds=seconds_ago))
            created.refresh_from_db()
            return created

        failed = message(
            anna,
            600,
            direction=Direction.OUTBOUND,
            text="Your appointment is confirmed for Monday 10:00.",
            status=MessageStatus.FAILED,
            attempts=1,
            error_code="waha_rejected",
            error_detail=FAILED_DETAIL,
            failed_at=now - dt.timedelta(seconds=598),
            attempt_log=[
                {
                    "attempt": 1,
                    "at": (now - dt.timedelta(seconds=599)).isoformat(),
                    "outcome": "error",
                    "error": "WahaRejected",
                    "detail": "422 the number is not on WhatsApp",
                    "duration_ms": 84.2,
                }
            ],
        )
        retrying = message(
            ben,
            300,
            direction=Direction.OUTBOUND,
            text="Reminder: your parcel is waiting at the depot.",
            status=MessageStatus.QUEUED,
            attempts=4,
            error_code="WahaTimeout",
            error_detail="WAHA did not answer within 30 s",
            next_attempt_at=now + dt.timedelta(minutes=10),
            attempt_log=[
                {
                    "attempt": n,
                    "at": (now - dt.timedelta(seconds=300 - 30 * n)).isoformat(),
                    "outcome": "error",
                    "error": "WahaTimeout",
                    "detail": "WAHA did not answer within 30 s",
                    "duration_ms": 30000.0,
                }
                for n in range(1, 5)
            ],
        )
        delivered = message(
            carla,
            900,
            direction=Direction.OUTBOUND,
            text="Your order 4711 has shipped",
            batch=batch,
            status=MessageStatus.DELIVERED,
            attempts=1,
            waha_message_id="true_34600111222@c.us_3EB0C0FFEE",
            wa_id="3EB0C0FFEE",
            sent_at=now - dt.timedelta(seconds=899),
            delivered_at=now - dt.timedelta(seconds=880),
            attempt_log=[
                {
                    "attempt": 1,
                    "at": (now - dt.timedelta(seconds=899)).isoformat(),
                    "outcome": "sent",
                    "duration_ms": 212.5,
                }
            ],
        )
        batch_failed = message(
            dana,
            890,
            direction=Direction.OUTBOUND,
            text="Your order 4712 has shipped",
            batch=batch,
            status=MessageStatus.FAILED,
            attempts=5,
            error_code="send_failed",
            error_detail="WAHA kept failing: 5 attempts, the last answered 503",
            failed_at=now - dt.timedelta(seconds=600),
        )
        message(
            emil,
            880,
            direction=Direction.OUTBOUND,
            text="Your order 4713 has shipped",
            batch=batch,
            status=MessageStatus.QUEUED,
            next_attempt_at=now + dt.timedelta(minutes=5),
        )
        inbound = message(
            carla,
            120,
            direction=Direction.INBOUND,
            text="Thanks! When will it arrive?",
            status=MessageStatus.RECEIVED,
            wa_id="3EB0BEEF01",
            waha_message_id="false_34600111222@c.us_3EB0BEEF01",
        )
        ack_event = WebhookEvent.objects.create(
            event_id="evt_01CONSOLEACK0000000000001",
            event="message.ack",
            session=session,
            received_at=now - dt.timedelta(seconds=880),
            processed_at=now - dt.timedelta(seconds=880),
            outcome=Outcome.APPLIED,
            payload={
                "event": "message.ack",
                "session": session.waha_name,
                "payload": {"id": delivered.waha_message_id, "ack": 2, "ackName": "DEVICE"},
            },
        )
        return ConsoleData(session, failed, retrying, delivered, inbound, batch, batch_failed, ack_event)
