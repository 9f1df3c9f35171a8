"""Role rule for the API keys endpoints: admins manage, auditors read, and no key manages keys."""

from accounts.permissions import RolePermission
from accounts.roles import Role


class ApiKeysAccess(RolePermission):
    read_roles = frozenset({Role.TENANT_ADMIN, Role.AUDITOR})
    write_roles = frozenset({Role.TENANT_ADMIN})
    api_keys = False
