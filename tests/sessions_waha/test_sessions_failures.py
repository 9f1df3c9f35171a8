"""WAHA down, slow or refusing: 503 waha_unavailable and nothing half-made."""

import pytest
from django_tenants.utils import tenant_context

from accounts.roles import Role
from sessions_waha import services
from sessions_waha.models import Session
from tenants.models import SessionRoute


@pytest.fixture
def api(acme, make_user, client_for):
    return client_for(acme, make_user(acme, Role.TENANT_ADMIN))


def assert_nothing_left(acme, sandbox=None):
    with tenant_context(acme):
        assert not Session.objects.exists()
    assert not SessionRoute.objects.exists()
    if sandbox is not None:
        assert sandbox.session_names() == set()


def test_waha_not_listening_is_503_and_nothing_is_stored(api, acme, settings, db):
    settings.WAHA_BASE_URL = "http://127.0.0.1:9"
    settings.WAHA_API_KEY = "whatever-key-123456"
    response = api.post("/waha/sessions", {"name": "support"}, format="json")
    assert response.status_code == 503 and response.json()["code"] == "waha_unavailable"
    assert_nothing_left(acme)


def test_waha_dropping_connections_is_503(api, acme, sandbox):
    sandbox.faults(down=True)
    response = api.post("/waha/sessions", {"name": "support"}, format="json")
    assert response.status_code == 503
    sandbox.faults()
    assert_nothing_left(acme, sandbox)


def test_waha_rejecting_our_key_is_503_without_the_key_in_the_answer(api, acme, sandbox, settings):
    settings.WAHA_API_KEY = "a-wrong-key-that-must-not-leak"
    response = api.post("/waha/sessions", {"name": "support"}, format="json")
    assert response.status_code == 503 and response.json()["code"] == "waha_unavailable"
    assert b"a-wrong-key-that-must-not-leak" not in response.content
    assert_nothing_left(acme, sandbox)


def test_slow_waha_times_out_with_503_and_nothing_is_kept(api, acme, sandbox, settings):
    settings.WAHA_READ_TIMEOUT = 0.3
    sandbox.faults(latency_ms=800)
    response = api.post("/waha/sessions", {"name": "support"}, format="json")
    assert response.status_code == 503 and response.json()["code"] == "waha_unavailable"
    sandbox.faults()
    assert_nothing_left(acme)


def test_orphan_sweep_removes_our_sessions_without_a_route(sandbox, db):
    """A create that timed out may still finish inside WAHA; the sweep deletes it."""
    from tenants.waha_pool import waha_server_default

    metadata = {"tenant": "acme", "session_id": "5b0c1d2e-0000-4000-8000-000000000000"}
    sandbox.control("POST", "/api/sessions", json={"name": "acme_late_1234abcd", "config": {"metadata": metadata}})
    assert services.waha_orphans_remove(server=waha_server_default()) == ["acme_late_1234abcd"]
    assert sandbox.session_names() == set()


def test_orphan_sweep_leaves_foreign_sessions_alone(sandbox, db):
    sandbox.control("POST", "/api/sessions", json={"name": "someone-elses", "start": False})
    from tenants.waha_pool import waha_server_default

    assert services.waha_orphans_remove(server=waha_server_default()) == []
    assert sandbox.session_names() == {"someone-elses"}


def test_waha_down_on_delete_is_503_and_the_session_stays(api, acme, sandbox):
    created = api.post("/waha/sessions", {"name": "support"}, format="json").json()
    sandbox.faults(down=True)
    assert api.delete(f"/waha/sessions/{created['id']}").status_code == 503
    sandbox.faults()
    assert api.get(f"/waha/sessions/{created['id']}").status_code == 200
    assert SessionRoute.objects.filter(session_id=created["id"]).exists()


def test_waha_down_on_stop_and_qr_is_503(api, sandbox):
    created = api.post("/waha/sessions", {"name": "support"}, format="json").json()
    sandbox.faults(down=True)
    assert api.post(f"/waha/sessions/{created['id']}/stop").status_code == 503
    assert api.get(f"/waha/sessions/{created['id']}/qr").status_code in (409, 503)


def test_detail_answers_from_the_database_while_waha_is_down(api, acme, sandbox):
    created = api.post("/waha/sessions", {"name": "support"}, format="json").json()
    sandbox.faults(down=True)
    with tenant_context(acme):
        Session.objects.update(status_refreshed_at=None)
    response = api.get(f"/waha/sessions/{created['id']}")
    assert response.status_code == 200 and response.json()["status"] == created["status"]


def test_reconcile_recreates_sessions_waha_lost(api, acme, sandbox):
    created = api.post("/waha/sessions", {"name": "support"}, format="json").json()
    sandbox.control("POST", "/sandbox/reset")  # WAHA restarted without persistence
    assert sandbox.session_names() == set()
    with tenant_context(acme):
        counts = services.sessions_reconcile()
        session = Session.objects.get(pk=created["id"])
    assert counts["provisioned"] == 1
    assert sandbox.session_names() == {session.waha_name}


