"""Role rules of the API contract, one permission class per rule.

Each class names the roles allowed to read (safe methods) and to change
(unsafe methods), as sets of ``accounts.roles``. AUDITOR is never in a change
set: it changes nothing.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.roles import EVERY_ROLE, USER_READERS, USER_WRITERS


class RolePermission(BasePermission):
    read_roles: frozenset[str] = frozenset()
    write_roles: frozenset[str] = frozenset()
    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:  # type: ignore[no-untyped-def]
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.role in self.roles_for(request.method)

    def roles_for(self, method: str) -> frozenset[str]:
        """The roles this rule allows ``method`` (read roles for safe methods, write roles for the others)."""
        return self.read_roles if method in SAFE_METHODS else self.write_roles

    def refuses_some_role(self, method: str) -> bool:
        """Whether some role is refused ``method`` here (the OpenAPI schema then documents a 403)."""
        return not self.roles_for(method) >= EVERY_ROLE


class AnyRole(RolePermission):
    """Every authenticated user of the tenant (e.g. ``/auth/profile``)."""

    read_roles = EVERY_ROLE
    write_roles = EVERY_ROLE


class UsersAccess(RolePermission):
    """Users: admins, managers and auditors read; only admins change."""

    read_roles = USER_READERS
    write_roles = USER_WRITERS
