"""The sessions console against the WAHA sandbox: create, pair, actions by state, confirmation, history."""

from __future__ import annotations

import re

import pytest
from django.contrib.admin.models import LogEntry
from django_tenants.utils import tenant_context

from accounts.roles import Role
from sessions_waha.models import Session, SessionStatus
from sessions_waha.services import session_create
from tests.console.clients import console
from tests.console.data import seed_console
from waha_sandbox.testing import wait_until

SESSIONS = "/admin/sessions_waha/session/"


@pytest.fixture
def admin_console(acme, make_user):
    return console(make_user(acme, Role.TENANT_ADMIN))


@pytest.fixture
def waiting(acme, sandbox):
    """A session waiting for a phone (SCAN_QR_CODE in the sandbox)."""
    with tenant_context(acme):
        created = session_create(name="support")
    assert wait_until(lambda: (sandbox.session(created.waha_name) or {}).get("status") == "SCAN_QR_CODE", timeout=5)
    return created


def stored(acme, session) -> Session:
    with tenant_context(acme):
        return Session.objects.get(pk=session.pk)


def history(acme, session) -> list[str]:
    with tenant_context(acme):
        entries = LogEntry.objects.filter(object_id=str(session.pk)).order_by("action_time")
        return [entry.get_change_message() for entry in entries]


def test_admin_creates_a_session_and_lands_on_its_pairing_page(acme, admin_console, sandbox):
    assert f'href="{SESSIONS}add/"'.encode() in admin_console.get(SESSIONS).content
    form = admin_console.get(f"{SESSIONS}add/")
    assert form.status_code == 200 and b'<label class="required" for="id_name">' in form.content
    response = admin_console.post(f"{SESSIONS}add/", {"name": "sales"})
    assert response.status_code == 302
    with tenant_context(acme):
        created = Session.objects.get(name="sales")
    assert response["Location"] == f"{SESSIONS}{created.pk}/change/"
    assert sandbox.session(created.waha_name) is not None  # created in WAHA, through the service
    assert history(acme, created) == ["Created; WAHA started it."]


@pytest.mark.parametrize("name, error", [("bad name!", b"Use 1-40 letters"), ("support", b"already exists")])
def test_a_bad_or_taken_name_is_an_error_on_the_form(acme, admin_console, waiting, name, error):
    response = admin_console.post(f"{SESSIONS}add/", {"name": name})
    assert response.status_code == 200 and error in response.content
    with tenant_context(acme):
        assert Session.objects.count() == 1


def test_waha_down_on_create_is_an_error_on_the_form(acme, admin_console, sandbox):
    sandbox.faults(down=True)
    response = admin_console.post(f"{SESSIONS}add/", {"name": "sales"})
    assert response.status_code == 200 and b"WAHA could not create the session" in response.content
    with tenant_context(acme):
        assert not Session.objects.filter(name="sales").exists()


def page(client, session) -> str:
    return client.get(f"{SESSIONS}{session.pk}/change/").content.decode()


def offered(content: str) -> set[str]:
    return set(re.findall(r'id="action-([a-z]+)"', content))


def test_one_status_and_only_the_actions_that_fit_it(acme, admin_console, waiting, sandbox):
    content = page(admin_console, waiting)
    assert content.count("status-badge status-") == 1  # one status on the page, the live one
    assert offered(content) == {"restart", "stop", "delete"}
    assert 'id="session-qr-image"' in content and 'id="pairing-code-form"' in content
    sandbox.pair(waiting.waha_name, phone="4915122223333")
    content = page(admin_console, waiting)
    assert "status-badge status-WORKING" in content and offered(content) == {"restart", "stop", "logout", "delete"}
    assert 'id="session-qr-image"' not in content


