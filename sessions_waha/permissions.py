"""Role rules for WAHA sessions: everyone reads, only TENANT_ADMIN changes or sees the QR."""

from accounts.models import Role
from accounts.permissions import EVERY_ROLE, RolePermission


class SessionsAccess(RolePermission):
    read_roles = EVERY_ROLE
    write_roles = frozenset({Role.TENANT_ADMIN})


class SessionQrAccess(RolePermission):
    """The QR pairs a phone to the tenant: as sensitive as a write."""

    read_roles = frozenset({Role.TENANT_ADMIN})
    write_roles = frozenset()
