"""API keys: create, list, show, revoke; the key shown once and stored as a hash; both headers; refusals.

Sends, bulk and session bounds are in tests/messaging/test_api_key_sends.py, every role and every key
against every endpoint in test_rbac.py, foreign tenants in test_cross_tenant.py and revocation across
gunicorn workers in test_revocation_e2e.py.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from apikeys.models import ApiKey
from tests.support import TEST_TENANTS, TenantClient, api_key_for

pytestmark = pytest.mark.security

KEY_FIELDS = {"id", "name", "role", "sessions", "prefix", "created_at", "expires_at", "last_used_at", "created_by"}
KEY_FORMAT = re.compile(r"wgk_[A-Za-z0-9]{8}_[A-Za-z0-9]{43}")


@pytest.fixture
def admin(acme, make_user):
    return make_user(acme, Role.TENANT_ADMIN)


@pytest.fixture
def api(acme, admin, client_for):
    return client_for(acme, admin)


def key_client(tenant, key: str | None = None, **headers) -> TenantClient:
    client = TenantClient(TEST_TENANTS[tenant.slug], **headers)
    return client.api_key(key) if key is not None else client


def create(api, **body):
    return api.post("/api-keys", {"name": "orders", "role": "MANAGER", **body}, format="json")


def code(response) -> str:
    return response.json()["code"]


# ------------------------------------------------------------------ create, list, show, revoke


def test_create_shows_the_key_once_and_stores_only_its_sha256(acme, admin, api):
    response = create(api)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == KEY_FIELDS | {"key"}
    key = body["key"]
    assert KEY_FORMAT.fullmatch(key) and body["prefix"] == key[:12]
    assert (body["name"], body["role"], body["sessions"], body["expires_at"], body["last_used_at"]) == (
        "orders",
        "MANAGER",
        None,
        None,
        None,
    )
    assert body["created_by"] == str(admin.pk)
    assert response["Cache-Control"] == "no-store"
    with tenant_context(acme):
        stored = ApiKey.objects.get(pk=body["id"])
        row = ApiKey.objects.filter(pk=body["id"]).values().get()
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert not any(key in str(value) for value in row.values())
    for read in (api.get("/api-keys"), api.get(f"/api-keys/{body['id']}")):
        assert read.status_code == 200
        assert key not in read.content.decode() and stored.key_hash not in read.content.decode()
    listed = api.get("/api-keys").json()["results"]
    assert [set(item) for item in listed] == [KEY_FIELDS]
    assert api.get(f"/api-keys/{body['id']}").json() == {k: v for k, v in body.items() if k != "key"}


def test_every_create_draws_a_new_key(api):
    first, second = create(api).json(), create(api).json()
    assert first["key"] != second["key"] and first["prefix"] != second["prefix"]


def test_create_with_sessions_and_expiry(acme, api, sandbox):
    from sessions_waha.services import session_create

    with tenant_context(acme):
        session = session_create(name="orders")
    expires = (timezone.now() + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    body = create(api, sessions=[str(session.pk), str(session.pk)], expires_at=expires, role="AUDITOR").json()
    assert body["sessions"] == [str(session.pk)] and body["role"] == "AUDITOR"
    assert body["expires_at"] == expires


@pytest.mark.parametrize(
    "body, field",
    [
        ({"role": "TENANT_ADMIN"}, "role"),
        ({"role": "AGENT"}, "role"),
        ({"role": "manager"}, "role"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 7}, "name"),
        ({"sessions": []}, "sessions"),
        ({"sessions": ["not-a-uuid"]}, "sessions.0"),
        ({"sessions": [str(uuid.uuid4())]}, "sessions"),
        ({"sessions": "all"}, "sessions"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "soon"}, "expires_at"),
    ],
)
def test_invalid_create_is_400_and_creates_nothing(acme, api, body, field):
    response = create(api, **body)
    assert response.status_code == 400, response.content
    assert code(response) == "validation_error" and field in response.json()["errors"]
    with tenant_context(acme):
        assert not ApiKey.objects.exists()


def test_sessions_of_another_tenant_or_deleted_are_unknown(acme, globex, api, sandbox):
    from sessions_waha.services import session_create

    with tenant_context(globex):
        foreign = session_create(name="theirs")
    with tenant_context(acme):
        deleted = session_create(name="gone")
        type(deleted).objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
    for session in (foreign, deleted):
        response = create(api, sessions=[str(session.pk)])
        assert response.status_code == 400 and list(response.json()["errors"]) == ["sessions"]


def test_list_is_newest_first_paginated_and_leaves_out_revoked_keys(acme, admin, api):
    ids = [create(api, name=f"k{i}").json()["id"] for i in range(3)]
    assert api.delete(f"/api-keys/{ids[1]}").status_code == 204
    page = api.get("/api-keys?page_size=1").json()
    assert [item["id"] for item in page["results"]] == [ids[2]] and page["next"]
    assert [item["id"] for item in api.get("/api-keys").json()["results"]] == [ids[2], ids[0]]


def test_expired_keys_stay_listed_until_revoked(acme, api):
    body = create(api).json()
    with tenant_context(acme):
        ApiKey.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert [item["id"] for item in api.get("/api-keys").json()["results"]] == [body["id"]]


def test_revoke_is_204_then_the_key_is_gone_and_refused(acme, api):
    body = create(api).json()
    assert key_client(acme, body["key"]).get("/messages").status_code == 200
    assert api.delete(f"/api-keys/{body['id']}").status_code == 204
    for response in (api.get(f"/api-keys/{body['id']}"), api.delete(f"/api-keys/{body['id']}")):
        assert response.status_code == 404 and code(response) == "not_found"
    refused = key_client(acme, body["key"]).get("/messages")
    assert refused.status_code == 401 and code(refused) == "api_key_invalid"
    with tenant_context(acme):
        assert ApiKey.objects.get(pk=body["id"]).revoked_at is not None  # the row stays for what it created


def test_unknown_ids_are_404(acme, globex, api, make_user):
    foreign, _ = api_key_for(globex, make_user(globex, Role.TENANT_ADMIN))
    for key_id in (uuid.uuid4(), foreign.pk):
        for response in (api.get(f"/api-keys/{key_id}"), api.delete(f"/api-keys/{key_id}")):
            assert response.status_code == 404 and code(response) == "not_found"


@pytest.mark.parametrize(
    "role, reads, writes",
    [
        (Role.TENANT_ADMIN, 200, 201),
        (Role.AUDITOR, 200, 403),
        (Role.MANAGER, 403, 403),
        (Role.AGENT, 403, 403),
    ],
)
def test_roles_on_the_api_keys_endpoints(acme, admin, make_user, client_for, role, reads, writes):
    existing, _ = api_key_for(acme, admin)
    client = client_for(acme, make_user(acme, role))
    assert client.get("/api-keys").status_code == reads
    assert client.get(f"/api-keys/{existing.pk}").status_code == reads
    assert create(client).status_code == writes
    assert client.delete(f"/api-keys/{existing.pk}").status_code == (204 if writes == 201 else 403)


# ------------------------------------------------------------------ using a key


@pytest.mark.parametrize(
    "headers",
    [
        lambda key: {"HTTP_X_API_KEY": key},
        lambda key: {"HTTP_AUTHORIZATION": f"Api-Key {key}"},
        lambda key: {"HTTP_AUTHORIZATION": f"api-key   {key}"},
        lambda key: {"HTTP_X_API_KEY": f" {key} "},
    ],
    ids=["x-api-key", "authorization", "authorization-any-case", "x-api-key-padded"],
)
def test_both_headers_authenticate(acme, admin, headers):
    _, key = api_key_for(acme, admin, role=Role.AUDITOR)
    response = key_client(acme, **headers(key)).get("/messages")
    assert response.status_code == 200, response.content


def test_a_key_acts_with_its_role(acme, admin):
    _, auditor_key = api_key_for(acme, admin, role=Role.AUDITOR)
    _, manager_key = api_key_for(acme, admin, role=Role.MANAGER)
    assert key_client(acme, auditor_key).get("/messages/stats").status_code == 200
    refused = key_client(acme, auditor_key).post(
        "/messages/send", {"session": "x", "to": "+4915100000001", "text": "hi"}, format="json"
    )
    assert refused.status_code == 403 and code(refused) == "permission_denied"
    manager = key_client(acme, manager_key).post(
        "/messages/send", {"session": "x", "to": "+4915100000001", "text": "hi"}, format="json"
    )
    assert manager.status_code == 400 and list(manager.json()["errors"]) == ["session"]  # past the role check


def _wrong_secret(acme, admin) -> str:
    _, key = api_key_for(acme, admin)
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def _revoked(acme, admin) -> str:
    api_key, key = api_key_for(acme, admin)
    with tenant_context(acme):
        ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    return key


def _expired(acme, admin) -> str:
    api_key, key = api_key_for(acme, admin)
    with tenant_context(acme):
        ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return key


@pytest.mark.parametrize(
    "make_key",
    [
        lambda acme, admin: "wgk_AAAAAAAA_" + "A" * 43,  # well-formed, unknown
        lambda acme, admin: "not a key",
        lambda acme, admin: "",
        _wrong_secret,
        _revoked,
        _expired,
    ],
    ids=["unknown", "garbage", "empty", "wrong-secret", "revoked", "expired"],
)
def test_unknown_revoked_and_expired_keys_are_401_api_key_invalid(acme, admin, make_key):
    response = key_client(acme, make_key(acme, admin)).get("/messages")
    assert response.status_code == 401 and code(response) == "api_key_invalid"
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'Api-Key realm="api"'


@pytest.mark.parametrize("authorization", ["Api-Key", "Api-Key one two"])
def test_malformed_api_key_authorization_is_401(acme, authorization):
    response = key_client(acme, HTTP_AUTHORIZATION=authorization).get("/messages")
    assert response.status_code == 401 and code(response) == "api_key_invalid"


def test_a_key_whose_expiry_passes_stops_working(acme, admin, api):
    expires = timezone.now() + timedelta(days=1)
    api_key, key = api_key_for(acme, admin, expires_at=expires)
    assert key_client(acme, key).get("/messages").status_code == 200
    with tenant_context(acme):
        ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(milliseconds=1))
    assert key_client(acme, key).get("/messages").status_code == 401


def test_a_key_outlives_the_deactivation_of_its_creator(acme, make_user, client_for):
    """Keys belong to the tenant, not to the admin who made them (revoke them explicitly)."""
    creator = make_user(acme, Role.TENANT_ADMIN)
    _, key = api_key_for(acme, creator)
    client_for(acme, make_user(acme, Role.TENANT_ADMIN)).delete(f"/users/{creator.pk}")
    with tenant_context(acme):
        assert not User.objects.get(pk=creator.pk).is_active
    assert key_client(acme, key).get("/messages").status_code == 200


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("post", "/auth/login", {"email": "a@acme.test", "password": "x"}),
        ("post", "/auth/refresh", {"refresh": "x"}),
        ("post", "/auth/logout", {"refresh": "x"}),
        ("get", "/auth/profile", None),
    ],
)
def test_auth_endpoints_refuse_keys_with_401(acme, admin, method, path, body):
    _, key = api_key_for(acme, admin)
    for client in (key_client(acme, key), key_client(acme, HTTP_AUTHORIZATION=f"Api-Key {key}")):
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 401, response.content
        assert code(response) == "api_key_not_accepted"


@pytest.mark.parametrize("role", [Role.MANAGER, Role.AUDITOR])
def test_users_and_api_keys_are_403_for_every_key(acme, admin, role):
    _, key = api_key_for(acme, admin, role=role)
    client = key_client(acme, key)
    target = admin.pk
    for response in (
        client.get("/users"),
        client.get(f"/users/{target}"),
        client.patch(f"/users/{target}", {}),
        client.get("/api-keys"),
        create(client),
        client.get(f"/api-keys/{uuid.uuid4()}"),
    ):
        assert response.status_code == 403, response.content
        assert code(response) == "permission_denied"


def test_a_bearer_token_is_used_before_a_key_sent_with_it(acme, admin, client_for):
    """Both credentials: the user's token decides (the key is not even read), except on /auth/*, which refuses
    any request that presents a key."""
    assert client_for(acme, admin).get("/users", HTTP_X_API_KEY="not a key").status_code == 200
    assert client_for(acme, admin).get("/auth/profile", HTTP_X_API_KEY="not a key").status_code == 401


# ------------------------------------------------------------------ last_used_at, to the minute


def _key_writes(queries) -> list[str]:
    return [
        q["sql"] for q in queries if q["sql"].lstrip().upper().startswith("UPDATE") and "apikeys_apikey" in q["sql"]
    ]


def test_last_used_at_is_written_at_most_once_a_minute(acme, admin):
    api_key, key = api_key_for(acme, admin, role=Role.AUDITOR)
    client = key_client(acme, key)
    with CaptureQueriesContext(connection) as queries:
        for _ in range(5):
            assert client.get("/waha/sessions").status_code == 200
    assert len(_key_writes(queries.captured_queries)) == 1
    with tenant_context(acme):
        first = ApiKey.objects.get(pk=api_key.pk).last_used_at
        assert first is not None and timezone.now() - first < timedelta(seconds=10)
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first - timedelta(seconds=61))
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert client.get("/waha/sessions").status_code == 200
    assert len(_key_writes(queries.captured_queries)) == 1
    with tenant_context(acme):
        assert ApiKey.objects.get(pk=api_key.pk).last_used_at >= first


def test_a_refused_key_writes_nothing(acme, admin):
    api_key, key = api_key_for(acme, admin)
    with tenant_context(acme):
        ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    with CaptureQueriesContext(connection) as queries:
        assert key_client(acme, key).get("/messages").status_code == 401
    assert _key_writes(queries.captured_queries) == []
    with tenant_context(acme):
        assert ApiKey.objects.get(pk=api_key.pk).last_used_at is None


# ------------------------------------------------------------------ logs


def test_the_key_and_its_hash_never_reach_the_logs(acme, api, caplog):
    caplog.set_level(logging.DEBUG)
    body = create(api).json()
    key = body["key"]
    digest = hashlib.sha256(key.encode()).hexdigest()
    key_client(acme, key).get("/messages")
    key_client(acme, key[:-1] + "x").get("/messages")
    api.get("/api-keys")
    api.delete(f"/api-keys/{body['id']}")
    key_client(acme, key).get("/messages")
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert "api_key.created" in logged and "api_key.revoked" in logged
    assert key not in logged and key[13:] not in logged and digest not in logged
