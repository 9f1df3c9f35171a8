"""End to end from the WAHA sandbox: real signed webhooks, replayed byte for byte, through to the API.

The sandbox posts its webhooks to a local capture server (a real HTTP
delivery with WAHA's headers and HMAC); each test replays those exact bytes
and headers into the Django test client, so the receiver verifies the real
signature over the real body inside the test's transaction. Media is copied
from the sandbox's ``/api/files/`` by calling the fetch service (or the
Celery task body) synchronously.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.roles import Role
from messaging.models import Conversation, Message
from messaging.services import media as media_service
from sessions_waha.models import Session
from sessions_waha.services import session_create
from tests.support_processes import wait_until
from tests.webhooks.webhook_helpers import counts, inject, replay, stored
from webhooks.services import sweep
from webhooks.tasks import media_fetch_task


@pytest.fixture
def live(acme, sandbox, settings, capture):
    """A WORKING acme session in the sandbox whose webhooks go to the capture server."""
    settings.WEBHOOK_BASE_URL = capture.base_url
    settings.SEND_PACING = "off"
    with tenant_context(acme):
        session = session_create(name="support")
    sandbox.pair(session.waha_name, phone="4915100000000")
    return session


@pytest.fixture
def admin_api(acme, make_user, client_for):
    return client_for(acme, make_user(acme, Role.TENANT_ADMIN))


# ---------------------------------------------------------------- text


def test_inbound_text_from_the_sandbox_reaches_messages_and_conversations(
    live, sandbox, capture, public_client, admin_client, acme, make_user, client_for
):
    answer, delivery = inject(
        sandbox, capture, live, **{"from": "4915199999999", "text": "Hi there", "pushName": "Ana"}
    )
    assert delivery["path"] == "/webhooks/waha"
    response = replay(public_client, delivery)
    assert response.status_code == 200 and response.json()["outcome"] == "accepted"

    messages = admin_client.get("/messages").json()["results"]
    assert len(messages) == 1
    message = messages[0]
    assert message["direction"] == "inbound" and message["status"] == "received"
    assert message["text"] == "Hi there" and message["from"] == "4915199999999@c.us"
    assert message["waha_message_id"] == answer["id"] and message["media"] is None
    conversations = admin_client.get("/conversations").json()["results"]
    assert [(c["chat_id"], c["contact_name"], c["unread_count"]) for c in conversations] == [
        ("4915199999999@c.us", "Ana", 1)
    ]

    _, second = inject(sandbox, capture, live, **{"from": "4915199999999", "text": "Are you there?"})
    replay(public_client, second)
    assert admin_client.get("/conversations").json()["results"][0]["unread_count"] == 2
    assert len(admin_client.get("/messages?direction=inbound").json()["results"]) == 2

    agent = make_user(acme, Role.AGENT)
    assert client_for(acme, agent).get("/messages").json()["results"] == []
    assert client_for(acme, agent).get("/conversations").json()["results"] == []


def test_replaying_the_real_delivery_twice_changes_nothing(live, sandbox, capture, public_client, acme):
    _, delivery = inject(sandbox, capture, live, **{"from": "4915199999999", "text": "once"})
    assert replay(public_client, delivery).json()["outcome"] == "accepted"
    assert replay(public_client, delivery).json()["outcome"] == "duplicate"
    assert counts(acme)["messages"] == 1


def test_tampered_real_delivery_is_refused(live, sandbox, capture, public_client, acme):
    _, delivery = inject(sandbox, capture, live, **{"from": "4915199999999", "text": "pay 10"})
    tampered = {**delivery, "body": delivery["body"].replace(b"pay 10", b"pay 99")}
    assert replay(public_client, tampered).status_code == 401
    assert counts(acme)["events"] == 0


def test_real_session_status_events_update_the_session(live, capture, public_client, acme):
    def captured():
        return [d for d in list(capture.requests) if json.loads(d["body"])["event"] == "session.status"]

    # Deliveries are concurrent: wait until the pairing's WORKING has arrived too.
    assert wait_until(lambda: any(json.loads(d["body"])["payload"]["status"] == "WORKING" for d in captured()))
    for delivery in captured():
        assert replay(public_client, delivery).status_code == 200
    with tenant_context(acme):
        session = Session.objects.get(pk=live.pk)
    assert session.status == "WORKING" and session.phone == "+4915100000000"


def test_real_out_of_order_and_repeated_acks_end_read(live, sandbox, capture, public_client, acme):
    from messaging.models import Direction, MessageStatus

    with tenant_context(acme):
        conversation = Conversation.objects.create(session=live, chat_id="4915188888888@c.us")
        message = Message.objects.create(
            session=live,
            conversation=conversation,
            direction=Direction.OUTBOUND,
            chat_id="4915188888888@c.us",
            status=MessageStatus.SENT,
            waha_message_id="true_4915188888888@c.us_3EB0SANDBOX01",
            wa_id="3EB0SANDBOX01",
        )
    acks = [
        {"id": "true_4915188888888@c.us_3EB0SANDBOX01", "ack": "READ", "repeat": 2},
        {"id": "true_4915188888888@c.us_3EB0SANDBOX01", "ack": "DEVICE"},
        {"id": "true_4915188888888@c.us_3EB0SANDBOX01", "ack": "ERROR"},
    ]
    events = sandbox.control("POST", f"/sandbox/sessions/{live.waha_name}/acks", json={"acks": acks}).json()["events"]
    outcomes = []
    for event_id in events:
        expected = 2 if event_id == events[0] else 1  # the READ ack was sent twice with one event id

        def deliveries(event_id=event_id):
            return [d for d in list(capture.requests) if json.loads(d["body"])["id"] == event_id]

        assert wait_until(lambda: len(deliveries()) >= expected)
        outcomes += [replay(public_client, d).json()["outcome"] for d in deliveries()]
    assert outcomes == ["accepted", "duplicate", "accepted", "accepted"]
    with tenant_context(acme):
        assert Message.objects.get(pk=message.pk).status == "read"


# ---------------------------------------------------------------- media


def test_inbound_image_is_copied_and_served(live, sandbox, capture, public_client, admin_client, acme):
    answer, delivery = inject(
        sandbox, capture, live, **{"from": "4915199999999", "caption": "look", "media": {"mimetype": "image/png"}}
    )
    assert replay(public_client, delivery).json()["outcome"] == "accepted"
    message = stored(acme, answer["id"])
    assert message.type == "image" and message.text == "look" and message.media["state"] == "pending"
    with tenant_context(acme):
        assert media_service.media_fetch(message=message) is True

    original = sandbox.http.get(answer["payload"]["media"]["url"], timeout=10).content
    response = admin_client.get(f"/messages/{message.pk}/media")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == original and original.startswith(b"\x89PNG")

    detail = admin_client.get(f"/messages/{message.pk}").json()
    assert detail["media"] == {
        "mimetype": "image/png",
        "filename": f"{answer['waId']}.png",
        "size": len(original),
        "error": None,
        "url": f"/messages/{message.pk}/media",
    }
    assert "source_url" not in detail["media"]  # WAHA's internal URL is never shown


def test_document_is_served_as_an_attachment_with_its_name(live, sandbox, capture, public_client, admin_client, acme):
    answer, delivery = inject(
        sandbox,
        capture,
        live,
        **{"from": "4915199999999", "media": {"mimetype": "application/pdf", "filename": "../../Invoice 42.pdf"}},
    )
    replay(public_client, delivery)
    message = stored(acme, answer["id"])
    with tenant_context(acme):
        media_service.media_fetch(message=message)
    response = admin_client.get(f"/messages/{message.pk}/media", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="Invoice_42.pdf"'
    with tenant_context(acme):
        path = Message.objects.get(pk=message.pk).media["path"]
    assert path == f"{acme.schema_name}/{message.pk}/Invoice_42.pdf"


def test_media_that_waha_could_not_download_is_recorded_not_fetched(
    live, sandbox, capture, public_client, admin_client, acme
):
    answer, delivery = inject(
        sandbox, capture, live, **{"from": "4915199999999", "media": {"mimetype": "video/mp4", "error": "timeout"}}
    )
    assert replay(public_client, delivery).json()["outcome"] == "accepted"
    message = stored(acme, answer["id"])
    assert message.type == "video" and message.media["state"] == "unavailable"
    with tenant_context(acme):
        assert media_service.media_fetch(message=message) is False
    response = admin_client.get(f"/messages/{message.pk}/media", HTTP_ACCEPT="image/*")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert admin_client.get(f"/messages/{message.pk}").json()["media"]["error"]["code"] == "waha_media_error"


def test_expired_media_is_marked_failed(live, sandbox, capture, public_client, admin_client, acme):
    answer, delivery = inject(sandbox, capture, live, **{"from": "4915199999999", "media": {"mimetype": "image/jpeg"}})
    replay(public_client, delivery)
    sandbox.control("POST", "/sandbox/reset")  # WAHA's files are gone, as after 180 s
    message = stored(acme, answer["id"])
    with tenant_context(acme):
        assert media_service.media_fetch(message=message) is False
    media = admin_client.get(f"/messages/{message.pk}").json()["media"]
    assert media["error"]["code"] == "media_expired" and "url" not in media
    assert admin_client.get(f"/messages/{message.pk}/media").status_code == 404


def test_text_message_has_no_media(live, sandbox, capture, public_client, admin_client, acme):
    answer, delivery = inject(sandbox, capture, live, **{"from": "4915199999999", "text": "no file"})
    replay(public_client, delivery)
    message = stored(acme, answer["id"])
    response = admin_client.get(f"/messages/{message.pk}/media")
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"


def test_media_is_invisible_to_other_tenants_and_unassigned_agents(
    live, sandbox, capture, public_client, acme, globex, make_user, client_for
):
    answer, delivery = inject(sandbox, capture, live, **{"from": "4915199999999", "media": {"mimetype": "image/png"}})
    replay(public_client, delivery)
    message = stored(acme, answer["id"])
    with tenant_context(acme):
        media_service.media_fetch(message=message)
    outsider = client_for(globex, make_user(globex, Role.TENANT_ADMIN))
    assert outsider.get(f"/messages/{message.pk}/media").status_code == 404
    agent = make_user(acme, Role.AGENT)
    assert client_for(acme, agent).get(f"/messages/{message.pk}/media").status_code == 404
    with tenant_context(acme):
        Conversation.objects.filter(pk=message.conversation_id).update(assigned_to=agent)
    assert client_for(acme, agent).get(f"/messages/{message.pk}/media").status_code == 200
    assert client_for(acme).get(f"/messages/{message.pk}/media").status_code == 401


def test_celery_task_copies_media_in_the_named_schema(live, sandbox, capture, public_client, acme):
    answer, delivery = inject(sandbox, capture, live, **{"from": "4915199999999", "media": {"mimetype": "audio/ogg"}})
    replay(public_client, delivery)
    message = stored(acme, answer["id"])
    media_fetch_task.apply(args=[acme.schema_name, str(message.pk)])
    media = stored(acme, answer["id"]).media
    assert message.type == "voice" and media["state"] == "stored" and media["size"] > 0


def test_celery_task_gives_up_after_quick_retries_when_waha_is_down(live, sandbox, capture, public_client, acme):
    answer, delivery = inject(sandbox, capture, live, **{"from": "4915199999999", "media": {"mimetype": "image/png"}})
    replay(public_client, delivery)
    message = stored(acme, answer["id"])
    sandbox.faults(down=True)
    try:
        media_fetch_task.apply(args=[acme.schema_name, str(message.pk)])
    finally:
        sandbox.faults(down=False)
    media = stored(acme, answer["id"]).media
    assert media["state"] == "failed" and media["error"]["code"] == "media_unavailable"
    assert media["attempts"] >= 2


@pytest.mark.parametrize("schema_name", ["public", "t_no_such_tenant"])
def test_task_refuses_a_schema_that_is_no_tenants(
    live, sandbox, capture, public_client, acme, settings, caplog, schema_name
):
    """Logs, does nothing: a pending media file named under the wrong schema is neither fetched nor marked."""
    answer, delivery = inject(sandbox, capture, live, **{"from": "4915199999999", "media": {"mimetype": "image/png"}})
    replay(public_client, delivery)
    message = stored(acme, answer["id"])
    before = dict(message.media)
    with caplog.at_level(logging.ERROR, logger="webhooks.tasks"):
        result = media_fetch_task.apply(args=[schema_name, str(message.pk)])
    assert result.successful() and result.result is None  # refused quietly: no retry, no error raised
    (record,) = [r for r in caplog.records if r.name == "webhooks.tasks"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == (
        f"media.fetch_refused schema={schema_name} message_id={message.pk} reason=not_a_tenant"
    )
    assert stored(acme, answer["id"]).media == before and before["state"] == "pending"
    assert not any(Path(settings.MEDIA_ROOT).rglob("*"))  # nothing was copied


def test_sweep_fetches_media_the_queue_missed(live, sandbox, capture, public_client, acme):
    answer, delivery = inject(sandbox, capture, live, **{"from": "4915199999999", "media": {"mimetype": "image/png"}})
    replay(public_client, delivery)
    with tenant_context(acme):
        Message.objects.filter(waha_message_id=answer["id"]).update(created_at=timezone.now() - timedelta(minutes=1))
        report = sweep.webhooks_sweep()
    assert report["stored"] == 1
    assert stored(acme, answer["id"]).media["state"] == "stored"
