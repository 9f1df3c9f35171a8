"""What each applied event does: inbound messages, acks, session status, revoke/edit/reaction."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.roles import Role
from messaging.models import Conversation, Direction, Message, MessageStatus, PendingAck
from messaging.services.status import message_sent
from sessions_waha.models import Session, SessionStatus
from tests.webhooks.webhook_helpers import counts, deliver, inbound_payload, stored_outcome
from webhooks.models import WebhookEvent
from webhooks.services import enqueue, sweep

# ---------------------------------------------------------------- inbound messages


def test_inbound_text_creates_message_and_conversation(public_client, acme, acme_routed):
    sent_at = int(time.time()) - 30
    payload = inbound_payload(wa_id="3EB0AAAA0001", text="Hello!", push_name="Ana", timestamp=sent_at)
    response = deliver(public_client, acme_routed, "message", payload)
    assert response.json()["outcome"] == "accepted"
    with tenant_context(acme):
        message = Message.objects.get()
        conversation = message.conversation
    assert (message.direction, message.status, message.type) == ("inbound", "received", "text")
    assert message.chat_id == "15550002222@c.us" and message.sender_id == "" and message.text == "Hello!"
    assert message.waha_message_id == payload["id"] and message.wa_id == "3EB0AAAA0001"
    assert conversation.chat_id == "15550002222@c.us" and conversation.contact_name == "Ana"
    assert conversation.unread_count == 1 and conversation.verified_at is not None
    assert int(conversation.last_message_at.timestamp()) == sent_at


def test_second_message_counts_unread_and_moves_last_message_time(public_client, acme, acme_routed):
    now = int(time.time())
    deliver(public_client, acme_routed, "message", inbound_payload(timestamp=now - 60, push_name="Ana"))
    deliver(public_client, acme_routed, "message", inbound_payload(timestamp=now - 10, push_name="Ana Maria"))
    # A late delivery of an older message does not move the time back.
    deliver(public_client, acme_routed, "message", inbound_payload(timestamp=now - 3600, push_name=None))
    with tenant_context(acme):
        conversation = Conversation.objects.get()
        assert Message.objects.count() == 3
    assert conversation.unread_count == 3 and conversation.contact_name == "Ana Maria"
    assert int(conversation.last_message_at.timestamp()) == now - 10


def test_same_message_in_two_events_is_recorded_once(public_client, acme, acme_routed):
    payload = inbound_payload()
    deliver(public_client, acme_routed, "message", payload)
    response = deliver(public_client, acme_routed, "message", payload)  # another event id, same WhatsApp message
    assert response.json()["outcome"] == "accepted" and stored_outcome(acme, response) == "ignored"
    assert counts(acme)["messages"] == 1 and counts(acme)["events"] == 2
    with tenant_context(acme):
        assert Conversation.objects.get().unread_count == 1


def test_group_message_records_chat_and_participant(public_client, acme, acme_routed):
    payload = inbound_payload(group="120363000000000001@g.us", sender="15550003333@c.us", push_name="Bob")
    deliver(public_client, acme_routed, "message", payload)
    with tenant_context(acme):
        message = Message.objects.get()
        assert message.chat_id == "120363000000000001@g.us" and message.sender_id == "15550003333@c.us"
        assert message.wa_id == payload["_data"]["key"]["id"]
        assert message.conversation.contact_name == ""  # Bob's name is not the group's


def test_lid_sender_and_missing_optional_fields_are_tolerated(public_client, acme, acme_routed):
    payload = {"id": "false_99887766@lid_ABCDEF", "from": "99887766@lid", "body": "hi"}
    assert deliver(public_client, acme_routed, "message", payload, me=None).json()["outcome"] == "accepted"
    with tenant_context(acme):
        assert Message.objects.get().chat_id == "99887766@lid"


def test_own_messages_and_message_any_are_stored_not_applied(public_client, acme, acme_routed):
    own = inbound_payload(fromMe=True, source="api")
    assert stored_outcome(acme, deliver(public_client, acme_routed, "message", own)) == "ignored"
    assert deliver(public_client, acme_routed, "message.any", inbound_payload()).json()["outcome"] == "ignored"
    assert counts(acme) == {"events": 2, "messages": 0, "conversations": 0, "pending_acks": 0}


@pytest.mark.parametrize(("media", "location", "expected"), [
    ({"url": "http://waha/api/files/s/A.jpeg", "mimetype": "image/jpeg", "filename": None, "error": None}, None,
     "image"),
    ({"url": "http://waha/api/files/s/A.mp4", "mimetype": "video/mp4", "filename": None, "error": None}, None,
     "video"),
    ({"url": "http://waha/api/files/s/A.oga", "mimetype": "audio/ogg; codecs=opus", "filename": None,
      "error": None}, None, "voice"),
    ({"url": "http://waha/api/files/s/A.pdf", "mimetype": "application/pdf", "filename": "a.pdf", "error": None},
     None, "file"),
    (None, {"latitude": 52.52, "longitude": 13.4, "description": "Berlin"}, "location"),
])
def test_message_type_follows_media_and_location(public_client, acme, acme_routed, media, location, expected):
    payload = inbound_payload(media=media, location=location)
    response = deliver(public_client, acme_routed, "message", payload)
    assert response.json()["outcome"] == "accepted"
    with tenant_context(acme):
        message = Message.objects.get()
    assert message.type == expected
    if media:
        assert message.media["state"] == "pending" and message.media["mimetype"] == media["mimetype"]
    else:
        assert message.location == {"latitude": 52.52, "longitude": 13.4, "title": "Berlin"}


def test_media_download_is_queued_after_commit(public_client, acme, acme_routed, django_capture_on_commit_callbacks,
                                               monkeypatch):
    from config.celery import app

    queued = []

    def send_task(name, args, **options):  # services send tasks by name (webhooks.services.enqueue)
        if name == enqueue.MEDIA_FETCH:
            queued.append(args)

    monkeypatch.setattr(app, "send_task", send_task)
    media = {"url": "http://waha/api/files/s/A.png", "mimetype": "image/png", "filename": None, "error": None}
    with django_capture_on_commit_callbacks(execute=True):
        deliver(public_client, acme_routed, "message", inbound_payload(media=media))
    with tenant_context(acme):
        message = Message.objects.get()
    assert queued == [(acme.schema_name, str(message.pk))]


def test_broker_down_does_not_fail_the_webhook(public_client, acme, acme_routed, django_capture_on_commit_callbacks,
                                               monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    from config.celery import app

    monkeypatch.setattr(app, "send_task", refuse)
    media = {"url": "http://waha/api/files/s/A.png", "mimetype": "image/png", "filename": None, "error": None}
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(public_client, acme_routed, "message", inbound_payload(media=media))
    assert response.status_code == 200 and response.json()["outcome"] == "accepted"
    with tenant_context(acme):
        assert Message.objects.get().media["state"] == "pending"  # the sweep fetches it


# ---------------------------------------------------------------- acks


@pytest.fixture
def outbound(acme, acme_routed):
    """An outbound message of acme's session whose send result is stored (status sent)."""
    with tenant_context(acme):
        conversation = Conversation.objects.create(session=acme_routed.session, chat_id="15550002222@c.us")
        return Message.objects.create(
            session=acme_routed.session, conversation=conversation, direction=Direction.OUTBOUND,
            chat_id="15550002222@c.us", text="Your order shipped", status=MessageStatus.SENT,
            waha_message_id="true_15550002222@c.us_3EB0FFEE00112233", wa_id="3EB0FFEE00112233",
            sent_at=timezone.now())


