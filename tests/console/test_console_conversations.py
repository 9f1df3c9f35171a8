"""A conversation in the console: the thread, media links, replies and who may be assigned."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.roles import Role
from messaging.models import Conversation, Message, MessageStatus
from messaging.services.media import media_storage
from sessions_waha.models import Session, SessionStatus
from tests.console.clients import console

CONVERSATIONS = "/admin/messaging/conversation/"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def admin(acme, make_user):
    return make_user(acme, Role.TENANT_ADMIN)


@pytest.fixture
def stored_picture(acme, data):
    """An inbound picture whose copy is stored, in Carla's chat."""
    with tenant_context(acme):
        path = media_storage().save(f"{connection.schema_name}/test-console/pic.png", _file(PNG))
        Message.objects.filter(pk=data.inbound.pk).update(
            type="image",
            media={"state": "stored", "path": path, "mimetype": "image/png", "filename": "pic.png", "size": len(PNG)},
        )
    yield data.inbound
    media_storage().delete(path)


def _file(content: bytes):
    from django.core.files.base import ContentFile

    return ContentFile(content)


def thread(client, conversation_id) -> str:
    page = client.get(f"{CONVERSATIONS}{conversation_id}/change/").content.decode()
    return page[page.index('id="conversation-thread"') :]


def test_the_thread_reads_oldest_first_with_both_directions_and_statuses(admin, data):
    content = thread(console(admin), data.delivered.conversation_id)
    shipped, question = content.index("Your order 4711 has shipped"), content.index("Thanks! When will it arrive?")
    assert shipped < question  # a chat reads downwards
    assert "from the contact" in content and 'status-badge status-delivered">delivered<' in content
    assert 'status-badge status-received">received<' in content
    assert f"/admin/messaging/message/{data.delivered.pk}/change/" in content


def test_stored_media_opens_in_the_console(admin, data, stored_picture):
    client = console(admin)
    media_url = f"/admin/messaging/message/{stored_picture.pk}/media/"
    assert media_url in thread(client, stored_picture.conversation_id)
    response = client.get(media_url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG
    assert client.get(f"/admin/messaging/message/{data.failed.pk}/media/").status_code == 404


def test_admin_replies_through_the_send_service(acme, admin, data):
    client = console(admin)
    response = client.post(
        f"{CONVERSATIONS}{data.failed.conversation_id}/reply/", {"text": "Sorry, try again?"}, follow=True
    )
    assert response.status_code == 200 and b"Reply queued" in response.content
    with tenant_context(acme):
        reply = Message.objects.get(text="Sorry, try again?")
    assert (reply.status, reply.chat_id, reply.created_by_id) == (MessageStatus.QUEUED, data.failed.chat_id, admin.pk)
    assert reply.conversation_id == data.failed.conversation_id
    assert thread(client, data.failed.conversation_id).index("Sorry, try again?") > 0


def test_a_reply_the_service_refuses_is_a_message(acme, admin, data):
    with tenant_context(acme):
        Session.objects.filter(pk=data.session.pk).update(status=SessionStatus.STOPPED)
    response = console(admin).post(
        f"{CONVERSATIONS}{data.failed.conversation_id}/reply/", {"text": "hello"}, follow=True
    )
    assert b"Not sent:" in response.content
    empty = console(admin).post(f"{CONVERSATIONS}{data.failed.conversation_id}/reply/", {"text": ""}, follow=True)
    assert b"Not sent: This field is required." in empty.content
    with tenant_context(acme):
        assert not Message.objects.filter(text="hello").exists()


def test_only_people_who_may_send_can_be_assigned(acme, admin, make_user, data):
    manager, agent = make_user(acme, Role.MANAGER), make_user(acme, Role.AGENT)
    auditor, gone = make_user(acme, Role.AUDITOR), make_user(acme, Role.AGENT, is_active=False)
    client = console(admin)
    url = f"{CONVERSATIONS}{data.failed.conversation_id}/change/"
    options = set(re.findall(r'<option value="([0-9a-f-]{36})"', client.get(url).content.decode()))
    assert options == {str(admin.pk), str(manager.pk), str(agent.pk)}
    refused = client.post(url, {"assigned_to": str(auditor.pk)})
    assert refused.status_code == 200 and b"errornote" in refused.content
    assert client.post(url, {"assigned_to": str(gone.pk)}).status_code == 200
    assert client.post(url, {"assigned_to": str(agent.pk)}).status_code == 302
    with tenant_context(acme):
        assert Conversation.objects.get(pk=data.failed.conversation_id).assigned_to == agent


def test_auditor_reads_the_thread_but_cannot_reply(acme, make_user, data):
    client = console(make_user(acme, Role.AUDITOR))
    content = thread(client, data.failed.conversation_id)
    assert "Your appointment is confirmed" in content and "reply-form" not in content
    response = client.post(f"{CONVERSATIONS}{data.failed.conversation_id}/reply/", {"text": "sneaky"})
    assert response.status_code == 403
    with tenant_context(acme):
        assert not Message.objects.filter(text="sneaky").exists()
