"""Role rules for messages, batches, stats and conversations (the API contract's table)."""

from accounts.models import Role
from accounts.permissions import EVERY_ROLE, RolePermission

ADMIN, MANAGER, AGENT, AUDITOR = Role.TENANT_ADMIN, Role.MANAGER, Role.AGENT, Role.AUDITOR


class MessagesAccess(RolePermission):
    """Everyone reads (an agent only their conversations); send and retry: not the auditor."""

    read_roles = EVERY_ROLE
    write_roles = frozenset({ADMIN, MANAGER, AGENT})


class BulkAccess(RolePermission):
    read_roles = frozenset({ADMIN, MANAGER, AUDITOR})
    write_roles = frozenset({ADMIN, MANAGER})


class StatsAccess(RolePermission):
    read_roles = frozenset({ADMIN, MANAGER, AUDITOR})
    write_roles = frozenset()


class ConversationsAccess(RolePermission):
    """Everyone reads (an agent only assigned ones); only admins and managers assign."""

    read_roles = EVERY_ROLE
    write_roles = frozenset({ADMIN, MANAGER})


class MediaAccess(RolePermission):
    """``POST /media``: whoever may send a message (the roles of ``POST /messages/send``)."""

    read_roles = frozenset()
    write_roles = MessagesAccess.write_roles
