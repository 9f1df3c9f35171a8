"""Lockout (django-axes) and per-IP login rate limits (django-ratelimit)."""

import pytest
from django.core.cache import caches
from django.test import override_settings

from accounts.roles import Role
from tests.support import TEST_PASSWORD, TenantClient

pytestmark = pytest.mark.security

WRONG = "Definitely-Wrong-99"


def login(client, email, password, **extra):
    return client.post("/auth/login", {"email": email, "password": password}, format="json", **extra)


@pytest.fixture
def agent(acme, make_user):
    return make_user(acme, Role.AGENT)


def test_five_failures_lock_the_account_even_with_the_right_password(acme, agent, client_for):
    client = client_for(acme)
    for _ in range(5):
        assert login(client, agent.email, WRONG).status_code in (401, 429)
    response = login(client, agent.email, TEST_PASSWORD)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "account_locked"
    assert int(response["Retry-After"]) == 15 * 60


def test_lockout_is_per_email_case_insensitively(acme, agent, client_for):
    client = client_for(acme)
    for attempt in range(5):
        login(client, agent.email.upper() if attempt % 2 else agent.email, WRONG)
    assert login(client, agent.email, TEST_PASSWORD).json()["code"] == "account_locked"


def test_lockout_does_not_block_the_same_email_from_another_ip(acme, agent):
    locked = TenantClient("acme.localhost", REMOTE_ADDR="10.0.0.1")
    for _ in range(5):
        login(locked, agent.email, WRONG)
    assert login(locked, agent.email, TEST_PASSWORD).status_code == 429
    elsewhere = TenantClient("acme.localhost", REMOTE_ADDR="10.0.0.2")
    assert login(elsewhere, agent.email, TEST_PASSWORD).status_code == 200


def test_four_failures_then_success_resets_the_counter(acme, agent, client_for):
    client = client_for(acme)
    for _ in range(4):
        login(client, agent.email, WRONG)
    assert login(client, agent.email, TEST_PASSWORD).status_code == 200
    for _ in range(4):
        login(client, agent.email, WRONG)
    assert login(client, agent.email, TEST_PASSWORD).status_code == 200


def test_admin_login_is_locked_too_with_an_html_429(acme, make_user):
    admin = make_user(acme, Role.TENANT_ADMIN)
    client = TenantClient("acme.localhost")
    for _ in range(5):
        client.post("/admin/login/", {"username": admin.email, "password": WRONG})
    response = client.post("/admin/login/", {"username": admin.email, "password": TEST_PASSWORD})
    assert response.status_code == 429 and response["Content-Type"].startswith("text/html")
    assert b"Account locked" in response.content and b"Too many failed logins" in response.content
    assert int(response["Retry-After"]) > 0


def test_lockout_in_one_tenant_does_not_lock_the_other(acme, globex, make_user):
    make_user(acme, Role.AGENT, email="same@example.com")
    make_user(globex, Role.AGENT, email="same@example.com")
    for _ in range(5):
        login(TenantClient("acme.localhost"), "same@example.com", WRONG)
    assert login(TenantClient("globex.localhost"), "same@example.com", TEST_PASSWORD).status_code == 200


@override_settings(LOGIN_RATE="3/m")
def test_login_is_rate_limited_per_client_ip(acme, agent):
    client = TenantClient("acme.localhost", REMOTE_ADDR="10.1.1.1")
    for _ in range(3):
        login(client, f"nobody{_}@acme.test", WRONG)
    response = login(client, agent.email, TEST_PASSWORD)
    assert response.status_code == 429 and response.json()["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 60


@override_settings(LOGIN_RATE="3/m")
def test_spoofed_x_forwarded_for_changes_nothing_without_trusted_proxies(acme, agent):
    for index in range(4):
        client = TenantClient("acme.localhost", REMOTE_ADDR="10.2.2.2", HTTP_X_FORWARDED_FOR=f"203.0.113.{index}")
        response = login(client, f"nobody{index}@acme.test", WRONG)
    assert response.status_code == 429


@override_settings(LOGIN_RATE="3/m", TRUSTED_PROXY_COUNT=1)
def test_x_forwarded_for_is_used_behind_a_trusted_proxy(acme, agent):
    for index in range(4):
        client = TenantClient("acme.localhost", REMOTE_ADDR="10.3.3.3", HTTP_X_FORWARDED_FOR=f"203.0.113.{index}")
        response = login(client, f"nobody{index}@acme.test", WRONG)
    assert response.status_code == 401


@override_settings(LOGIN_RATE="3/m")
def test_rate_limit_fails_open_when_redis_is_down(acme, agent, settings):
    settings.CACHES = {**settings.CACHES, "ratelimit": {**settings.CACHES["ratelimit"],
                                                        "LOCATION": "redis://127.0.0.1:1/0"}}
    caches["ratelimit"].close()
    client = TenantClient("acme.localhost")
    for _ in range(4):
        response = login(client, agent.email, TEST_PASSWORD)
    assert response.status_code == 200
