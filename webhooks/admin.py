"""Stored WAHA events in the tenant console: read-only, for tracing what arrived and what it did."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from core.console.admin import TenantOnlyAdmin
from webhooks.models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(TenantOnlyAdmin):
    list_display = ("event", "event_id", "outcome", "session", "received_at")
    list_filter = ("event", "outcome")
    search_fields = ("event_id",)
    date_hierarchy = "received_at"
    fields = ("event_id", "event", "session", "outcome", "received_at", "processed_at", "error", "pretty_payload")
    readonly_fields = fields
    list_select_related = ("session",)

    @admin.display(description="payload")
    def pretty_payload(self, obj: WebhookEvent) -> str:
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", json.dumps(obj.payload, indent=2))

    def has_change_permission(self, request: HttpRequest, obj: WebhookEvent | None = None) -> bool:
        return False
