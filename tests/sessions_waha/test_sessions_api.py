"""Sessions API end to end against the WAHA sandbox over real HTTP."""

import base64

import pytest
from django_tenants.utils import tenant_context

from accounts.roles import Role
from sessions_waha.models import Session
from tenants.models import SessionRoute


def create(api, name="support", **extra):
    return api.post("/waha/sessions", {"name": name, **extra}, format="json")


def test_create_registers_signed_webhook_and_starts_in_waha(api, acme, sandbox, settings):
    response = create(api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "support" and body["status"] in {"STARTING", "SCAN_QR_CODE"}
    route = SessionRoute.objects.get(session_id=body["id"])
    waha = sandbox.session(route.waha_session_name)
    hook = waha["config"]["webhooks"][0]
    assert hook["url"] == settings.WEBHOOK_BASE_URL + "/webhooks/waha"
    assert {"message", "message.ack", "session.status"} <= set(hook["events"])
    assert hook["hmac"]["key"] == route.hmac_key and len(route.hmac_key) >= 64
    assert waha["config"]["metadata"] == {"tenant": "acme", "session_id": body["id"]}
    # NOWEB keeps messages (and answers the lookup before a resend) only with its store on.
    assert waha["config"]["noweb"] == {"store": {"enabled": True, "fullSync": False}}
    assert waha["status"] != "STOPPED"
    assert route.tenant == acme


def test_start_false_leaves_the_session_stopped(api, sandbox):
    body = create(api, start=False).json()
    assert body["status"] == "STOPPED"


def test_each_session_gets_its_own_hmac_key(api, sandbox):
    first, second = create(api, "one").json(), create(api, "two").json()
    keys = set(
        SessionRoute.objects.filter(session_id__in=[first["id"], second["id"]]).values_list("hmac_key", flat=True)
    )
    assert len(keys) == 2


def test_name_is_unique_per_tenant(api, sandbox):
    assert create(api).status_code == 201
    response = create(api)
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert len(sandbox.session_names()) == 1


def test_two_tenants_may_use_the_same_name(api, globex, make_user, client_for, sandbox):
    other = client_for(globex, make_user(globex, Role.TENANT_ADMIN))
    first, second = create(api).json(), create(other).json()
    names = set(
        SessionRoute.objects.filter(session_id__in=[first["id"], second["id"]]).values_list(
            "waha_session_name", flat=True
        )
    )
    assert len(names) == 2 and names == sandbox.session_names()


@pytest.mark.parametrize("name", ["", "has space", "x" * 41, "ünicode", "-leading"])
def test_invalid_names_are_400(api, sandbox, name):
    response = create(api, name)
    assert response.status_code == 400 and "name" in response.json()["errors"]


def test_list_and_detail(api, sandbox):
    created = create(api).json()
    listed = api.get("/waha/sessions").json()
    assert [s["id"] for s in listed["results"]] == [created["id"]]
    detail = api.get(f"/waha/sessions/{created['id']}").json()
    assert set(detail) == {"id", "name", "status", "phone", "created_at", "updated_at", "status_changed_at"}


def test_detail_refreshes_a_stale_status_from_waha(api, acme, sandbox):
    created = create(api).json()
    with tenant_context(acme):
        session = Session.objects.get(pk=created["id"])
    sandbox.pair(session.waha_name, phone="4915100000001")
    with tenant_context(acme):
        Session.objects.filter(pk=session.pk).update(status_refreshed_at=None)
    detail = api.get(f"/waha/sessions/{created['id']}").json()
    assert detail["status"] == "WORKING" and detail["phone"] == "+4915100000001"
    assert detail["status_changed_at"] >= created["status_changed_at"]


def _wait_for_qr(api, session_id, sandbox, acme):
    with tenant_context(acme):
        waha_name = Session.objects.get(pk=session_id).waha_name
    from waha_sandbox.testing import wait_until

    wait_until(lambda: (sandbox.session(waha_name) or {}).get("status") == "SCAN_QR_CODE", timeout=5)


def test_qr_png_by_default_and_json_on_request(api, acme, sandbox):
    created = create(api).json()
    _wait_for_qr(api, created["id"], sandbox, acme)
    png = api.get(f"/waha/sessions/{created['id']}/qr")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
    as_json = api.get(f"/waha/sessions/{created['id']}/qr", HTTP_ACCEPT="application/json")
    assert as_json.status_code == 200 and as_json.json()["mimetype"] == "image/png"
    assert base64.b64decode(as_json.json()["data"]).startswith(b"\x89PNG")


def test_qr_of_a_working_session_is_409_session_not_ready(api, acme, sandbox):
    created = create(api).json()
    with tenant_context(acme):
        sandbox.pair(Session.objects.get(pk=created["id"]).waha_name)
    response = api.get(f"/waha/sessions/{created['id']}/qr")
    assert response.status_code == 409 and response.json()["code"] == "session_not_ready"
    assert response["Content-Type"] == "application/problem+json"


def test_stop_returns_the_stopped_session(api, sandbox):
    created = create(api).json()
    response = api.post(f"/waha/sessions/{created['id']}/stop")
    assert response.status_code == 200 and response.json()["status"] == "STOPPED"


def test_delete_removes_it_in_waha_and_hides_it(api, acme, sandbox):
    created = create(api).json()
    assert api.delete(f"/waha/sessions/{created['id']}").status_code == 204
    assert api.get(f"/waha/sessions/{created['id']}").status_code == 404
    assert sandbox.session_names() == set()
    assert not SessionRoute.objects.filter(session_id=created["id"]).exists()
    with tenant_context(acme):
        assert Session.objects.filter(pk=created["id"], deleted_at__isnull=False).exists()
    assert create(api).status_code == 201  # the name is free again


def test_session_of_another_tenant_is_404(api, globex, make_user, client_for, sandbox):
    created = create(api).json()
    other = client_for(globex, make_user(globex, Role.TENANT_ADMIN))
    for method, path in [("get", ""), ("get", "/qr"), ("post", "/stop"), ("delete", "")]:
        response = getattr(other, method)(f"/waha/sessions/{created['id']}{path}")
        assert response.status_code == 404, (method, path)
