"""Helpers shared by test modules (import from here, not from conftest)."""

from __future__ import annotations

from django_tenants.utils import tenant_context
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import TenantRefreshToken

TEST_TENANTS = {"acme": "acme.localhost", "globex": "globex.localhost", "e2e": "e2e.localhost"}
TEST_PASSWORD = "Correct-Horse-Battery-9"


def tokens_for(tenant, user: User) -> TenantRefreshToken:
    with tenant_context(tenant):
        return TenantRefreshToken.for_user(user)


def api_key_for(tenant, created_by: User, role: str = "MANAGER", **fields):  # type: ignore[no-untyped-def]
    """A new API key of ``tenant``: (the ApiKey row, the key itself)."""
    from apikeys.services import api_key_create

    with tenant_context(tenant):
        return api_key_create(name=fields.pop("name", f"{role.lower()} backend"), role=role,
                              created_by=created_by, **fields)


class TenantClient(APIClient):
    """An API client addressed to one tenant's host (or the public host)."""

    def __init__(self, host: str = "localhost", **defaults) -> None:
        super().__init__(HTTP_HOST=host, **defaults)

    def bearer(self, token: str) -> TenantClient:
        self.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return self

    def api_key(self, key: str) -> TenantClient:
        self.credentials(HTTP_X_API_KEY=key)
        return self
