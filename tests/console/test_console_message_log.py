"""The message log of the tenant console: search, list, detail and Retry (Django's test client)."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import tenant_context

from accounts.roles import Role
from messaging.admin import message_badge
from messaging.admin_format import readable_number
from messaging.models import Message, MessageStatus
from tests.console.clients import console
from tests.console.data import FAILED_DETAIL
from tests.support import TenantClient

LOG = "/admin/messaging/message/"


@pytest.fixture
def admin_console(acme, make_user, data):
    return console(make_user(acme, Role.TENANT_ADMIN))


def listed_ids(response) -> set[str]:
    """Ids of the messages on a changelist page (each row links to its message)."""
    return set(re.findall(r"/admin/messaging/message/([0-9a-f-]{36})/change/", response.content.decode()))


@pytest.mark.parametrize(
    "term",
    [
        "+49 151 9999 9999",  # as the API accepted it
        "4915199999999",  # digits
        "0049 151 9999 9999",  # international call prefix
        "4915199999999@c.us",  # chat id
        "0151 9999 9999",  # national number with its trunk 0 (tenants have no country: any country code)
        "9999 9999",  # part of the number
        "anna schmidt",  # contact name, any case
        "waha_rejected",  # error code
        "not on WhatsApp",  # error detail
        "appointment is confirmed",  # text, as a phrase
    ],
)
def test_search_finds_the_failed_message_by_number_name_text_and_error(admin_console, data, term):
    response = admin_console.get(LOG, {"q": term})
    assert response.status_code == 200
    assert listed_ids(response) == {str(data.failed.pk)}


def test_search_by_message_id_and_whatsapp_id(admin_console, data):
    assert listed_ids(admin_console.get(LOG, {"q": str(data.retrying.pk)})) == {str(data.retrying.pk)}
    found = listed_ids(admin_console.get(LOG, {"q": data.delivered.wa_id}))
    assert found == {str(data.delivered.pk)}


def test_search_for_another_number_finds_nothing(admin_console, data):
    assert listed_ids(admin_console.get(LOG, {"q": "+49 151 1111 2222"})) == set()


def test_list_shows_contact_number_badges_and_errors(admin_console, data):
    page = admin_console.get(LOG).content.decode()
    assert "Anna Schmidt" in page and "+4915199999999" in page
    assert 'class="status-badge status-failed"' in page
    assert "waha_rejected" in page and FAILED_DETAIL in page
    retrying = re.search(r'status-retrying">([^<]+)<', page)
    assert retrying is not None
    next_at = data.retrying.next_attempt_at.strftime("%H:%M:%S")
    assert retrying.group(1) == f"retrying (attempt 4, next at {next_at})"


def test_badge_labels_follow_the_message(acme, data):
    with tenant_context(acme):
        message = Message.objects.get(pk=data.retrying.pk)
    assert "due now" in message_badge(message, now=message.next_attempt_at)
    message.attempts, message.status = 2, MessageStatus.SENDING
    assert ">sending (attempt 2)<" in message_badge(message)
    message.status = "some_new_status"  # a status this page does not know yet still reads as itself
    assert 'status-some_new_status">some_new_status<' in message_badge(message)


@pytest.mark.parametrize(
    "chat_id, shown",
    [
        ("4915199999999@c.us", "+4915199999999"),
        ("120363012345678901@g.us", "group 120363012345678901"),
        ("123456789@lid", "hidden number (123456789)"),
    ],
)
def test_readable_numbers(chat_id, shown):
    assert readable_number(chat_id) == shown


def test_detail_has_attempt_table_seconds_and_links(admin_console, data):
    page = admin_console.get(f"{LOG}{data.delivered.pk}/change/").content.decode()
    assert '<table class="attempt-log">' in page and "212.5 ms" in page
    sent = data.delivered.attempt_log[0]["at"][:19].replace("T", " ")
    assert sent in page  # the attempt's time, to the second
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)  # the Times fieldset, seconds included
    assert f"/admin/messaging/conversation/{data.delivered.conversation_id}/change/" in page
    assert f"/admin/messaging/batch/{data.batch.pk}/change/" in page
    assert f"/admin/webhooks/webhookevent/{data.ack_event.pk}/change/" in page
    assert '"attempt":' not in page  # no raw JSON
    assert "retry-button" not in page  # delivered: nothing to retry


def test_admin_retries_a_failed_message_through_the_service(acme, admin_console, data):
    page = admin_console.get(f"{LOG}{data.failed.pk}/change/").content.decode()
    assert 'id="retry-button"' in page and "csrfmiddlewaretoken" in page
    response = admin_console.post(f"{LOG}{data.failed.pk}/retry/", follow=True)
    assert response.status_code == 200 and b"Queued again" in response.content
    with tenant_context(acme):
        retried = Message.objects.get(pk=data.failed.pk)
    assert (retried.status, retried.attempts, retried.error_code) == (MessageStatus.QUEUED, 0, "")


def test_retry_of_a_message_that_did_not_fail_is_refused_with_a_message(acme, admin_console, data):
    response = admin_console.post(f"{LOG}{data.delivered.pk}/retry/", follow=True)
    assert response.status_code == 200 and b"Retry refused" in response.content
    with tenant_context(acme):
        assert Message.objects.get(pk=data.delivered.pk).status == MessageStatus.DELIVERED


def test_retry_needs_post(admin_console, data):
    assert admin_console.get(f"{LOG}{data.failed.pk}/retry/").status_code == 405


def test_auditor_reads_the_log_but_never_retries(acme, make_user, data):
    auditor = console(make_user(acme, Role.AUDITOR))
    assert listed_ids(auditor.get(LOG, {"q": "+49 151 9999 9999"})) == {str(data.failed.pk)}
    page = auditor.get(f"{LOG}{data.failed.pk}/change/")
    assert page.status_code == 200 and b"retry-button" not in page.content
    refused = auditor.post(f"{LOG}{data.failed.pk}/retry/")
    assert refused.status_code == 403 and refused["Content-Type"].startswith("text/html")
    with tenant_context(acme):
        assert Message.objects.get(pk=data.failed.pk).status == MessageStatus.FAILED


def test_retry_without_csrf_token_is_refused(acme, make_user, data):
    client = TenantClient("acme.localhost", enforce_csrf_checks=True)
    client.cookies = console(make_user(acme, Role.TENANT_ADMIN)).cookies  # logged in, without the form's token
    response = client.post(f"{LOG}{data.failed.pk}/retry/")
    assert response.status_code == 403 and b"Form expired" in response.content
    with tenant_context(acme):
        assert Message.objects.get(pk=data.failed.pk).status == MessageStatus.FAILED