def ack_payload(ack: int, *, wa_id: str = "3EB0FFEE00112233", chat: str = "15550002222@c.us",
                participant: str | None = None) -> dict:
    names = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
    suffix = f"_{participant}" if participant else ""
    return {"id": f"true_{chat}_{wa_id}{suffix}", "from": chat, "to": "15550001111@c.us", "participant": participant,
            "fromMe": True, "ack": ack, "ackName": names[ack], "_data": {}}


def status_of(tenant, message) -> Message:
    with tenant_context(tenant):
        return Message.objects.get(pk=message.pk)


def test_ack_moves_status_forward(public_client, acme, outbound):
    response = deliver(public_client, _routed(acme, outbound), "message.ack", ack_payload(2))
    assert response.json()["outcome"] == "accepted"
    message = status_of(acme, outbound)
    assert message.status == "delivered" and message.delivered_at is not None and message.ack_level == 2


def _routed(tenant, message):
    from tenants.models import SessionRoute
    from tests.webhooks.webhook_helpers import Routed

    return Routed(tenant=tenant, session=message.session, route=SessionRoute.objects.get(session_id=message.session_id))


def test_out_of_order_acks_read_then_device_leave_read(public_client, acme, outbound):
    routed = _routed(acme, outbound)
    deliver(public_client, routed, "message.ack", ack_payload(3))
    deliver(public_client, routed, "message.ack", ack_payload(2))
    deliver(public_client, routed, "message.ack", ack_payload(1))
    message = status_of(acme, outbound)
    assert message.status == "read" and message.ack_level == 3 and message.read_at is not None


