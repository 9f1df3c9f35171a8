"""Nothing crosses from one tenant to another: tokens, ids, emails, hosts, admin."""

import uuid

import pytest
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import User
from accounts.roles import Role
from tests.support import TEST_PASSWORD, TenantClient, tokens_for

pytestmark = pytest.mark.security


@pytest.fixture
def twin_users(acme, globex, make_user):
    """An acme admin and a globex admin that share the same primary key."""
    acme_admin = make_user(acme, Role.TENANT_ADMIN)
    with tenant_context(globex):
        twin = User.objects.create_user("twin@globex.test", TEST_PASSWORD, role=Role.TENANT_ADMIN)
        User.objects.filter(pk=twin.pk).update(id=acme_admin.pk)
    return acme_admin


@pytest.mark.parametrize("via_header", [False, True], ids=["by-host", "by-x-tenant"])
def test_access_token_replayed_on_other_tenant_is_token_invalid(twin_users, acme, globex, client_for, via_header):
    token = str(tokens_for(acme, twin_users).access_token)
    response = client_for(globex, via_header=via_header).bearer(token).get("/users")
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_access_token_works_at_home_by_header_too(twin_users, acme, client_for):
    token = str(tokens_for(acme, twin_users).access_token)
    assert client_for(acme, via_header=True).bearer(token).get("/auth/profile").status_code == 200


@pytest.mark.parametrize("via_header", [False, True], ids=["by-host", "by-x-tenant"])
def test_refresh_replayed_on_other_tenant_is_refused_and_writes_nothing_there(
    twin_users, acme, globex, client_for, via_header
):
    refresh = str(tokens_for(acme, twin_users))
    foreign = client_for(globex, via_header=via_header)
    assert foreign.post("/auth/refresh", {"refresh": refresh}, format="json").status_code == 401
    assert foreign.post("/auth/logout", {"refresh": refresh}, format="json").status_code == 401
    with tenant_context(globex):
        assert not OutstandingToken.objects.exists() and not BlacklistedToken.objects.exists()
    # ... and the token is still alive at home.
    assert client_for(acme).post("/auth/refresh", {"refresh": refresh}, format="json").status_code == 200


def test_tenant_token_on_public_host_is_not_found(twin_users, acme, public_client):
    token = str(tokens_for(acme, twin_users).access_token)
    assert public_client.bearer(token).get("/users").status_code == 404


def test_user_id_of_other_tenant_is_404_not_403(acme, globex, make_user, client_for):
    acme_user = make_user(acme, Role.AGENT)
    globex_admin = make_user(globex, Role.TENANT_ADMIN)
    client = client_for(globex, globex_admin)
    for method in ("get", "patch", "put", "delete"):
        response = getattr(client, method)(f"/users/{acme_user.pk}", {"first_name": "x"}, format="json")
        assert response.status_code == 404, method
        assert response.json()["code"] == "not_found"


def test_same_email_may_exist_in_two_tenants(acme, globex, make_user, client_for):
    make_user(acme, Role.AGENT, email="shared@example.com")
    other = make_user(globex, Role.AGENT, email="shared@example.com")
    body = {"email": "shared@example.com", "password": TEST_PASSWORD}
    response = client_for(globex).post("/auth/login", body, format="json")
    assert response.status_code == 200 and response.json()["user"]["id"] == str(other.pk)


def test_user_lists_show_only_own_tenant(acme, globex, make_user, client_for):
    make_user(acme, Role.AGENT, email="only-acme@example.com")
    admin = make_user(globex, Role.TENANT_ADMIN)
    emails = [u["email"] for u in client_for(globex, admin).get("/users").json()["results"]]
    assert "only-acme@example.com" not in emails and admin.email in emails


def test_host_and_header_naming_different_tenants_is_400(acme, globex, make_user):
    client = TenantClient("acme.localhost", HTTP_X_TENANT="globex")
    response = client.get("/auth/profile")
    assert response.status_code == 400 and response.json()["code"] == "tenant_conflict"


