"""Role rules for WAHA sessions: everyone reads, only TENANT_ADMIN changes or sees the QR."""

from accounts.permissions import RolePermission
from accounts.roles import EVERY_ROLE, NO_ROLE, SESSION_QR_READERS, SESSION_WRITERS


class SessionsAccess(RolePermission):
    read_roles = EVERY_ROLE
    write_roles = SESSION_WRITERS


class SessionQrAccess(RolePermission):
    """The QR pairs a phone to the tenant: as sensitive as a write."""

    read_roles = SESSION_QR_READERS
    write_roles = NO_ROLE
