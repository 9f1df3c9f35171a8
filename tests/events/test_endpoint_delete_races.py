"""Deleting an endpoint while rows under it are being written (``events.locks``): the delete answers 204,
the writers finish without an error, and nothing is left behind.

The delete goes through gunicorn and the writers are the real functions, each
on its own thread and connection (``tests/e2e_races.py``: the pauser holds one
row to pause whichever side must go first).

Django's foreign keys are checked at commit, so without the rule each race ends
in a failed commit: the delete's (a 500, seen in the Schemathesis run) or the
writer's (a status change rolled back with its event).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from events import delivery, outbox, sender
from events.models import Attempt, Delivery, Endpoint, Event
from events.services import secret_new
from messaging.models import Conversation, Direction, Message
from sessions_waha.models import Session
from tenants import waha_pool
from tests.e2e_races import in_thread, one_blocked_by

pytestmark = pytest.mark.e2e


def endpoint_with_a_delivery() -> tuple[Endpoint, Delivery]:
    """A committed endpoint taking pings and ``message.sent``, with one delivery due in an hour (the live
    worker leaves it alone)."""
    endpoint = Endpoint.objects.create(url="http://127.0.0.1:9/hook", events=["ping", "message.sent"],
                                       secret=secret_new())
    now = timezone.now()
    event = Event.objects.create(type="ping", created_at=now, data={"message": "race"})
    row = Delivery.objects.create(
        event=event, endpoint=endpoint, event_type="ping", created_at=now, next_attempt_at=now + timedelta(hours=1)
    )
    return endpoint, row


def rows_of(endpoint: Endpoint) -> tuple[int, int, int]:
    return (
        Endpoint.objects.filter(pk=endpoint.pk).count(),
        Delivery.objects.filter(endpoint_id=endpoint.pk).count(),
        Attempt.objects.filter(delivery__endpoint_id=endpoint.pk).count(),
    )


def delete_through_the_api(pool: ThreadPoolExecutor, e2e, endpoint: Endpoint) -> Future:
    return pool.submit(e2e.http.delete, e2e.url(f"/webhooks/endpoints/{endpoint.pk}"), timeout=30)


def outcome_of(row: Delivery) -> delivery.Outcome:
    claimed = delivery.Claimed(row.pk, row.event_id, 0, 0, row.created_at)
    return delivery.Outcome(claimed, sender.Answer(500, "", "busy", 5), timezone.now())


# ------------------------------------------------------------------ the writer first


def test_a_delete_while_an_attempt_is_being_recorded_waits_for_it_and_deletes_it_too(e2e, pauser, threads):
    endpoint, row = endpoint_with_a_delivery()
    pauser.execute("SELECT 1 FROM events_delivery WHERE id = %s FOR UPDATE", [row.pk])
    recording = in_thread(threads, lambda: delivery._record(endpoint, [outcome_of(row)]))
    writer = one_blocked_by(pauser.info.backend_pid, "the record")  # it holds the endpoint; its write waits
    deleting = delete_through_the_api(threads, e2e, endpoint)
    one_blocked_by(writer, "the delete")
    pauser.commit()
    answer = deleting.result(timeout=30)
    assert answer.status_code == 204, answer.text
    assert recording.result(timeout=30) is True
    assert rows_of(endpoint) == (0, 0, 0)


# ------------------------------------------------------------------ the delete first


def message_to_report() -> Message:
    """A sent message of a session of the e2e tenant: what a status writer reports as ``message.sent``."""
    session = Session.objects.create(
        name="race", waha_name=f"e2e_race_{secrets.token_hex(4)}", waha_server=waha_pool.waha_server_default()
    )
    conversation = Conversation.objects.create(session=session, chat_id="4915100000001@c.us")
    return Message.objects.create(session=session, conversation=conversation, direction=Direction.OUTBOUND,
                                  chat_id=conversation.chat_id, text="race", status="sent")


def attempt_record(endpoint: Endpoint, row: Delivery) -> Callable[[], Any]:
    """The drainer records an attempt; False: nothing to record, the deliveries went with the endpoint."""
    return lambda: delivery._record(endpoint, [outcome_of(row)])


def message_fan_out(endpoint: Endpoint, row: Delivery) -> Callable[[], Any]:
    """A status change fans its event out in its own statement (``outbox_ctes``); the event is written (its
    subscriber was there when the statement began) and no delivery is."""
    message = message_to_report()
    return lambda: outbox.messages_record(table=Message._meta.db_table, message_ids=[message.pk], status="sent")


def event_record(endpoint: Endpoint, row: Delivery) -> Callable[[], Any]:
    """Sessions, batches and pings record through ``event_record``; None: nobody left to deliver it to."""
    return lambda: outbox.event_record(type="ping", data={})


WRITERS = {"attempt record": (attempt_record, False), "message fan-out": (message_fan_out, 1),
           "event record": (event_record, None)}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_writer_during_a_delete_waits_for_it_and_writes_nothing_for_the_gone_endpoint(
    e2e, pauser, threads, writer
):
    endpoint, row = endpoint_with_a_delivery()
    make_writer, returns = WRITERS[writer]
    work = make_writer(endpoint, row)
    pauser.execute("SELECT 1 FROM events_delivery WHERE id = %s FOR UPDATE", [row.pk])
    deleting = delete_through_the_api(threads, e2e, endpoint)
    deleter = one_blocked_by(pauser.info.backend_pid, "the delete")  # it holds the endpoint; its cascade waits
    writing = in_thread(threads, work)
    one_blocked_by(deleter, f"the {writer}")
    pauser.commit()
    answer = deleting.result(timeout=30)
    assert answer.status_code == 204, answer.text
    assert writing.result(timeout=30) == returns
    assert rows_of(endpoint) == (0, 0, 0)
