"""GET /messages (filters, cursor), detail, retry, stats, conversations and agent scoping."""

import datetime as dt
from urllib.parse import quote

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.roles import Role
from messaging.models import Conversation, Message, MessageStatus
from messaging.services.sending import MessageContent, message_send


@pytest.fixture
def seeded(acme, admin, working_session):
    """Three chats; the second assigned to an agent; a mix of statuses and directions."""
    with tenant_context(acme):
        sent = [message_send(sender=admin, session_reference="support", to=f"+49151000000{i}",
                             content=MessageContent(text=f"hello {i} apples" if i == 1 else f"hello {i}"))[0]
                for i in range(3)]
        Message.objects.filter(pk=sent[0].pk).update(status=MessageStatus.FAILED, error_code="send_failed",
                                                     error_detail="boom")
        Message.objects.filter(pk=sent[1].pk).update(status=MessageStatus.READ)
        Message.objects.create(session=working_session, conversation=sent[1].conversation, direction="inbound",
                               chat_id=sent[1].chat_id, text="reply", status=MessageStatus.RECEIVED)
    return sent


@pytest.fixture
def agent(acme, make_user, seeded):
    user = make_user(acme, Role.AGENT)
    with tenant_context(acme):
        Conversation.objects.filter(pk=seeded[1].conversation_id).update(assigned_to=user)
    return user


def ids(response):
    return {m["id"] for m in response.json()["results"]}


@pytest.mark.parametrize("query, expected", [
    ("status=failed", {0}), ("status=read", {1}), ("direction=outbound", {0, 1, 2}), ("search=apples", {1}),
])
def test_list_filters(api, seeded, query, expected):
    response = api.get(f"/messages?{query}")
    assert response.status_code == 200
    assert ids(response) == {str(seeded[i].pk) for i in expected}


