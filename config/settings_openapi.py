"""drf-spectacular's settings (``SPECTACULAR_SETTINGS`` in ``config.settings``): the OpenAPI document's title,
description, servers and the names of its enums. Constants only: nothing here reads the environment."""

from __future__ import annotations

OPENAPI_SETTINGS = {
    "TITLE": "WhatsApp Gateway API",
    "DESCRIPTION": (
        "Multi-tenant WhatsApp messaging over WAHA. Every tenant endpoint is reached on the "
        "tenant's own host (e.g. `acme.localhost`) or on any host with the `X-Tenant: <slug>` "
        "header. Errors are RFC 9457 problem details with a stable `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SERVE_URLCONF": ["config.urls_tenant", "config.urls_public"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "MessageTypeEnum": "messaging.models.MessageType",
        "BulkMessageTypeEnum": ["text", "image", "file", "video"],
        "MessageStatusEnum": "messaging.models.MessageStatus",
        "SessionStatusEnum": "sessions_waha.models.SessionStatus",
        "RoleEnum": "accounts.roles.Role",
        "ApiKeyRoleEnum": "apikeys.models.KEY_ROLE_CHOICES",
        "DeliveryStatusEnum": "events.models.DeliveryStatus",
        "EventTypeEnum": "events.models.EventType",
        "SubscribedEventEnum": "events.serializers.EVENT_CHOICES",
        "ReplayStatusEnum": ["failed", "delivered"],
    },
}
