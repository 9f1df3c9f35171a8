"""Console test clients: logged in through the admin's own login form, on a tenant's (or the platform's) host."""

from __future__ import annotations

from typing import Any

from tests.support import TEST_PASSWORD, TenantClient


def console_as(host: str, email: str) -> TenantClient:
    client = TenantClient(host)
    response = client.post("/admin/login/", {"username": email, "password": TEST_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    return client


def console(user: Any, host: str = "acme.localhost") -> TenantClient:
    return console_as(host, user.email)