def test_declared_session_is_created_in_waha_by_reconcile(acme, sandbox):
    with tenant_context(acme):
        declared = services.session_declare(name="main")
        assert not declared.provisioned
        services.sessions_reconcile()
        declared.refresh_from_db()
    assert declared.provisioned and sandbox.session_names() == {declared.waha_name}


def test_reconcile_points_old_webhooks_at_a_new_webhook_base_url(api, acme, sandbox, settings):
    created = api.post("/waha/sessions", {"name": "support"}, format="json").json()
    with tenant_context(acme):
        session = Session.objects.get(pk=created["id"])
    old_hooks = sandbox.session(session.waha_name)["config"]["webhooks"]
    settings.WEBHOOK_BASE_URL = "https://gateway.example.com/"
    with tenant_context(acme):
        first = services.sessions_reconcile()
        again = services.sessions_reconcile()
    hooks = sandbox.session(session.waha_name)["config"]["webhooks"]
    assert first["webhooks_updated"] == 1 and again["webhooks_updated"] == 0 and again["refreshed"] == 1
    assert [hook["url"] for hook in hooks] == ["https://gateway.example.com/webhooks/waha"]
    # Only the address changed: the same signing key, events and metadata.
    assert hooks[0]["hmac"] == old_hooks[0]["hmac"] and hooks[0]["events"] == old_hooks[0]["events"]
    assert sandbox.session(session.waha_name)["config"]["metadata"]["session_id"] == created["id"]


def test_reconcile_updates_the_webhook_once_waha_answers_again(api, acme, sandbox, settings):
    created = api.post("/waha/sessions", {"name": "support"}, format="json").json()
    with tenant_context(acme):
        waha_name = Session.objects.get(pk=created["id"]).waha_name
    settings.WEBHOOK_BASE_URL = "https://gateway.example.com/"
    sandbox.faults(down=True)  # WAHA answers nothing but errors
    with tenant_context(acme):
        counts = services.sessions_reconcile()
    sandbox.faults()
    assert counts["webhooks_updated"] == 0
    assert "gateway.example.com" not in sandbox.session(waha_name)["config"]["webhooks"][0]["url"]
    with tenant_context(acme):
        assert services.sessions_reconcile()["webhooks_updated"] == 1
    assert sandbox.session(waha_name)["config"]["webhooks"][0]["url"] == "https://gateway.example.com/webhooks/waha"


def _drop_the_store_in_waha(sandbox, waha_name):
    """What WAHA holds for a session created before the store was part of the config."""
    config = sandbox.session(waha_name)["config"]
    del config["noweb"]
    response = sandbox.http.put(f"{sandbox.base_url}/api/sessions/{waha_name}", json={"config": config}, timeout=10)
    assert response.status_code == 200 and "noweb" not in sandbox.session(waha_name)["config"]
    return config


def _wait_working(sandbox, waha_name):
    from waha_sandbox.testing import wait_until

    wait_until(lambda: sandbox.session(waha_name)["status"] == "WORKING", timeout=5, message=f"{waha_name} WORKING")


def test_reconcile_gives_a_noweb_session_its_message_store_once(api, acme, sandbox):
    created = api.post("/waha/sessions", {"name": "support"}, format="json").json()
    with tenant_context(acme):
        waha_name = Session.objects.get(pk=created["id"]).waha_name
    sandbox.pair(waha_name)
    before = _drop_the_store_in_waha(sandbox, waha_name)
    _wait_working(sandbox, waha_name)
    with tenant_context(acme):
        first = services.sessions_reconcile()
    after = sandbox.session(waha_name)["config"]
    assert first["store_enabled"] == 1 and first["webhooks_updated"] == 0 and first["failed"] == 0
    assert after["noweb"] == {"store": {"enabled": True, "fullSync": False}}
    # PUT replaces the whole config: the webhook (same signing key) and the metadata came along.
    assert after["webhooks"] == before["webhooks"] and after["metadata"] == before["metadata"]
    _wait_working(sandbox, waha_name)  # WAHA restarted it; the phone stayed paired
    with tenant_context(acme):
        again = services.sessions_reconcile()
    assert again["store_enabled"] == 0 and again["refreshed"] == 1


@pytest.mark.parametrize("engine", ["GOWS", "WEBJS"])
def test_reconcile_leaves_other_engines_without_the_noweb_store_alone(api, acme, sandbox, engine):
    sandbox.control("POST", "/sandbox/config", json={"engine": engine})
    created = api.post("/waha/sessions", {"name": "support"}, format="json").json()
    with tenant_context(acme):
        waha_name = Session.objects.get(pk=created["id"]).waha_name
    sandbox.pair(waha_name)
    _drop_the_store_in_waha(sandbox, waha_name)
    _wait_working(sandbox, waha_name)
    with tenant_context(acme):
        counts = services.sessions_reconcile()
    assert counts["store_enabled"] == 0 and counts["refreshed"] == 1
    assert "noweb" not in sandbox.session(waha_name)["config"]  # no PUT, so no restart
