"""Role rules for messages, batches, stats and conversations (the API contract's table)."""

from accounts.permissions import RolePermission
from accounts.roles import (
    BULK_READERS,
    BULK_SENDERS,
    CONVERSATION_ASSIGNERS,
    EVERY_ROLE,
    MESSAGE_SENDERS,
    NO_ROLE,
    STATS_READERS,
)


class MessagesAccess(RolePermission):
    """Everyone reads (an agent only their conversations); send and retry: not the auditor."""

    read_roles = EVERY_ROLE
    write_roles = MESSAGE_SENDERS


class BulkAccess(RolePermission):
    read_roles = BULK_READERS
    write_roles = BULK_SENDERS


class StatsAccess(RolePermission):
    read_roles = STATS_READERS
    write_roles = NO_ROLE


class ConversationsAccess(RolePermission):
    """Everyone reads (an agent only assigned ones); only admins and managers assign."""

    read_roles = EVERY_ROLE
    write_roles = CONVERSATION_ASSIGNERS


class MediaAccess(RolePermission):
    """``POST /media``: whoever may send a message (the roles of ``POST /messages/send``)."""

    read_roles = frozenset()
    write_roles = MessagesAccess.write_roles
