"""The event webhook endpoints through the API: roles, URL rules at registration, the delivery log, replay."""

from __future__ import annotations

import base64
import ipaddress
import uuid
from types import SimpleNamespace

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.principals import ApiKeyPrincipal
from accounts.roles import Role
from events import delivery, url_rules
from events.models import Delivery, Endpoint
from events.permissions import EventWebhooksAccess

HOOK = "https://hooks.example.com/events"
ALLOWED, DENIED = "allowed", 403


@pytest.fixture
def endpoint(acme, make_endpoint):
    return make_endpoint(acme, url=HOOK)


@pytest.fixture
def a_delivery(acme, endpoint, client_for, admin):
    answer = client_for(acme, admin).post(f"/webhooks/endpoints/{endpoint.pk}/test")
    assert answer.status_code == 202, answer.content
    return answer.json()


def _calls(endpoint_id, delivery_id):
    base = f"/webhooks/endpoints/{endpoint_id}"
    return [
        ("get", "/webhooks/endpoints", None, "read"),
        ("post", "/webhooks/endpoints", {"url": HOOK, "events": ["*"]}, "write"),
        ("get", base, None, "read"),
        ("patch", base, {"description": "x"}, "write"),
        ("post", f"{base}/rotate-secret", None, "write"),
        ("post", f"{base}/test", None, "write"),
        ("get", f"{base}/deliveries", None, "read"),
        ("post", f"{base}/replay", {"since": "2026-01-01T00:00:00Z"}, "write"),
        ("get", f"/webhooks/deliveries/{delivery_id}", None, "read"),
        ("post", f"/webhooks/deliveries/{delivery_id}/replay", None, "write"),
        ("delete", base, None, "write"),
    ]


ROLES = {Role.TENANT_ADMIN: {"read", "write"}, Role.AUDITOR: {"read"}, Role.MANAGER: set(), Role.AGENT: set()}


@pytest.mark.parametrize("role", list(ROLES))
def test_roles_follow_the_contract_table(acme, make_user, client_for, endpoint, a_delivery, role):
    client = client_for(acme, make_user(acme, role))
    for method, path, body, kind in _calls(endpoint.pk, a_delivery["id"]):
        answer = getattr(client, method)(path, body, format="json") if body else getattr(client, method)(path)
        if kind in ROLES[role]:
            assert answer.status_code < 300, (role, method, path, answer.content)
        else:
            assert answer.status_code == 403, (role, method, path)
            assert answer.json()["code"] == "permission_denied"


def test_an_api_key_is_refused_where_an_auditor_user_reads():
    permission = EventWebhooksAccess()
    auditor = SimpleNamespace(is_authenticated=True, role=Role.AUDITOR)
    key = ApiKeyPrincipal(api_key_id=uuid.uuid4(), role=Role.AUDITOR, name="backend", session_ids=None)
    assert permission.has_permission(SimpleNamespace(user=auditor, auth=None, method="GET"), None)
    assert not permission.has_permission(SimpleNamespace(user=key, auth=key, method="GET"), None)


