"""The admin QR console against the sandbox."""

import pytest
from django_tenants.utils import tenant_context

from accounts.roles import Role
from sessions_waha.models import Session, SessionStatus
from sessions_waha.services import session_create
from tests.support import TEST_PASSWORD, TenantClient
from waha_sandbox.testing import wait_until


def console(acme, user):
    client = TenantClient("acme.localhost")
    client.post("/admin/login/", {"username": user.email, "password": TEST_PASSWORD})
    return client


@pytest.fixture
def session(acme, sandbox):
    with tenant_context(acme):
        created = session_create(name="support")
    wait_until(lambda: (sandbox.session(created.waha_name) or {}).get("status") == "SCAN_QR_CODE", timeout=5)
    return created


def page(client, session):
    return client.get(f"/admin/sessions_waha/session/{session.pk}/change/")


def test_list_shows_status_badges(acme, make_user, session):
    client = console(acme, make_user(acme, Role.TENANT_ADMIN))
    listing = client.get("/admin/sessions_waha/session/")
    assert listing.status_code == 200 and b"support" in listing.content
    assert b"status-badge status-STARTING" in listing.content


def test_admin_sees_the_qr_and_actions(acme, make_user, session):
    client = console(acme, make_user(acme, Role.TENANT_ADMIN))
    response = page(client, session)
    assert response.status_code == 200
    assert b'id="session-qr-image"' in response.content and b"SCAN_QR_CODE" in response.content
    for action in (b"stop", b"restart", b"delete"):  # the actions that fit SCAN_QR_CODE
        assert b"/action/" + action + b"/" in response.content
    for action in (b"start", b"logout"):
        assert b"/action/" + action + b"/" not in response.content
    qr = client.get(f"/admin/sessions_waha/session/{session.pk}/qr.png")
    assert qr.status_code == 200 and qr.content.startswith(b"\x89PNG")


def test_state_endpoint_follows_pairing(acme, make_user, session, sandbox):
    client = console(acme, make_user(acme, Role.TENANT_ADMIN))
    sandbox.pair(session.waha_name, phone="4915199999999")
    state = client.get(f"/admin/sessions_waha/session/{session.pk}/state.json").json()
    assert state["status"] == "WORKING" and state["phone"] == "+4915199999999"


@pytest.mark.parametrize("action, expected", [("stop", SessionStatus.STOPPED), ("restart", None)])
def test_admin_actions_change_the_session(acme, make_user, session, action, expected):
    client = console(acme, make_user(acme, Role.TENANT_ADMIN))
    response = client.post(f"/admin/sessions_waha/session/{session.pk}/action/{action}/", {"confirmed": "yes"})
    assert response.status_code == 302
    with tenant_context(acme):
        status = Session.objects.get(pk=session.pk).status
    assert status == expected if expected else status in set(SessionStatus)


def test_auditor_sees_the_console_read_only(acme, make_user, session):
    client = console(acme, make_user(acme, Role.AUDITOR))
    response = page(client, session)
    assert response.status_code == 200 and b"SCAN_QR_CODE" in response.content
    assert b'id="session-qr-image"' not in response.content and b"/action/" not in response.content
    assert client.get(f"/admin/sessions_waha/session/{session.pk}/qr.png").status_code == 403
    assert client.post(f"/admin/sessions_waha/session/{session.pk}/action/stop/").status_code == 403
    with tenant_context(acme):
        assert Session.objects.get(pk=session.pk).status != SessionStatus.STOPPED


def test_waha_failure_in_an_action_is_a_message_not_a_crash(acme, make_user, session, sandbox):
    client = console(acme, make_user(acme, Role.TENANT_ADMIN))
    sandbox.faults(down=True)
    response = client.post(f"/admin/sessions_waha/session/{session.pk}/action/stop/", {"confirmed": "yes"},
                           follow=True)
    assert response.status_code == 200 and b"Stop failed" in response.content


def test_public_console_manages_the_waha_pool(db, sandbox):
    from accounts.models import User

    User.objects.create_superuser("root@platform.test", TEST_PASSWORD)
    client = TenantClient("localhost")
    client.post("/admin/login/", {"username": "root@platform.test", "password": TEST_PASSWORD})
    response = client.post("/admin/tenants/wahaserver/add/", {
        "name": "second", "base_url": "http://waha-2:3000", "api_key": "second-server-key-123",
        "session_capacity": 25, "is_active": "on",
    })
    assert response.status_code == 302
    listing = client.get("/admin/tenants/wahaserver/")
    assert b"http://waha-2:3000" in listing.content and b"second-server-key-123" not in listing.content


def policy(**changes):
    return {"pacing_enabled": "on", "min_gap_seconds": "30", "max_gap_seconds": "60", "max_per_minute": "2",
            "typing_before_reply": "on", "_save": "Save", **changes}


def stored_policy(acme, session):
    with tenant_context(acme):
        fresh = Session.objects.get(pk=session.pk)
    return fresh.pacing_enabled, fresh.min_gap_seconds, fresh.max_gap_seconds, fresh.max_per_minute


def test_admin_relaxes_the_send_policy_of_one_session(acme, make_user, session):
    client = console(acme, make_user(acme, Role.TENANT_ADMIN))
    response = client.post(f"/admin/sessions_waha/session/{session.pk}/change/",
                           policy(min_gap_seconds="1", max_gap_seconds="2.5", max_per_minute="30"))
    assert response.status_code == 302, response.content[:500]
    assert stored_policy(acme, session) == (True, 1.0, 2.5, 30)
    off = policy()
    del off["pacing_enabled"]  # an unticked checkbox is absent from the form
    assert client.post(f"/admin/sessions_waha/session/{session.pk}/change/", off).status_code == 302
    assert stored_policy(acme, session)[0] is False


@pytest.mark.parametrize("changes, field", [
    ({"min_gap_seconds": "10", "max_gap_seconds": "5"}, b"Must be at least the shortest pause"),
    ({"max_per_minute": "0"}, b"max_per_minute"),
    ({"min_gap_seconds": "-1"}, b"min_gap_seconds"),
])
def test_an_impossible_policy_is_refused_and_nothing_changes(acme, make_user, session, changes, field):
    client = console(acme, make_user(acme, Role.TENANT_ADMIN))
    before = stored_policy(acme, session)
    response = client.post(f"/admin/sessions_waha/session/{session.pk}/change/", policy(**changes))
    assert response.status_code == 200 and b"errornote" in response.content and field in response.content
    assert stored_policy(acme, session) == before


def test_auditor_sees_the_policy_but_cannot_change_it(acme, make_user, session):
    client = console(acme, make_user(acme, Role.AUDITOR))
    before = stored_policy(acme, session)
    assert b"Send policy" in page(client, session).content
    response = client.post(f"/admin/sessions_waha/session/{session.pk}/change/", policy(max_per_minute="99"))
    assert response.status_code == 403
    assert stored_policy(acme, session) == before