def test_error_ack_after_delivered_changes_nothing(public_client, acme, outbound):
    routed = _routed(acme, outbound)
    deliver(public_client, routed, "message.ack", ack_payload(2))
    deliver(public_client, routed, "message.ack", ack_payload(-1))
    assert status_of(acme, outbound).status == "delivered"


def test_error_ack_before_delivery_fails_the_message(public_client, acme, outbound):
    deliver(public_client, _routed(acme, outbound), "message.ack", ack_payload(-1))
    assert status_of(acme, outbound).status == "failed"


def test_repeated_ack_event_is_a_duplicate(public_client, acme, outbound):
    routed = _routed(acme, outbound)
    first = deliver(public_client, routed, "message.ack", ack_payload(3))
    again = deliver(public_client, routed, "message.ack", ack_payload(3), id=first.json()["event_id"])
    assert again.json()["outcome"] == "duplicate"
    with tenant_context(acme):
        assert WebhookEvent.objects.filter(event="message.ack").count() == 1


def test_group_ack_correlates_on_the_bare_whatsapp_id(public_client, acme, acme_routed):
    with tenant_context(acme):
        conversation = Conversation.objects.create(session=acme_routed.session, chat_id="120363000000000009@g.us")
        message = Message.objects.create(
            session=acme_routed.session, conversation=conversation, direction=Direction.OUTBOUND,
            chat_id="120363000000000009@g.us", status=MessageStatus.SENT,
            waha_message_id="true_120363000000000009@g.us_3EB0GROUP0001", wa_id="3EB0GROUP0001")
    payload = ack_payload(3, wa_id="3EB0GROUP0001", chat="120363000000000009@g.us", participant="15550004444@c.us")
    deliver(public_client, acme_routed, "message.ack.group", payload)
    assert status_of(acme, message).status == "read"


def test_early_ack_is_kept_and_applied_when_the_send_result_lands(public_client, acme, acme_routed):
    with tenant_context(acme):
        conversation = Conversation.objects.create(session=acme_routed.session, chat_id="15550002222@c.us")
        message = Message.objects.create(session=acme_routed.session, conversation=conversation,
                                         direction=Direction.OUTBOUND, chat_id="15550002222@c.us",
                                         status=MessageStatus.SENDING)
    response = deliver(public_client, acme_routed, "message.ack", ack_payload(3, wa_id="3EB0EARLY0001"))
    assert response.json()["outcome"] == "accepted"
    assert counts(acme)["pending_acks"] == 1 and status_of(acme, message).status == "sending"
    with tenant_context(acme):
        message_sent(message=message, waha_message_id="true_15550002222@c.us_3EB0EARLY0001", wa_id="3EB0EARLY0001",
                     attempt={"attempt": 1})
    assert status_of(acme, message).status == "read"
    assert counts(acme)["pending_acks"] == 0


def test_sweep_applies_an_early_ack_that_missed_the_send_result(acme, acme_routed):
    """The ack committed just after message_sent looked for early acks: the sweep still applies it."""
    with tenant_context(acme):
        conversation = Conversation.objects.create(session=acme_routed.session, chat_id="15550002222@c.us")
        message = Message.objects.create(session=acme_routed.session, conversation=conversation,
                                         direction=Direction.OUTBOUND, chat_id="15550002222@c.us",
                                         status=MessageStatus.SENT, wa_id="3EB0RACE0001")
        PendingAck.objects.create(session=acme_routed.session, wa_id="3EB0RACE0001", ack=2)
        stale = PendingAck.objects.create(session=acme_routed.session, wa_id="3EB0PHONE0001", ack=3)
        PendingAck.objects.filter(pk=stale.pk).update(received_at=timezone.now() - timedelta(days=2))
        report = sweep.webhooks_sweep()
        assert Message.objects.get(pk=message.pk).status == "delivered"
        assert not PendingAck.objects.exists()
    assert report["acks_reconciled"] == 1


