"""POST /messages/send and POST /messages/bulk: validation, idempotency, queueing."""

import pytest
from django_tenants.utils import tenant_context

from accounts.roles import Role
from messaging.models import Batch, Conversation, Message
from sessions_waha.models import Session, SessionStatus


def send(api, **body):
    payload = {"session": "support", "to": "+49 151 1234 5678", "text": "hi", **body}
    return api.post("/messages/send", {key: value for key, value in payload.items() if value is not None},
                    format="json")


def test_send_answers_202_queued_and_stores_the_message(api, acme, working_session):
    response = send(api)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["to"] == "4915112345678@c.us" and body["direction"] == "outbound"
    assert body["from"] == "4915100000000@c.us" and body["error"] is None
    with tenant_context(acme):
        assert Message.objects.filter(pk=body["id"], status="queued").exists()
        assert Conversation.objects.filter(chat_id="4915112345678@c.us").count() == 1


def test_send_enqueues_the_dispatch_only_after_commit(api, working_session, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        assert send(api).status_code == 202
    assert len(callbacks) == 1


def test_session_by_id_works_too(api, working_session):
    assert send(api, session=str(working_session.pk)).status_code == 202


@pytest.mark.parametrize("to, chat_id", [
    ("+49 (151) 1234-5678", "4915112345678@c.us"),
    ("004915112345678", "4915112345678@c.us"),
    ("4915112345678", "4915112345678@c.us"),
    ("4915112345678@c.us", "4915112345678@c.us"),
    ("4915112345678@s.whatsapp.net", "4915112345678@c.us"),
    ("120363012345678901@g.us", "120363012345678901@g.us"),
    ("12345678901234@lid", "12345678901234@lid"),
])
def test_recipient_formats_are_normalised(api, working_session, to, chat_id):
    response = send(api, to=to)
    assert response.status_code == 202 and response.json()["to"] == chat_id


@pytest.mark.parametrize("to, reason", [
    ("hello", "only digits"),
    ("+49 151", "digits"),
    ("123@newsletter", ""),
    ("", ""),
])
def test_invalid_recipients_are_400_naming_the_problem(api, working_session, to, reason):
    response = send(api, to=to)
    assert response.status_code == 400 and "to" in response.json()["errors"]
    assert reason in " ".join(response.json()["errors"]["to"])


@pytest.mark.parametrize("body, field", [
    ({"text": ""}, "text"),
    ({"type": "image", "text": None}, "media"),
    ({"type": "location"}, "location"),
    ({"type": "sticker"}, "type"),
    ({"session": "nope"}, "session"),
    ({"type": "image", "media": {"url": "not a url"}}, "media.url"),
])
def test_missing_or_bad_fields_are_400(api, working_session, body, field):
    payload = {"session": "support", "to": "4915112345678", "text": "hi", **body}
    payload = {key: value for key, value in payload.items() if value is not None}
    response = api.post("/messages/send", payload, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()


def test_media_and_location_messages_are_accepted(api, working_session):
    image = send(api, type="image", text=None, media={"url": "https://cdn.example.com/a.jpg"}, caption="look")
    assert image.status_code == 202 and image.json()["text"] == "look"
    location = send(api, type="location", location={"latitude": 52.5, "longitude": 13.4, "title": "Berlin"})
    assert location.status_code == 202 and location.json()["location"]["title"] == "Berlin"


@pytest.mark.parametrize("status", [SessionStatus.SCAN_QR_CODE, SessionStatus.STOPPED, SessionStatus.FAILED])
def test_session_not_working_is_409(api, acme, working_session, status):
    with tenant_context(acme):
        Session.objects.filter(pk=working_session.pk).update(status=status)
    response = send(api)
    assert response.status_code == 409 and response.json()["code"] == "session_not_ready"


def test_idempotency_key_replays_the_first_message(api, acme, working_session):
    first = api.post("/messages/send", {"session": "support", "to": "4915112345678", "text": "hi"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="order-42")
    again = api.post("/messages/send", {"session": "support", "to": "4915112345678", "text": "hi"}, format="json",
                     HTTP_IDEMPOTENCY_KEY="order-42")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    with tenant_context(acme):
        assert Message.objects.count() == 1


def test_idempotency_key_with_another_body_is_409(api, working_session):
    api.post("/messages/send", {"session": "support", "to": "4915112345678", "text": "hi"}, format="json",
             HTTP_IDEMPOTENCY_KEY="k1")
    response = api.post("/messages/send", {"session": "support", "to": "4915112345678", "text": "other"},
                        format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 409 and response.json()["code"] == "idempotency_conflict"


def test_idempotency_keys_are_per_user(api, acme, make_user, client_for, working_session):
    other = client_for(acme, make_user(acme, Role.MANAGER))
    body = {"session": "support", "to": "4915112345678", "text": "hi"}
    assert api.post("/messages/send", body, format="json", HTTP_IDEMPOTENCY_KEY="same").status_code == 202
    assert other.post("/messages/send", body, format="json", HTTP_IDEMPOTENCY_KEY="same").status_code == 202


def test_agent_starting_a_chat_is_assigned_to_it(acme, make_user, client_for, working_session):
    agent = make_user(acme, Role.AGENT)
    body = send(client_for(acme, agent)).json()
    with tenant_context(acme):
        assert Conversation.objects.get(pk=body["conversation"]).assigned_to == agent


def test_agent_cannot_send_into_a_conversation_assigned_to_someone_else(acme, make_user, client_for,
                                                                       working_session):
    first, second = make_user(acme, Role.AGENT), make_user(acme, Role.AGENT)
    send(client_for(acme, first))
    response = send(client_for(acme, second))
    assert response.status_code == 403


def test_auditor_cannot_send(acme, make_user, client_for, working_session):
    assert send(client_for(acme, make_user(acme, Role.AUDITOR))).status_code == 403


# ------------------------------------------------------------------ bulk


def bulk(api, recipients, text="Hi {name}!"):
    return api.post("/messages/bulk", {"session": "support", "text": text, "recipients": recipients}, format="json")


def test_bulk_personalises_and_rejects_individually(api, acme, working_session):
    response = bulk(api, [
        {"to": "+4915100000001", "variables": {"name": "Ana"}},
        {"to": "not-a-number", "variables": {"name": "Bob"}},
        {"to": "+4915100000003"},
        {"to": "+4915100000004", "variables": {"name": "Dee", "extra": "x"}},
        "garbage",
    ])
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["accepted"] == 2
    assert [r["index"] for r in body["rejected"]] == [1, 2, 4]
    assert "missing variable 'name'" in body["rejected"][1]["errors"]["variables"][0]
    with tenant_context(acme):
        texts = sorted(Message.objects.filter(batch_id=body["batch_id"]).values_list("text", flat=True))
    assert texts == ["Hi Ana!", "Hi Dee!"]


def test_bulk_keeps_its_rejections_with_the_batch(api, acme, working_session):
    """The console's batch page lists them: each as the request answered it, ``to`` as text cut to 100 characters."""
    overlong = "+49" + "1" * 200
    response = bulk(api, [
        {"to": "+4915100000001", "variables": {"name": "Ana"}},
        {"to": "not-a-number", "variables": {"name": "Bob"}},
        {"to": overlong, "variables": {"name": "Cy"}},
        {"to": {"number": 4915100000004}, "variables": {"name": "Dee"}},
        "garbage",
    ])
    assert response.status_code == 202, response.content
    answered = response.json()["rejected"]
    with tenant_context(acme):
        batch = Batch.objects.get(pk=response.json()["batch_id"])
    assert (batch.total, batch.rejected) == (1, 4)
    stored = batch.rejected_recipients
    assert [entry["index"] for entry in stored] == [1, 2, 3, 4]
    assert stored[0] == answered[0] == {"index": 1, "to": "not-a-number", "errors": answered[0]["errors"]}
    assert stored[1]["to"] == overlong[:100] + "…" and stored[1]["errors"] == answered[1]["errors"]
    assert stored[2]["to"] == '{"number": 4915100000004}' and stored[3]["to"] is None
    assert stored[3]["errors"] == {"to": ["A recipient is required."]}


def test_a_bulk_without_rejections_keeps_an_empty_list(api, acme, working_session):
    response = bulk(api, [{"to": "+4915100000001", "variables": {"name": "Ana"}}])
    with tenant_context(acme):
        assert Batch.objects.get(pk=response.json()["batch_id"]).rejected_recipients == []


def test_bulk_of_10000_is_one_insert_and_one_kick(api, acme, working_session, django_assert_max_num_queries,
                                                  django_capture_on_commit_callbacks):
    recipients = [{"to": f"+49151{index:08d}", "variables": {"name": f"n{index}"}} for index in range(10_000)]
    with django_capture_on_commit_callbacks() as callbacks, django_assert_max_num_queries(40):
        response = bulk(api, recipients)
    assert response.status_code == 202 and response.json()["accepted"] == 10_000
    assert len(callbacks) == 1
    with tenant_context(acme):
        assert Message.objects.filter(batch_id=response.json()["batch_id"]).count() == 10_000


def test_bulk_stores_any_text_byte_for_byte_and_refuses_nul(api, acme, working_session):
    """The bulk insert writes COPY text itself: tabs, newlines, backslashes and \\N must survive it."""
    tricky = "tab\there\nnew line\r\\back\\slash \\N é 👍"
    response = bulk(api, [{"to": "+4915100000001", "variables": {"name": tricky}},
                          {"to": "+4915100000002", "variables": {"name": "nul\x00"}}])
    assert response.status_code == 202 and response.json()["accepted"] == 1
    assert response.json()["rejected"][0]["errors"] == {"variables": ["Variable 'name' contains a NUL character."]}
    with tenant_context(acme):
        message = Message.objects.get(batch_id=response.json()["batch_id"])
    assert message.text == f"Hi {tricky}!" and message.media is None and message.attempt_log == []
    assert message.id.version == 7 and message.conversation.id.version == 7  # time-ordered: core/db/ids.py


def test_bulk_over_10000_is_400(api, working_session):
    response = bulk(api, [{"to": "+4915100000001"}] * 10_001, text="x")
    assert response.status_code == 400 and "recipients" in response.json()["errors"]


def test_batch_progress_counts_by_status(api, acme, working_session):
    batch_id = bulk(api, [{"to": f"+49151000000{i:02d}", "variables": {"name": "x"}} for i in range(3)]).json()[
        "batch_id"]
    with tenant_context(acme):
        Message.objects.filter(batch_id=batch_id).update(status="delivered")
    progress = api.get(f"/messages/batches/{batch_id}").json()
    assert progress["total"] == 3 and progress["by_status"]["delivered"] == 3
    assert progress["completed_at"] is not None


def test_batch_progress_is_open_while_messages_are_queued(api, working_session):
    batch_id = bulk(api, [{"to": "+4915100000001", "variables": {"name": "x"}}]).json()["batch_id"]
    progress = api.get(f"/messages/batches/{batch_id}").json()
    assert progress["by_status"]["queued"] == 1 and progress["completed_at"] is None


def test_overlong_idempotency_key_is_400(api, working_session):
    response = api.post("/messages/send", {"session": "support", "to": "4915112345678", "text": "hi"},
                        format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]


def test_agent_writing_into_an_unassigned_chat_takes_it(acme, admin, make_user, client_for, working_session, api):
    first = send(api).json()
    agent = make_user(acme, Role.AGENT)
    assert send(client_for(acme, agent)).status_code == 202
    with tenant_context(acme):
        assert Conversation.objects.get(pk=first["conversation"]).assigned_to == agent


def test_bulk_media_type_needs_media(api, working_session):
    response = api.post("/messages/bulk", {"session": "support", "text": "x", "type": "image",
                                           "recipients": [{"to": "+4915100000001"}]}, format="json")
    assert response.status_code == 400 and "media" in response.json()["errors"]


def test_deleting_a_session_fails_its_open_messages(api, acme, working_session):
    queued = send(api).json()
    assert api.delete(f"/waha/sessions/{working_session.pk}").status_code == 204
    with tenant_context(acme):
        message = Message.objects.get(pk=queued["id"])
    assert message.status == "failed" and message.error_code == "session_deleted"


def test_a_deleted_sender_leaves_their_messages_with_no_creator(api, acme, working_session, make_user, client_for):
    """``created_by`` has no database constraint (migration 0004): Django's SET_NULL must still apply."""
    from accounts.services import user_delete

    manager = make_user(acme, Role.MANAGER)
    response = send(client_for(acme, manager))
    assert response.status_code == 202 and response.json()["created_by"] == str(manager.pk)
    with tenant_context(acme):
        user_delete(user=manager)
        message = Message.objects.get(pk=response.json()["id"])
    assert message.created_by_id is None and message.status == "queued"


def test_a_reply_resets_the_conversations_unread_count(api, acme, working_session):
    assert send(api).status_code == 202
    with tenant_context(acme):
        Conversation.objects.filter(chat_id="4915112345678@c.us").update(unread_count=3)
    assert send(api, text="thanks, on it").status_code == 202
    with tenant_context(acme):
        assert Conversation.objects.get(chat_id="4915112345678@c.us").unread_count == 0
