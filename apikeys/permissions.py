"""Role rule for the API keys endpoints: admins manage, auditors read, and no key manages keys."""

from accounts.models import Role
from accounts.permissions import RolePermission


class ApiKeysAccess(RolePermission):
    read_roles = frozenset({Role.TENANT_ADMIN, Role.AUDITOR})
    write_roles = frozenset({Role.TENANT_ADMIN})
    api_keys = False
