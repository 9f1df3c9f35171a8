"""Role rules of event webhooks: admins manage, auditors read, nobody else; API keys never manage them."""

from __future__ import annotations

from rest_framework.request import Request

from accounts.models import Role
from accounts.permissions import RolePermission


def is_api_key(request: Request) -> bool:
    """Whether the request is authenticated by an API key rather than a user's token.

    API keys (issue 16, point 1) are built on another branch; whatever principal they authenticate as is
    expected to say so with ``is_api_key`` (on ``request.auth`` or ``request.user``).
    """
    return bool(getattr(request.auth, "is_api_key", False) or getattr(request.user, "is_api_key", False))


class EventWebhooksAccess(RolePermission):
    """Endpoints and their delivery log: TENANT_ADMIN all, AUDITOR reads; an API key is refused (the contract
    keeps webhook-endpoint management to people)."""

    read_roles = frozenset({Role.TENANT_ADMIN, Role.AUDITOR})
    write_roles = frozenset({Role.TENANT_ADMIN})

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        return super().has_permission(request, view) and not is_api_key(request)