def test_list_filters_by_conversation_chat_session_and_time(api, seeded, working_session):
    conversation = seeded[1].conversation_id
    assert len(api.get(f"/messages?conversation={conversation}").json()["results"]) == 2
    assert len(api.get(f"/messages?chat_id={seeded[2].chat_id}").json()["results"]) == 1
    assert len(api.get(f"/messages?session={working_session.pk}").json()["results"]) == 4
    future = (timezone.now() + dt.timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert api.get(f"/messages?created_after={future}").json()["results"] == []
    assert len(api.get(f"/messages?created_before={future}").json()["results"]) == 4


@pytest.mark.parametrize("name", ["created_after", "created_before"])
def test_a_time_filter_with_any_iso_offset_means_the_instant_it_names(api, seeded, name):
    # 16:24 behind UTC: ISO 8601 allows it, PostgreSQL's offsets end at ±15:59 (this was a 500).
    instant = seeded[1].created_at
    far_offset = instant.astimezone(dt.timezone(-dt.timedelta(hours=16, minutes=24))).isoformat()
    in_utc = instant.astimezone(dt.UTC).isoformat()
    answers = [api.get(f"/messages?{name}={quote(value)}") for value in (far_offset, in_utc)]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert ids(answers[0]) == ids(answers[1]) and 0 < len(ids(answers[0])) < 4


def test_invalid_filters_are_400(api, seeded):
    response = api.get("/messages?status=lost&created_after=yesterday")
    assert response.status_code == 400 and {"status", "created_after"} <= set(response.json()["errors"])


def test_list_is_newest_first_with_cursor_pages(api, seeded):
    first = api.get("/messages?page_size=3").json()
    second = api.get(first["next"]).json()
    assert len(first["results"]) == 3 and len(second["results"]) == 1
    times = [m["created_at"] for m in first["results"] + second["results"]]
    assert times == sorted(times, reverse=True)


def test_page_size_outside_1_to_200_is_400(api, seeded):
    assert api.get("/messages?page_size=200").status_code == 200
    response = api.get("/messages?page_size=1000")
    assert response.status_code == 400 and "page_size" in response.json()["errors"]


def test_detail_shows_the_error(api, seeded):
    body = api.get(f"/messages/{seeded[0].pk}").json()
    assert body["error"] == {"code": "send_failed", "detail": "boom"}


def test_agent_sees_only_assigned_conversations(acme, agent, client_for, seeded):
    client = client_for(acme, agent)
    assert {m["conversation"] for m in client.get("/messages").json()["results"]} == {str(seeded[1].conversation_id)}
    assert client.get(f"/messages/{seeded[0].pk}").status_code == 404
    assert [c["id"] for c in client.get("/conversations").json()["results"]] == [str(seeded[1].conversation_id)]
    assert client.get(f"/conversations/{seeded[0].conversation_id}").status_code == 404


def test_agent_cannot_retry_messages_of_other_conversations(acme, agent, client_for, seeded):
    assert client_for(acme, agent).post(f"/messages/{seeded[0].pk}/retry").status_code == 404


def test_retry_requeues_a_failed_message(api, acme, seeded):
    response = api.post(f"/messages/{seeded[0].pk}/retry")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    assert response.json()["error"] is None and response.json()["attempts"] == 0


def test_retry_of_a_message_that_did_not_fail_is_409(api, seeded):
    response = api.post(f"/messages/{seeded[1].pk}/retry")
    assert response.status_code == 409 and response.json()["code"] == "conflict"


def test_stats_by_status_direction_and_day(api, seeded):
    body = api.get("/messages/stats").json()
    assert body["total"] == 4
    assert body["by_status"]["failed"] == 1 and body["by_status"]["received"] == 1
    assert body["by_direction"] == {"outbound": 3, "inbound": 1}
    (today,) = body["by_day"]
    assert (today["outbound"], today["inbound"], today["failed"]) == (3, 1, 1)


def test_stats_filters(api, seeded, working_session):
    future = (timezone.now() + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert api.get(f"/messages/stats?since={future}").json()["total"] == 0
    assert api.get(f"/messages/stats?session={working_session.pk}").json()["total"] == 4


def test_assign_and_unassign_a_conversation(api, acme, make_user, seeded):
    agent = make_user(acme, Role.AGENT)
    path = f"/conversations/{seeded[2].conversation_id}"
    assert api.patch(path, {"assigned_to": str(agent.pk)}, format="json").json()["assigned_to"] == str(agent.pk)
    assert api.patch(path, {"assigned_to": None}, format="json").json()["assigned_to"] is None


def test_assign_to_unknown_or_foreign_user_is_400(api, globex, make_user, seeded):
    stranger = make_user(globex, Role.AGENT)
    response = api.patch(f"/conversations/{seeded[2].conversation_id}", {"assigned_to": str(stranger.pk)},
                         format="json")
    assert response.status_code == 400 and "assigned_to" in response.json()["errors"]


def test_messages_of_another_tenant_are_404(globex, make_user, client_for, seeded):
    other = client_for(globex, make_user(globex, Role.TENANT_ADMIN))
    assert other.get(f"/messages/{seeded[0].pk}").status_code == 404
    assert other.get(f"/conversations/{seeded[0].conversation_id}").status_code == 404
    assert other.get("/messages").json()["results"] == []


def _console(acme, user):
    from tests.support import TEST_PASSWORD, TenantClient

    client = TenantClient("acme.localhost")
    client.post("/admin/login/", {"username": user.email, "password": TEST_PASSWORD})
    return client


def test_console_message_log_and_conversation_assignment(acme, admin, make_user, seeded):
    client = _console(acme, admin)
    log = client.get("/admin/messaging/message/?status__exact=failed")
    assert log.status_code == 200 and b"send_failed" in log.content
    assert client.get("/admin/messaging/message/?q=apples").status_code == 200
    assert client.get("/admin/messaging/batch/").status_code == 200
    agent = make_user(acme, Role.AGENT)
    conversation = seeded[2].conversation
    response = client.post(f"/admin/messaging/conversation/{conversation.pk}/change/",
                           {"assigned_to": str(agent.pk)})
    assert response.status_code == 302
    with tenant_context(acme):
        conversation.refresh_from_db()
    assert conversation.assigned_to == agent


def test_console_is_read_only_for_the_auditor(acme, make_user, seeded):
    client = _console(acme, make_user(acme, Role.AUDITOR))
    assert client.get("/admin/messaging/message/").status_code == 200
    conversation = seeded[2].conversation
    assert client.get(f"/admin/messaging/conversation/{conversation.pk}/change/").status_code == 200
    response = client.post(f"/admin/messaging/conversation/{conversation.pk}/change/", {"assigned_to": ""})
    assert response.status_code == 403