def test_logout_asks_first_then_acts_and_is_in_the_history(acme, admin_console, waiting, sandbox):
    sandbox.pair(waiting.waha_name, phone="4915122223333")
    page(admin_console, waiting)  # refreshes: WORKING
    confirm = admin_console.get(f"{SESSIONS}{waiting.pk}/action/logout/")
    assert confirm.status_code == 200 and b"This unpairs the phone" in confirm.content
    assert stored(acme, waiting).status == SessionStatus.WORKING  # asking changed nothing
    unconfirmed = admin_console.post(f"{SESSIONS}{waiting.pk}/action/logout/")
    assert unconfirmed.status_code == 200 and b"confirm-button" in unconfirmed.content
    assert stored(acme, waiting).status == SessionStatus.WORKING
    done = admin_console.post(f"{SESSIONS}{waiting.pk}/action/logout/", {"confirmed": "yes"}, follow=True)
    assert done.status_code == 200 and b"Log out: the session is now" in done.content
    assert stored(acme, waiting).phone == ""
    assert history(acme, waiting)[-1].startswith("Log out: the session is now")
    assert b"Log out: the session is now" in admin_console.get(f"{SESSIONS}{waiting.pk}/history/").content


def test_an_action_that_does_not_fit_the_state_is_refused(acme, admin_console, waiting):
    response = admin_console.post(f"{SESSIONS}{waiting.pk}/action/start/", follow=True)
    assert b"Start is not possible while the session is SCAN_QR_CODE" in response.content
    assert history(acme, waiting) == []


def test_delete_after_confirmation_hides_the_session_and_frees_its_name(acme, admin_console, waiting, sandbox):
    response = admin_console.post(f"{SESSIONS}{waiting.pk}/action/delete/", {"confirmed": "yes"}, follow=True)
    assert response.status_code == 200 and b"deleted" in response.content
    assert stored(acme, waiting).deleted_at is not None and sandbox.session(waiting.waha_name) is None
    assert admin_console.get(f"{SESSIONS}{waiting.pk}/change/").status_code == 302  # gone from the console


def test_pairing_code_instead_of_the_qr(acme, admin_console, waiting):
    response = admin_console.post(
        f"{SESSIONS}{waiting.pk}/pairing-code/", {"phone_number": "+49 151 2222 3333"}, follow=True
    )
    assert re.search(rb"Pairing code: [A-Z0-9]{4}-[A-Z0-9]{4}\.", response.content)
    assert history(acme, waiting) == ["Pairing code requested for +49 151 2222 3333."]
    bad = admin_console.post(f"{SESSIONS}{waiting.pk}/pairing-code/", {"phone_number": "0151 2222"}, follow=True)
    assert b"No pairing code: Not a phone number" in bad.content


@pytest.mark.parametrize(
    "last_error, reason",
    [
        ("Connection Failure", b"WAHA reports the session FAILED: Connection Failure."),
        ("", b"WAHA reports the session FAILED without a reason"),
    ],
)
def test_a_failed_session_says_why_and_what_next(acme, admin_console, last_error, reason):
    data = seed_console(acme)  # not provisioned: the page shows what is stored
    with tenant_context(acme):
        Session.objects.filter(pk=data.session.pk).update(status=SessionStatus.FAILED, last_error=last_error)
    content = page(admin_console, data.session).encode()
    assert reason in content and b"<strong>Next:</strong> Restart it." in content
    assert offered(content.decode()) == {"restart", "logout", "stop", "delete"}


def test_auditor_cannot_create_act_or_ask_for_codes(acme, make_user, waiting):
    auditor = console(make_user(acme, Role.AUDITOR))
    assert f'href="{SESSIONS}add/"'.encode() not in auditor.get(SESSIONS).content
    assert auditor.get(f"{SESSIONS}add/").status_code == 403
    assert auditor.post(f"{SESSIONS}add/", {"name": "sneaky"}).status_code == 403
    content = page(auditor, waiting)
    assert offered(content) == set() and "pairing-code-form" not in content
    assert auditor.get(f"{SESSIONS}{waiting.pk}/action/logout/").status_code == 403
    assert auditor.post(f"{SESSIONS}{waiting.pk}/action/stop/", {"confirmed": "yes"}).status_code == 403
    assert auditor.post(f"{SESSIONS}{waiting.pk}/pairing-code/", {"phone_number": "+4915122223333"}).status_code == 403
    assert stored(acme, waiting).status != SessionStatus.STOPPED and history(acme, waiting) == []
