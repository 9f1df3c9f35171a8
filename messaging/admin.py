"""Message log, batch progress and conversations in the tenant console.

Everything is read-only except a conversation's assignee (TENANT_ADMIN);
the AUDITOR sees all of it read-only (view permission only).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest

from core.console.admin import TenantOnlyAdmin
from messaging.models import Batch, Conversation, Message, MessageStatus

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _BatchCounts(TypedDict):
    n_queued: int
    n_sent: int
    n_failed: int


@admin.register(Message)
class MessageAdmin(TenantOnlyAdmin):
    list_display = ("created_at", "direction", "type", "chat_id", "short_text", "status", "attempts", "error_code",
                    "session")
    list_filter = ("status", "direction", "type", "session", ("created_at", admin.DateFieldListFilter))
    search_fields = ("text", "chat_id", "waha_message_id", "=id")
    list_select_related = ("session",)
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page
    readonly_fields = [field.name for field in Message._meta.fields]

    @admin.display(description="text")
    def short_text(self, obj: Message) -> str:
        return (obj.text[:60] + "…") if len(obj.text) > 60 else obj.text

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Batch)
class BatchAdmin(TenantOnlyAdmin):
    list_display = ("created_at", "session", "total", "rejected", "queued", "sent_or_better", "failed",
                    "completed_at")
    readonly_fields = ("session", "created_by", "created_by_key", "template", "total", "rejected", "created_at",
                       "completed_at")
    list_select_related = ("session",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        delivered = [MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ]
        return super().get_queryset(request).annotate(
            n_queued=Count("messages", filter=Q(messages__status__in=[MessageStatus.QUEUED, MessageStatus.SENDING])),
            n_sent=Count("messages", filter=Q(messages__status__in=delivered)),
            n_failed=Count("messages", filter=Q(messages__status=MessageStatus.FAILED)),
        )

    @admin.display(description="queued / sending")
    def queued(self, obj: WithAnnotations[Batch, _BatchCounts]) -> int:
        return obj.n_queued

    @admin.display(description="sent or better")
    def sent_or_better(self, obj: WithAnnotations[Batch, _BatchCounts]) -> int:
        return obj.n_sent

    @admin.display(description="failed")
    def failed(self, obj: WithAnnotations[Batch, _BatchCounts]) -> int:
        return obj.n_failed

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(TenantOnlyAdmin):
    list_display = ("chat_id", "contact_name", "session", "assigned_to", "unread_count", "last_message_at")
    list_filter = ("session", ("assigned_to", admin.RelatedOnlyFieldListFilter))
    search_fields = ("chat_id", "contact_name")
    list_select_related = ("session", "assigned_to")
    fields = ("session", "chat_id", "contact_name", "assigned_to", "unread_count", "last_message_at", "created_at")
    readonly_fields = ("session", "chat_id", "contact_name", "unread_count", "last_message_at", "created_at")
    autocomplete_fields = ()
