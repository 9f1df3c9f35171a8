"""Events are recorded with the change they report: every status writer, inbound, sessions, batches."""

from __future__ import annotations

import pytest
from django.db import transaction
from django_tenants.utils import tenant_context

from events import render
from events.models import Delivery, Event
from messaging.models import Batch, Conversation, Direction, Message
from messaging.serializers import MessageSerializer
from messaging.services import status
from messaging.services.sending import batches_complete
from sessions_waha.services import session_status_apply
from tests.messaging.test_status_machine import WRITERS, _one_per_status

EVENT_TARGETS = {"sent", "delivered", "read", "failed", "canceled", "received"}


def _events() -> list[tuple[str, str]]:
    return sorted((event.type, event.row["id"]) for event in Event.objects.all())


@pytest.mark.parametrize("writer", list(WRITERS))
def test_each_status_writer_records_one_event_per_message_it_moves_to_a_reported_status(
    acme, plain_session, make_endpoint, writer
):
    make_endpoint(acme)
    move, write = WRITERS[writer]
    with tenant_context(acme):
        messages = _one_per_status(plain_session)
        write(messages, plain_session)
        expected = sorted(
            (f"message.{move.target}", str(messages[source].pk))
            for source in move.sources
            if move.target in EVENT_TARGETS
        )
        assert _events() == expected
        assert Delivery.objects.count() == len(expected)


def test_nothing_is_recorded_without_a_subscribed_enabled_endpoint(acme, plain_session, make_endpoint):
    make_endpoint(acme, events=["message.read"])
    make_endpoint(acme, enabled=False)
    with tenant_context(acme):
        messages = _one_per_status(plain_session)
        status.message_failed(message=messages["sending"], code="send_failed", detail="x", attempt=None)
        status.message_ack_apply(session_id=plain_session.pk, wa_id=messages["sent"].wa_id, ack=2)
        assert Event.objects.count() == 0


def test_an_endpoint_gets_only_the_types_it_subscribes_to(acme, plain_session, make_endpoint):
    reads = make_endpoint(acme, events=["message.read"])
    everything = make_endpoint(acme, events=["*"])
    with tenant_context(acme):
        messages = _one_per_status(plain_session)
        status.message_ack_apply(session_id=plain_session.pk, wa_id=messages["sent"].wa_id, ack=2)
        status.message_ack_apply(session_id=plain_session.pk, wa_id=messages["delivered"].wa_id, ack=3)
        got = sorted((d.endpoint_id == reads.pk, d.event_type) for d in Delivery.objects.all())
    assert got == [(False, "message.delivered"), (False, "message.read"), (True, "message.read")]
    assert everything.pk not in {reads.pk}


def test_the_event_rolls_back_with_the_change(acme, plain_session, make_endpoint):
    make_endpoint(acme)
    with tenant_context(acme):
        messages = _one_per_status(plain_session)
        with pytest.raises(RuntimeError), transaction.atomic():
            status.message_failed(message=messages["queued"], code="send_failed", detail="x", attempt=None)
            assert Event.objects.count() == 1
            raise RuntimeError("the change fails after the status write")
        assert Event.objects.count() == 0
        assert Message.objects.get(pk=messages["queued"].pk).status == "queued"


def test_another_tenants_endpoint_never_gets_this_tenants_events(acme, globex, plain_session, make_endpoint):
    make_endpoint(globex)
    with tenant_context(acme):
        messages = _one_per_status(plain_session)
        status.message_failed(message=messages["queued"], code="send_failed", detail="x", attempt=None)
        assert Event.objects.count() == 0
    with tenant_context(globex):
        assert Event.objects.count() == 0 and Delivery.objects.count() == 0


def test_rendered_data_is_the_message_as_get_showed_it_at_the_change(
    acme, plain_session, make_endpoint, admin, client_for
):
    make_endpoint(acme)
    with tenant_context(acme):
        message = _one_per_status(plain_session)["sent"]
        status.message_ack_apply(session_id=plain_session.pk, wa_id=message.wa_id, ack=2)
    at_the_change = client_for(acme, admin).get(f"/messages/{message.pk}").json()
    with tenant_context(acme):
        status.message_ack_apply(session_id=plain_session.pk, wa_id=message.wa_id, ack=3)
        delivered_event, read_event = Event.objects.order_by("created_at")
        render.events_render([delivered_event, read_event])
    assert at_the_change["status"] == "delivered"
    assert delivered_event.data == at_the_change
    assert read_event.data["status"] == "read" and read_event.data["read_at"]
    assert set(read_event.data) == set(MessageSerializer.Meta.fields)


def test_an_inbound_message_records_message_received(acme, plain_session, make_endpoint):
    from messaging.services.inbound import inbound_message_record

    make_endpoint(acme, events=["message.received"])
    with tenant_context(acme):
        result = inbound_message_record(
            session_id=plain_session.pk,
            payload={"id": "false_4915199999999@c.us_ABC", "from": "4915199999999@c.us", "body": "hello"},
        )
        (event,) = Event.objects.all()
        render.events_render([event])
    assert event.type == "message.received"
    assert event.data["id"] == str(result.message.pk) and event.data["text"] == "hello"
    assert event.data["direction"] == Direction.INBOUND


def test_a_session_status_change_records_session_status(acme, plain_session, make_endpoint):
    make_endpoint(acme, events=["session.status"])
    with tenant_context(acme):
        session_status_apply(session=plain_session, status="WORKING", me=None, at_ms=None)
        session_status_apply(session=plain_session, status="WORKING", me=None, at_ms=None)  # no change
        (event,) = Event.objects.all()
    assert event.type == "session.status"
    assert event.data["id"] == str(plain_session.pk) and event.data["status"] == "WORKING"


def test_a_batch_that_completes_records_batch_completed_once(acme, plain_session, make_endpoint, admin):
    make_endpoint(acme, events=["batch.completed"])
    with tenant_context(acme):
        batch = Batch.objects.create(session=plain_session, created_by=admin, template="t", total=1)
        conversation = Conversation.objects.create(session=plain_session, chat_id="4915100000001@c.us")
        Message.objects.create(
            session=plain_session,
            conversation=conversation,
            batch=batch,
            chat_id=conversation.chat_id,
            text="t",
            status="sent",
        )
        assert batches_complete() == 1
        assert batches_complete() == 0
        (event,) = Event.objects.all()
    assert event.type == "batch.completed"
    assert event.data["id"] == str(batch.pk) and event.data["completed_at"]
