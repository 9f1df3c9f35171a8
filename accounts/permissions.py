"""Role rules of the API contract, one permission class per rule.

Each class names the roles allowed to read (safe methods) and to change
(unsafe methods), as sets of ``accounts.roles``. AUDITOR is never in a change
set: it changes nothing. An API key acts with its role (``accounts.principals``),
except where a class closes the endpoint to keys altogether (``api_keys = False``).
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.principals import is_api_key
from accounts.roles import EVERY_ROLE, USER_READERS, USER_WRITERS


class RolePermission(BasePermission):
    read_roles: frozenset[str] = frozenset()
    write_roles: frozenset[str] = frozenset()
    # Whether an API key may use the endpoint (with its role); False: 403 for every key.
    api_keys: bool = True
    message = "Your role does not allow this action."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not self.api_keys and is_api_key(user):
            self.message = "API keys may not use this endpoint: it needs a user's token."
            return False
        return user.role in self.roles_for(request.method or "")

    def roles_for(self, method: str) -> frozenset[str]:
        """The roles this rule allows ``method`` (read roles for safe methods, write roles for the others)."""
        return self.read_roles if method in SAFE_METHODS else self.write_roles

    def refuses_some_role(self, method: str) -> bool:
        """Whether some caller is refused ``method`` here (the OpenAPI schema then documents a 403): a role,
        or every API key."""
        return not self.api_keys or not self.roles_for(method) >= EVERY_ROLE


class AnyRole(RolePermission):
    """Every authenticated user of the tenant (e.g. ``/auth/profile``)."""

    read_roles = EVERY_ROLE
    write_roles = EVERY_ROLE


class UsersAccess(RolePermission):
    """Users: admins, managers and auditors read; only admins change. Never an API key."""

    read_roles = USER_READERS
    write_roles = USER_WRITERS
    api_keys = False