def test_ack_of_an_inbound_message_is_ignored(public_client, acme, acme_routed):
    payload = {**ack_payload(3), "fromMe": False}
    assert stored_outcome(acme, deliver(public_client, acme_routed, "message.ack", payload)) == "ignored"
    assert counts(acme)["pending_acks"] == 0


# ---------------------------------------------------------------- session.status


def status_event(status: str, at_ms: int) -> dict:
    return {"name": "x", "status": status, "statuses": [{"status": status, "timestamp": at_ms}], "data": None}


def test_session_status_updates_status_phone_and_times(public_client, acme, acme_routed):
    at_ms = int(time.time() * 1000)
    me = {"id": "4915100000000@c.us", "pushName": "Acme Support"}
    response = deliver(public_client, acme_routed, "session.status", status_event("WORKING", at_ms), me=me,
                       timestamp=at_ms)
    assert response.json()["outcome"] == "accepted"
    with tenant_context(acme):
        session = Session.objects.get(pk=acme_routed.session.pk)
    assert session.status == SessionStatus.WORKING and session.phone == "+4915100000000"
    assert session.push_name == "Acme Support"
    assert int(session.status_changed_at.timestamp() * 1000) == at_ms


def test_stale_session_status_is_ignored(public_client, acme, acme_routed):
    now_ms = int(time.time() * 1000)
    deliver(public_client, acme_routed, "session.status", status_event("WORKING", now_ms), timestamp=now_ms,
            me={"id": "4915100000000@c.us", "pushName": "A"})
    deliver(public_client, acme_routed, "session.status", status_event("STARTING", now_ms - 5000),
            timestamp=now_ms - 5000)
    with tenant_context(acme):
        assert Session.objects.get(pk=acme_routed.session.pk).status == SessionStatus.WORKING


def test_session_status_of_globex_leaves_acme_sessions_alone(public_client, acme, acme_routed, globex_routed):
    deliver(public_client, globex_routed, "session.status", status_event("FAILED", int(time.time() * 1000)))
    with tenant_context(acme):
        assert Session.objects.get(pk=acme_routed.session.pk).status == SessionStatus.STOPPED


# ---------------------------------------------------------------- revoked, edited, reactions


@pytest.fixture
def received(public_client, acme, acme_routed):
    deliver(public_client, acme_routed, "message", inbound_payload(wa_id="3EB0ORIG0001", text="original"))
    with tenant_context(acme):
        return Message.objects.get(wa_id="3EB0ORIG0001")


def test_revoked_sets_revoked_at(public_client, acme, acme_routed, received):
    payload = {"after": {"id": "false_15550002222@c.us_3EB0REVOKE01", "body": ""}, "before": None,
               "revokedMessageId": "3EB0ORIG0001"}
    assert deliver(public_client, acme_routed, "message.revoked", payload).json()["outcome"] == "accepted"
    message = status_of(acme, received)
    assert message.revoked_at is not None and message.text == "original"


def test_revoke_of_unknown_message_is_ignored(public_client, acme, acme_routed):
    payload = {"after": None, "before": None, "revokedMessageId": "NOPE"}
    assert stored_outcome(acme, deliver(public_client, acme_routed, "message.revoked", payload)) == "ignored"


