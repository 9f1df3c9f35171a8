"""What an API key sends records the key, and a key bound to sessions sends and reads only on those."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from accounts.roles import Role
from messaging.models import Batch, Conversation, IdempotencyKey, Message
from sessions_waha.services import session_create, session_refresh
from tests.support import TEST_TENANTS, TenantClient, api_key_for

SEND = {"session": "support", "to": "+49 151 1234 5678", "text": "hi"}
BULK = {
    "session": "support",
    "text": "Hi {name}",
    "recipients": [
        {"to": "+4915100000001", "variables": {"name": "Ana"}},
        {"to": "+4915100000002", "variables": {"name": "Ben"}},
    ],
}


def key_client(tenant, key: str) -> TenantClient:
    return TenantClient(TEST_TENANTS[tenant.slug]).api_key(key)


@pytest.fixture
def other_session(acme, sandbox, working_session):
    """A second WORKING session of acme, with one conversation and one failed message in it."""
    with tenant_context(acme):
        session = session_create(name="other")
        sandbox.pair(session.waha_name, phone="4915100000009")
        session = session_refresh(session=session)
        conversation = Conversation.objects.create(session=session, chat_id="4915100000055@c.us")
        batch = Batch.objects.create(session=session, total=1)
        message = Message.objects.create(
            session=session,
            conversation=conversation,
            batch=batch,
            direction="outbound",
            chat_id=conversation.chat_id,
            text="theirs",
            status="failed",
        )
    return session, message


@pytest.fixture
def manager_key(acme, admin):
    return api_key_for(acme, admin, role=Role.MANAGER)


@pytest.fixture
def bound_key(acme, admin, working_session, other_session):
    """A MANAGER key bound to the session 'support' only."""
    return api_key_for(acme, admin, role=Role.MANAGER, session_ids=[working_session.pk])


def count_messages(tenant) -> int:
    with tenant_context(tenant):
        return Message.objects.count()


# ------------------------------------------------------------------ created_by_key


def test_a_send_by_key_records_the_key_not_a_user(acme, manager_key, working_session):
    api_key, key = manager_key
    response = key_client(acme, key).post("/messages/send", SEND, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["created_by"] is None and body["created_by_key"] == str(api_key.pk)
    with tenant_context(acme):
        stored = Message.objects.get(pk=body["id"])
    assert stored.created_by_id is None and stored.created_by_key_id == api_key.pk
    assert key_client(acme, key).get(f"/messages/{body['id']}").json() == body


def test_a_send_by_key_is_still_one_statement(acme, manager_key, working_session):
    """The key's read and the send statement: no extra statement for the key (the minute's write aside)."""
    _, key = manager_key
    client = key_client(acme, key)
    assert client.post("/messages/send", SEND, format="json").status_code == 202  # the key's first use is written
    with CaptureQueriesContext(connection) as queries:
        assert client.post("/messages/send", SEND, format="json").status_code == 202
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) == 2, statements
    assert "apikeys_apikey" in statements[0] and "INSERT INTO" in statements[1]


def test_a_users_send_records_the_user(acme, admin, api, working_session):
    body = api.post("/messages/send", SEND, format="json").json()
    assert body["created_by"] == str(admin.pk) and body["created_by_key"] is None


def test_a_bulk_by_key_records_the_key_on_the_batch_and_every_message(acme, manager_key, working_session):
    api_key, key = manager_key
    response = key_client(acme, key).post("/messages/bulk", BULK, format="json")
    assert response.status_code == 202, response.content
    with tenant_context(acme):
        batch = Batch.objects.get(pk=response.json()["batch_id"])
        creators = set(Message.objects.filter(batch=batch).values_list("created_by_id", "created_by_key_id"))
    assert (batch.created_by_id, batch.created_by_key_id) == (None, api_key.pk)
    assert creators == {(None, api_key.pk)}


def test_a_key_revoked_after_authentication_sends_nothing(acme, admin, working_session, monkeypatch):
    """The send statement checks the key again, as it does a user."""
    from apikeys.models import ApiKey
    from messaging.services import send_sql

    api_key, key = api_key_for(acme, admin)
    original = send_sql.message_queue

    def revoked_meanwhile(**kwargs):
        ApiKey.objects.filter(pk=api_key.pk).update(revoked_at="2026-01-01T00:00:00Z")
        return original(**kwargs)

    monkeypatch.setattr(send_sql, "message_queue", revoked_meanwhile)
    response = key_client(acme, key).post("/messages/send", SEND, format="json")
    assert response.status_code == 403 and count_messages(acme) == 0


def test_idempotency_keys_are_per_api_key(acme, admin, api, manager_key, working_session):
    api_key, key = manager_key
    other_key = api_key_for(acme, admin)[1]
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-42"}
    first = key_client(acme, key).post("/messages/send", SEND, format="json", **headers)
    replay = key_client(acme, key).post("/messages/send", SEND, format="json", **headers)
    assert (first.status_code, replay.status_code) == (202, 200) and first.json()["id"] == replay.json()["id"]
    conflict = key_client(acme, key).post("/messages/send", {**SEND, "text": "other"}, format="json", **headers)
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_conflict"
    # Another key and a user with the same Idempotency-Key are independent requests.
    assert key_client(acme, other_key).post("/messages/send", SEND, format="json", **headers).status_code == 202
    assert api.post("/messages/send", SEND, format="json", **headers).status_code == 202
    with tenant_context(acme):
        owners = set(IdempotencyKey.objects.values_list("user_id", "api_key_id"))
    assert (None, api_key.pk) in owners and (admin.pk, None) in owners and len(owners) == 3


# ------------------------------------------------------------------ keys bound to sessions


def test_a_bound_key_sends_on_its_session(acme, bound_key):
    _, key = bound_key
    assert key_client(acme, key).post("/messages/send", SEND, format="json").status_code == 202


@pytest.mark.parametrize("reference", ["name", "id"])
def test_a_bound_key_may_not_send_on_another_session(acme, bound_key, other_session, reference):
    _, key = bound_key
    session, _ = other_session
    before = count_messages(acme)
    target = session.name if reference == "name" else str(session.pk)
    response = key_client(acme, key).post("/messages/send", {**SEND, "session": target}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    idempotent = key_client(acme, key).post(
        "/messages/send", {**SEND, "session": target}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert idempotent.status_code == 403
    assert count_messages(acme) == before


def test_a_bound_key_may_not_bulk_on_another_session(acme, bound_key, other_session):
    _, key = bound_key
    before = count_messages(acme)
    response = key_client(acme, key).post("/messages/bulk", {**BULK, "session": "other"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert count_messages(acme) == before
    with tenant_context(acme):
        assert not Batch.objects.filter(session=other_session[0]).exclude(pk=other_session[1].batch_id).exists()
    assert key_client(acme, key).post("/messages/bulk", BULK, format="json").status_code == 202


def test_a_bound_key_reads_only_its_sessions(acme, bound_key, working_session, other_session):
    _, key = bound_key
    client = key_client(acme, key)
    mine = client.post("/messages/send", SEND, format="json").json()
    session, theirs = other_session
    assert [m["id"] for m in client.get("/messages").json()["results"]] == [mine["id"]]
    assert client.get(f"/messages?session={session.pk}").json()["results"] == []
    assert [c["id"] for c in client.get("/conversations").json()["results"]] == [mine["conversation"]]
    assert [s["id"] for s in client.get("/waha/sessions").json()["results"]] == [str(working_session.pk)]
    for path in (
        f"/messages/{theirs.pk}",
        f"/messages/{theirs.pk}/media",
        f"/conversations/{theirs.conversation_id}",
        f"/messages/batches/{theirs.batch_id}",
        f"/waha/sessions/{session.pk}",
    ):
        response = client.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found", path
    for method, path, body in (
        ("post", f"/messages/{theirs.pk}/retry", None),
        ("patch", f"/conversations/{theirs.conversation_id}", {"assigned_to": None}),
    ):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 404, path
    with tenant_context(acme):
        assert Message.objects.get(pk=theirs.pk).status == "failed"  # the retry changed nothing
    assert client.get(f"/messages/{mine['id']}").status_code == 200
    assert client.get(f"/conversations/{mine['conversation']}").status_code == 200


def test_a_bound_keys_stats_count_only_its_sessions(acme, api, bound_key, other_session):
    _, key = bound_key
    client = key_client(acme, key)
    client.post("/messages/send", SEND, format="json")
    assert api.get("/messages/stats").json()["total"] == 2
    assert client.get("/messages/stats").json()["total"] == 1
    assert client.get(f"/messages/stats?session={other_session[0].pk}").json()["total"] == 0


def test_an_unbound_key_sees_every_session(acme, manager_key, other_session):
    _, key = manager_key
    client = key_client(acme, key)
    _, theirs = other_session
    assert client.get(f"/messages/{theirs.pk}").status_code == 200
    assert len(client.get("/waha/sessions").json()["results"]) == 2
    assert client.post("/messages/send", {**SEND, "session": "other"}, format="json").status_code == 202