def test_unknown_x_tenant_is_404_problem(db):
    response = TenantClient(HTTP_X_TENANT="initech").get("/auth/profile")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "tenant_not_found"


def test_x_tenant_is_a_slug_not_a_schema_name(acme):
    response = TenantClient(HTTP_X_TENANT=acme.schema_name).get("/auth/profile")
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/auth/login", "/auth/profile", "/users"])
def test_tenant_endpoints_are_404_on_public_host(public_client, path):
    response = public_client.get(path)
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_admin_of_one_tenant_cannot_enter_the_others_admin(acme, globex, make_user):
    admin = make_user(acme, Role.TENANT_ADMIN)
    client = TenantClient("globex.localhost")
    response = client.post("/admin/login/", {"username": admin.email, "password": TEST_PASSWORD})
    assert response.status_code == 200  # the login form again, with an error
    assert client.get("/admin/").status_code == 302


def test_admin_session_cookie_from_one_tenant_is_useless_on_the_other(acme, globex, make_user):
    admin = make_user(acme, Role.TENANT_ADMIN)
    client = TenantClient("acme.localhost")
    client.post("/admin/login/", {"username": admin.email, "password": TEST_PASSWORD})
    assert client.get("/admin/").status_code == 200
    client.defaults["HTTP_HOST"] = "globex.localhost"
    assert client.get("/admin/").status_code == 302


TENANT_PATHS = ["/messages/send", "/messages/bulk", "/users", "/waha/sessions", "/auth/login",
                f"/messages/{uuid.uuid4()}/retry", f"/users/{uuid.uuid4()}"]


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("path", TENANT_PATHS)
def test_tenant_paths_are_404_for_every_method_on_the_public_host(db, method, path):
    """The catch-all is not CSRF-protected: a POST from a browser-like client is a 404, not a 403."""
    client = TenantClient(enforce_csrf_checks=True)
    response = getattr(client, method)(path, {"x": 1}, format="json")
    assert response.status_code == 404, (method, path, response.content)
    assert response["Content-Type"] == "application/problem+json" and response.json()["code"] == "not_found"


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_unknown_tenant_is_404_for_every_method(db, method):
    client = TenantClient(enforce_csrf_checks=True, HTTP_X_TENANT="initech")
    response = getattr(client, method)("/messages/send", {"x": 1}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "tenant_not_found"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_path_on_a_tenant_host_is_404_for_every_method(acme, method):
    client = TenantClient("acme.localhost", enforce_csrf_checks=True)
    response = getattr(client, method)("/no/such/endpoint", {"x": 1}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("via_header", [False, True], ids=["by-host", "by-x-tenant"])
def test_api_key_of_another_tenant_is_api_key_invalid(acme, globex, make_user, client_for, via_header):
    """A key is looked up in the tenant it is presented to: another tenant's key is unknown there, even when a
    key with the same id exists."""
    from apikeys.models import ApiKey
    from tests.support import api_key_for

    acme_key, key = api_key_for(acme, make_user(acme, Role.TENANT_ADMIN), role=Role.AUDITOR)
    twin, _ = api_key_for(globex, make_user(globex, Role.TENANT_ADMIN), role=Role.AUDITOR)
    with tenant_context(globex):
        ApiKey.objects.filter(pk=twin.pk).update(id=acme_key.pk)
    response = client_for(globex, via_header=via_header).api_key(key).get("/messages")
    assert response.status_code == 401 and response.json()["code"] == "api_key_invalid"
    assert client_for(acme, via_header=via_header).api_key(key).get("/messages").status_code == 200


def test_api_key_on_the_public_host_reaches_no_tenant(acme, make_user, public_client):
    from tests.support import api_key_for

    _, key = api_key_for(acme, make_user(acme, Role.TENANT_ADMIN))
    assert public_client.api_key(key).get("/messages").status_code == 404
    assert public_client.api_key(key).get("/api/schema").status_code == 200