def test_edited_updates_text_and_keeps_the_previous_one(public_client, acme, acme_routed, received):
    now_ms = int(time.time() * 1000)
    payload = {"id": "false_15550002222@c.us_3EB0EDIT01", "from": "15550002222@c.us", "fromMe": False,
               "body": "corrected", "editedMessageId": "3EB0ORIG0001", "timestamp": now_ms // 1000}
    deliver(public_client, acme_routed, "message.edited", payload, timestamp=now_ms)
    # An older edit arriving late does not win.
    deliver(public_client, acme_routed, "message.edited", {**payload, "body": "older draft"},
            timestamp=now_ms - 10_000)
    message = status_of(acme, received)
    assert message.text == "corrected" and message.edited_at is not None
    assert [entry["previous_text"] for entry in message.attempt_log if entry.get("event") == "edited"] == ["original"]


def test_reactions_are_added_changed_and_removed(public_client, acme, acme_routed, received):
    def react(text, who="15550002222@c.us", from_me=False):
        payload = {"id": "false_x_3EB0REACT", "from": who, "fromMe": from_me, "participant": None,
                   "to": "15550001111@c.us", "timestamp": int(time.time()),
                   "reaction": {"text": text, "messageId": received.waha_message_id}}
        return deliver(public_client, acme_routed, "message.reaction", payload)

    assert react("👍").json()["outcome"] == "accepted"
    react("❤️", from_me=True)
    assert status_of(acme, received).reactions == {"15550002222@c.us": "👍", "me": "❤️"}
    react("😂")
    react("", from_me=True)
    assert status_of(acme, received).reactions == {"15550002222@c.us": "😂"}


def test_other_events_are_stored_and_answered_200(public_client, acme, acme_routed):
    for event, payload in [("presence.update", {"id": "1@c.us", "presences": []}),
                           ("call.received", {"id": "c1", "from": "1@c.us", "isVideo": False}),
                           ("group.v2.participants", {"type": "join", "group": {"id": "g@g.us"}}),
                           ("engine.event", {"event": "x", "data": {}})]:
        response = deliver(public_client, acme_routed, event, payload)
        assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    with tenant_context(acme):
        assert WebhookEvent.objects.filter(outcome="ignored").count() == 4


def test_events_older_than_retention_are_stored_but_not_applied(public_client, acme, acme_routed, settings):
    old_ms = int((time.time() - (settings.WEBHOOK_EVENT_RETENTION_DAYS + 1) * 86400) * 1000)
    response = deliver(public_client, acme_routed, "message", inbound_payload(), timestamp=old_ms)
    assert response.json()["outcome"] == "ignored"
    assert counts(acme)["messages"] == 0


def test_prune_drops_events_past_retention(acme, acme_routed, settings):
    with tenant_context(acme):
        old = WebhookEvent.objects.create(event_id="evt_old", event="message", session=acme_routed.session,
                                          received_at=timezone.now() - timedelta(days=40), payload={},
                                          outcome="applied")
        WebhookEvent.objects.create(event_id="evt_new", event="message", session=acme_routed.session,
                                    received_at=timezone.now(), payload={}, outcome="applied")
        assert sweep.webhook_events_prune() == 1
        assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["evt_new"]
        assert not WebhookEvent.objects.filter(pk=old.pk).exists()


def test_agents_see_inbound_only_in_assigned_conversations(public_client, acme, acme_routed, make_user, client_for):
    deliver(public_client, acme_routed, "message", inbound_payload(text="for the team"))
    admin, agent = make_user(acme, Role.TENANT_ADMIN), make_user(acme, Role.AGENT)
    assert [m["text"] for m in client_for(acme, admin).get("/messages").json()["results"]] == ["for the team"]
    assert client_for(acme, agent).get("/messages").json()["results"] == []
    assert client_for(acme, agent).get("/conversations").json()["results"] == []
    with tenant_context(acme):
        Conversation.objects.update(assigned_to=agent)
    assert len(client_for(acme, agent).get("/messages").json()["results"]) == 1


def test_session_status_with_an_absurd_timestamp_is_applied_at_now(public_client, acme, acme_routed):
    response = deliver(public_client, acme_routed, "session.status", status_event("SCAN_QR_CODE", 0),
                       timestamp=10 ** 30)
    assert response.json()["outcome"] == "accepted"
    with tenant_context(acme):
        assert Session.objects.get(pk=acme_routed.session.pk).status == SessionStatus.SCAN_QR_CODE


def test_status_stories_do_not_become_conversations(public_client, acme, acme_routed):
    payload = inbound_payload(group=None, sender="status@broadcast", participant="15550002222@c.us")
    assert stored_outcome(acme, deliver(public_client, acme_routed, "message", payload)) == "ignored"
    assert counts(acme)["conversations"] == 0
