"""Bulk sends in the tenant console: progress by status, each count opening the message log filtered to the
batch and that status (``BatchFilter``, the log's ``?batch=<id>`` like the API's), and the rejected recipients
with their reasons. Read-only for every role: a bulk send is made through the API.

Registered when ``messaging.admin`` imports it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, TypedDict
from urllib.parse import urlencode

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.console.admin import TenantOnlyAdmin
from core.console.site import status_badge
from messaging import selectors
from messaging.admin_format import stamp
from messaging.models import OPEN_STATUSES, Batch, MessageStatus

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class BatchFilter(admin.SimpleListFilter):
    """``?batch=<id>``, the API's ``GET /messages?batch=``: where a bulk send's counts lead. Shown only while set
    (a list of every bulk send would be long and say little); clearing it shows the whole log again."""

    title = "bulk send"
    parameter_name = "batch"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        if not value:
            return []
        batch = Batch.objects.filter(pk=batch_id).first() if (batch_id := _uuid_or_none(value)) else None
        return [(value, f"bulk send of {stamp(batch.created_at)}" if batch else "unknown bulk send")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        batch_id = _uuid_or_none(value)
        return queryset.filter(batch_id=batch_id) if batch_id else queryset.none()


def _uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


class _BatchCounts(TypedDict):
    n_queued: int
    n_sent: int
    n_failed: int


def batch_log_url(batch: Batch, **filters: str) -> str:
    """The message log, filtered to ``batch`` (and ``filters``, e.g. ``status__exact="failed"``)."""
    return f"{reverse('admin:messaging_message_changelist')}?{urlencode({'batch': str(batch.pk), **filters})}"


def _count_link(count: int, url: str) -> SafeString | int:
    return format_html('<a href="{}">{}</a>', url, count) if count else count


# Statuses a bulk message can be in, in the order a message goes through them (received is inbound only).
BATCH_STATUSES = [status for status in MessageStatus if status != MessageStatus.RECEIVED]
DELIVERED_OR_BETTER = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)
# A batch's page lists its rejected recipients this many at a time.
REJECTIONS_PER_PAGE = 100


@admin.register(Batch)
class BatchAdmin(TenantOnlyAdmin):
    """Bulk sends: progress by status (each count opens the log filtered to it) and the rejected recipients.

    Read-only for every role: a bulk send is made through the API.
    """

    list_display = ("created", "session", "total", "rejected", "queued", "sent_or_better", "failed", "completed")
    list_display_links = ("created",)
    readonly_fields = (
        "session",
        "created_by",
        "created_by_key",
        "template",
        "total",
        "rejected",
        "created_at",
        "completed_at",
    )
    fieldsets = ((None, {"fields": readonly_fields}),)
    list_select_related = ("session",)
    change_form_template = "admin/messaging/batch/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Batch]:
        # The stored rejections (up to 10,000 of them) are read by the batch's page only.
        return (
            super()
            .get_queryset(request)
            .defer("rejected_recipients")
            .annotate(
                n_queued=Count(
                    "messages", filter=Q(messages__status__in=[MessageStatus.QUEUED, MessageStatus.SENDING])
                ),
                n_sent=Count("messages", filter=Q(messages__status__in=DELIVERED_OR_BETTER)),
                n_failed=Count("messages", filter=Q(messages__status=MessageStatus.FAILED)),
            )
        )

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Batch) -> str:
        return stamp(obj.created_at)

    @admin.display(description="queued / sending")
    def queued(self, obj: WithAnnotations[Batch, _BatchCounts]) -> SafeString | int:
        return _count_link(obj.n_queued, batch_log_url(obj, status__in="queued,sending"))

    @admin.display(description="sent or better")
    def sent_or_better(self, obj: WithAnnotations[Batch, _BatchCounts]) -> SafeString | int:
        return _count_link(obj.n_sent, batch_log_url(obj, status__in=",".join(DELIVERED_OR_BETTER)))

    @admin.display(description="failed")
    def failed(self, obj: WithAnnotations[Batch, _BatchCounts]) -> SafeString | int:
        return _count_link(obj.n_failed, batch_log_url(obj, status__exact=MessageStatus.FAILED))

    @admin.display(description="completed", ordering="completed_at")
    def completed(self, obj: Batch) -> str:
        return stamp(obj.completed_at) or "not yet"

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        batch = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "batch_obj": batch}
        if batch is not None:
            extra_context.update(
                subtitle=f"Bulk send of {stamp(batch.created_at)} from {batch.session.name}",
                progress=batch_progress_view(batch),
                rejections=rejections_page(batch, request.GET.get("rejected_page")),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def batch_progress_view(batch: Batch) -> dict[str, Any]:
    """The batch's counts by status (``selectors.batch_progress``, as the API's ``GET /messages/batches/{id}``),
    each with the log filtered to it, and how many have settled."""
    progress = selectors.batch_progress(batch=batch)
    by_status = progress["by_status"]
    rows = [
        {
            "status": status.value,
            "badge": status_badge(status.value, status.value),
            "count": by_status.get(status.value, 0),
            "url": batch_log_url(batch, status__exact=status.value),
        }
        for status in BATCH_STATUSES
    ]
    still_open = sum(by_status.get(status, 0) for status in (MessageStatus.SCHEDULED, *OPEN_STATUSES))
    return {
        "rows": rows,
        "total": progress["total"],
        "settled": max(progress["total"] - still_open, 0),
        "completed_at": stamp(progress["completed_at"]),
        "all_url": batch_log_url(batch),
    }


def rejections_page(batch: Batch, page_number: str | None) -> dict[str, Any]:
    """One page of the batch's rejected recipients, each with its reasons in words."""
    stored = [entry for entry in batch.rejected_recipients or [] if isinstance(entry, dict)]
    page = Paginator(stored, REJECTIONS_PER_PAGE).get_page(page_number)
    rows = [
        {"index": entry.get("index"), "to": entry.get("to"), "reasons": _reasons(entry.get("errors"))}
        for entry in page.object_list
    ]
    # Batches from before the rejections were stored count them but cannot list them.
    return {"page": page, "rows": rows, "count": len(stored), "unlisted": batch.rejected - len(stored)}


def _reasons(errors: Any) -> list[str]:
    """``{"to": ["…"], "variables": ["…"]}`` → ``["to: …", "variables: …"]``."""
    if not isinstance(errors, dict):
        return [str(errors)] if errors else []
    return [
        f"{field}: {message}"
        for field, messages_ in errors.items()
        for message in (messages_ if isinstance(messages_, list) else [messages_])
    ]
