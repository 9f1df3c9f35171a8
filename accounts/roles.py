"""Roles and who may do what: the role table of the API contract, one set of roles per rule.

The permission classes (``accounts/permissions.py``, ``sessions_waha/permissions.py``,
``messaging/permissions.py``) check a request against these sets, and a service that decides by role reads
the same set (the send statement checks the sender's role again when it stores a message), so each rule is
written once. AUDITOR is in no set that changes anything.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    TENANT_ADMIN = "TENANT_ADMIN", "Tenant admin"
    MANAGER = "MANAGER", "Manager"
    AGENT = "AGENT", "Agent"
    AUDITOR = "AUDITOR", "Auditor"


ADMIN, MANAGER, AGENT, AUDITOR = Role.TENANT_ADMIN, Role.MANAGER, Role.AGENT, Role.AUDITOR

EVERY_ROLE = frozenset(Role)
NO_ROLE: frozenset[Role] = frozenset()

# The tenant's admin console (the users' has_perm; platform staff use it on the public host).
ADMIN_CONSOLE_ROLES = frozenset({ADMIN, AUDITOR})

# Users: admins, managers and auditors read; only admins change.
USER_READERS = frozenset({ADMIN, MANAGER, AUDITOR})
USER_WRITERS = frozenset({ADMIN})

# WAHA sessions: everyone reads; only admins change them or see the QR, which pairs a phone to the tenant.
SESSION_WRITERS = frozenset({ADMIN})
SESSION_QR_READERS = frozenset({ADMIN})

# Messages: everyone reads (an agent only their conversations); everyone but the auditor sends and retries.
MESSAGE_SENDERS = frozenset({ADMIN, MANAGER, AGENT})
# Bulk sends and their batches, and the stats.
BULK_READERS = frozenset({ADMIN, MANAGER, AUDITOR})
BULK_SENDERS = frozenset({ADMIN, MANAGER})
STATS_READERS = frozenset({ADMIN, MANAGER, AUDITOR})
# Conversations: everyone reads (an agent only assigned ones); admins and managers assign.
CONVERSATION_ASSIGNERS = frozenset({ADMIN, MANAGER})

# API keys and event webhook endpoints: admins manage them, auditors read them (API keys are refused both).
API_KEY_READERS = frozenset({ADMIN, AUDITOR})
API_KEY_WRITERS = frozenset({ADMIN})
EVENT_WEBHOOK_READERS = frozenset({ADMIN, AUDITOR})
EVENT_WEBHOOK_WRITERS = frozenset({ADMIN})
