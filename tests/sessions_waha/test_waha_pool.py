"""The WAHA server pool: default server, capacity, pinning, a full pool."""

import pytest

from accounts.roles import Role
from tenants.models import SessionRoute, WahaServer
from tenants.waha_pool import waha_server_default
from tests.sandbox_fixtures import SANDBOX_KEY


@pytest.fixture
def api(acme, make_user, client_for):
    return client_for(acme, make_user(acme, Role.TENANT_ADMIN))


@pytest.fixture
def second_server(sandbox):
    # The same sandbox under another address: a distinct pool member.
    return WahaServer.objects.create(name="second", base_url=sandbox.base_url.replace("127.0.0.1", "localhost"),
                                     api_key=SANDBOX_KEY, session_capacity=10)


def server_of(response):
    return SessionRoute.objects.get(session_id=response.json()["id"]).waha_server


def test_default_server_comes_from_the_environment(sandbox):
    server = waha_server_default()
    assert (server.base_url, server.api_key, server.is_active) == (sandbox.base_url, SANDBOX_KEY, True)


def test_default_server_follows_a_changed_key(sandbox, settings):
    waha_server_default()
    settings.WAHA_API_KEY = "rotated-key-0123456789"
    assert waha_server_default().api_key == "rotated-key-0123456789"


def test_new_session_goes_to_the_server_with_most_free_capacity(api, sandbox, second_server):
    default = waha_server_default()
    default.session_capacity = 2
    default.save()
    assert server_of(api.post("/waha/sessions", {"name": "a"}, format="json")) == second_server
    second_server.session_capacity = 1
    second_server.save()
    assert server_of(api.post("/waha/sessions", {"name": "b"}, format="json")) == default


def test_inactive_servers_get_no_sessions(api, sandbox, second_server):
    second_server.session_capacity = 1000
    second_server.is_active = False
    second_server.save()
    assert server_of(api.post("/waha/sessions", {"name": "a"}, format="json")) == waha_server_default()


def test_pinned_tenant_uses_its_server(api, acme, sandbox, second_server):
    waha_server_default().session_capacity = 1000
    acme.waha_server = second_server
    acme.save()
    assert server_of(api.post("/waha/sessions", {"name": "a"}, format="json")) == second_server


def test_full_pool_is_503_and_creates_nothing(api, sandbox):
    WahaServer.objects.filter(pk=waha_server_default().pk).update(session_capacity=1)
    assert api.post("/waha/sessions", {"name": "a"}, format="json").status_code == 201
    response = api.post("/waha/sessions", {"name": "b"}, format="json")
    assert response.status_code == 503 and response.json()["code"] == "waha_capacity_exhausted"
    assert len(sandbox.session_names()) == 1


def test_deleting_a_session_frees_capacity(api, sandbox):
    WahaServer.objects.filter(pk=waha_server_default().pk).update(session_capacity=1)
    created = api.post("/waha/sessions", {"name": "a"}, format="json").json()
    api.delete(f"/waha/sessions/{created['id']}")
    assert api.post("/waha/sessions", {"name": "b"}, format="json").status_code == 201


def test_changing_waha_base_url_moves_the_default_server(sandbox, settings):
    first = waha_server_default()
    settings.WAHA_BASE_URL = "http://waha-moved:3000"
    moved = waha_server_default()
    assert moved.pk == first.pk and moved.base_url == "http://waha-moved:3000"
    assert WahaServer.objects.filter(name="default").count() == 1
