"""Who calls an endpoint, as the type checker should see ``request.user`` in a handler.

For annotations only: DRF builds plain ``Request`` objects. Every tenant endpoint's permission classes
refuse anonymous callers before the handler runs.
"""

from __future__ import annotations

from rest_framework.request import Request

from accounts.models import User
from accounts.principals import ApiKeyPrincipal


class AuthenticatedRequest(Request):
    """The caller is a user (a JWT) or an API key (``ApiKeyPrincipal``), which acts with its role."""

    user: User | ApiKeyPrincipal  # type: ignore[assignment]  # DRF's stubs know only the user model


class UserRequest(Request):
    """On endpoints that refuse API keys (``RolePermission.api_keys = False``): the caller is a ``User``."""

    user: User