def test_create_answers_the_secret_once(acme, admin, client_for):
    client = client_for(acme, admin)
    created = client.post(
        "/webhooks/endpoints",
        {"url": HOOK, "events": ["message.read", "message.sent"], "description": "backend"},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and len(base64.b64decode(body["secret"][6:])) == 32
    assert body["events"] == ["message.read", "message.sent"] and body["enabled"] is True
    shown = client.get(f"/webhooks/endpoints/{body['id']}").json()
    assert "secret" not in shown and body["secret"] not in str(client.get("/webhooks/endpoints").json())


@pytest.mark.parametrize("events", [["message.sent", "message.bogus"], [], "message.sent", ["*", 3]])
def test_unknown_or_malformed_event_types_are_a_400(acme, admin, client_for, events):
    answer = client_for(acme, admin).post("/webhooks/endpoints", {"url": HOOK, "events": events}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "validation_error"
    assert any(key.startswith("events") for key in answer.json()["errors"])


def test_rotation_answers_a_new_secret_and_the_overlap_end(acme, admin, client_for, endpoint):
    answer = client_for(acme, admin).post(f"/webhooks/endpoints/{endpoint.pk}/rotate-secret")
    assert answer.status_code == 200
    assert answer.json()["secret"] != endpoint.secret and answer.json()["secret_rotation_ends_at"]


@pytest.fixture
def production_urls(settings, monkeypatch):
    settings.EVENT_WEBHOOK_STRICT_URLS = True
    settings.EVENT_WEBHOOK_ALLOWED_NETWORKS = []
    names = {
        "hooks.example.com": "93.184.216.34",
        "internal.example.com": "10.0.0.5",
        "metadata.example.com": "169.254.169.254",
        "v6.example.com": "::1",
    }

    def resolve(host, port):
        literal = host.strip("[]")
        try:
            return [ipaddress.ip_address(literal)]
        except ValueError:
            if host not in names:
                raise OSError("unknown host") from None
            return [ipaddress.ip_address(names[host])]

    monkeypatch.setattr(url_rules, "resolve", resolve)


@pytest.mark.parametrize(
    "url",
    [
        "0",
        "hooks.example.com/events",
        "http://[/x",
        "http://host:99999/x",
        "http:// x/",
        "https://[::1]/hook",
        "https://user:pw@hooks.example.com/events",
        "ftp://hooks.example.com/events",
        "https:///nohost",
    ],
)
def test_a_url_that_is_not_one_is_a_400(acme, admin, client_for, url):
    answer = client_for(acme, admin).post("/webhooks/endpoints", {"url": url, "events": ["*"]}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/events",
        "https://127.0.0.1/hook",
        "https://internal.example.com/hook",
        "https://metadata.example.com/latest",
        "https://v6.example.com/hook",
        "https://10.1.2.3:8443/hook",
        "https://nowhere.invalid/hook",
    ],
)
def test_production_refuses_urls_outside_the_rules_at_registration(acme, admin, client_for, production_urls, url):
    client = client_for(acme, admin)
    answer = client.post("/webhooks/endpoints", {"url": url, "events": ["*"]}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "url_not_allowed", answer.content
    with tenant_context(acme):
        assert not Endpoint.objects.exists()


def test_production_accepts_a_public_https_url_and_a_listed_network(
    acme, admin, client_for, production_urls, settings, endpoint
):
    client = client_for(acme, admin)
    assert client.post("/webhooks/endpoints", {"url": HOOK, "events": ["*"]}, format="json").status_code == 201
    settings.EVENT_WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/24"]
    allowed = client.post(
        "/webhooks/endpoints", {"url": "https://internal.example.com/hook", "events": ["*"]}, format="json"
    )
    assert allowed.status_code == 201
    patched = client.patch(f"/webhooks/endpoints/{endpoint.pk}", {"url": "https://127.0.0.1/x"}, format="json")
    assert patched.status_code == 400 and patched.json()["code"] == "url_not_allowed"


def test_development_allows_http_and_loopback(acme, admin, client_for):
    answer = client_for(acme, admin).post(
        "/webhooks/endpoints", {"url": "http://127.0.0.1:9000/hook", "events": ["*"]}, format="json"
    )
    assert answer.status_code == 201


def test_another_tenants_endpoint_and_delivery_are_404(
    acme, globex, admin, make_user, client_for, endpoint, a_delivery
):
    other = client_for(globex, make_user(globex, Role.TENANT_ADMIN))
    for path in (
        f"/webhooks/endpoints/{endpoint.pk}",
        f"/webhooks/endpoints/{endpoint.pk}/deliveries",
        f"/webhooks/deliveries/{a_delivery['id']}",
    ):
        assert other.get(path).status_code == 404
    assert other.post(f"/webhooks/deliveries/{a_delivery['id']}/replay").status_code == 404
    assert other.get("/webhooks/endpoints").json()["results"] == []


def test_the_public_host_has_no_event_endpoints(public_client):
    assert public_client.get("/webhooks/endpoints").status_code in {401, 404}


def test_the_delivery_log_filters_and_pages(acme, admin, client_for, endpoint):
    client = client_for(acme, admin)
    started = timezone.now()
    for _ in range(3):
        assert client.post(f"/webhooks/endpoints/{endpoint.pk}/test").status_code == 202
    with tenant_context(acme):
        first = Delivery.objects.order_by("created_at").first()
        delivery.deliveries_move(Delivery.objects.filter(pk=first.pk), delivery.GIVE_UP)
    base = f"/webhooks/endpoints/{endpoint.pk}/deliveries"
    page = client.get(base, {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    assert [d["id"] for d in client.get(base, {"status": "failed"}).json()["results"]] == [str(first.pk)]
    assert len(client.get(base, {"event_type": "ping"}).json()["results"]) == 3
    assert client.get(base, {"event_type": "message.read"}).json()["results"] == []
    assert len(client.get(base, {"since": started.isoformat()}).json()["results"]) == 3
    assert client.get(base, {"until": started.isoformat()}).json()["results"] == []
    assert client.get(base, {"status": "bogus"}).status_code == 400


def test_a_delivery_shows_its_payload_and_attempts(acme, admin, client_for, endpoint, a_delivery):
    detail = client_for(acme, admin).get(f"/webhooks/deliveries/{a_delivery['id']}").json()
    assert detail["payload"]["id"] == a_delivery["event_id"] and detail["payload"]["type"] == "ping"
    assert detail["payload"]["tenant"] == "acme" and detail["attempt_log"] == []
    assert detail["status"] == "pending"


def test_replays_answer_202(acme, admin, client_for, endpoint, a_delivery):
    client = client_for(acme, admin)
    with tenant_context(acme):
        delivery.deliveries_move(Delivery.objects.all(), delivery.GIVE_UP)
    replay = client.post(f"/webhooks/deliveries/{a_delivery['id']}/replay")
    assert replay.status_code == 202 and replay.json()["status"] == "pending"
    with tenant_context(acme):
        delivery.deliveries_move(Delivery.objects.all(), delivery.GIVE_UP)
    ranged = client.post(f"/webhooks/endpoints/{endpoint.pk}/replay", {"since": "2026-01-01T00:00:00Z"}, format="json")
    assert ranged.status_code == 202 and ranged.json() == {"queued": 1}
    empty = client.post(
        f"/webhooks/endpoints/{endpoint.pk}/replay",
        {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        format="json",
    )
    assert empty.status_code == 202 and empty.json() == {"queued": 0}
    assert client.post(f"/webhooks/endpoints/{endpoint.pk}/replay", {}, format="json").status_code == 400


def test_disabling_fails_pending_deliveries_and_tests_are_refused_until_enabled(
    acme, admin, client_for, endpoint, a_delivery
):
    client = client_for(acme, admin)
    disabled = client.patch(f"/webhooks/endpoints/{endpoint.pk}", {"enabled": False}, format="json").json()
    assert disabled["enabled"] is False and disabled["disabled_reason"]
    assert client.get(f"/webhooks/deliveries/{a_delivery['id']}").json()["status"] == "failed"
    refused = client.post(f"/webhooks/endpoints/{endpoint.pk}/test")
    assert refused.status_code == 409 and refused.json()["code"] == "endpoint_disabled"
    enabled = client.patch(f"/webhooks/endpoints/{endpoint.pk}", {"enabled": True}, format="json").json()
    assert enabled["enabled"] is True and enabled["disabled_reason"] == ""
    assert client.post(f"/webhooks/endpoints/{endpoint.pk}/test").status_code == 202


def test_delete_removes_the_endpoint_and_its_log(acme, admin, client_for, endpoint, a_delivery):
    client = client_for(acme, admin)
    assert client.delete(f"/webhooks/endpoints/{endpoint.pk}").status_code == 204
    assert client.get(f"/webhooks/endpoints/{endpoint.pk}").status_code == 404
    assert client.get(f"/webhooks/deliveries/{a_delivery['id']}").status_code == 404
