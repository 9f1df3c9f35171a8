"""Role rules of event webhooks: admins manage, auditors read, nobody else; API keys never manage them."""

from __future__ import annotations

from accounts.permissions import RolePermission
from accounts.roles import EVENT_WEBHOOK_READERS, EVENT_WEBHOOK_WRITERS


class EventWebhooksAccess(RolePermission):
    """Endpoints and their delivery log: TENANT_ADMIN all, AUDITOR reads; an API key is refused (the contract
    keeps webhook-endpoint management to people)."""

    read_roles = EVENT_WEBHOOK_READERS
    write_roles = EVENT_WEBHOOK_WRITERS
    api_keys = False
