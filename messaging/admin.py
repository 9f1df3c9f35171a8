"""Message log and conversations in the tenant console (bulk sends: ``messaging.admin_batches``).

Everything is read-only except a conversation's assignee (TENANT_ADMIN) and
Retry on a failed message (TENANT_ADMIN, MANAGER: the API's ``POST
/messages/{id}/retry`` service); the AUDITOR sees all of it read-only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Field, ForeignKey, Model, QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from accounts import roles
from accounts.models import User
from accounts.roles import Role
from core.console.admin import TenantOnlyAdmin
from core.console.overview import OverviewSection, tenant_overview_section
from core.console.site import status_badge
from core.problems import ServiceError
from messaging import selectors
from messaging.admin_batches import DELIVERED_OR_BETTER, BatchFilter
from messaging.admin_format import clock, readable_number, stamp
from messaging.admin_search import message_search
from messaging.console_hooks import message_events
from messaging.models import (
    OPEN_STATUSES,
    TEXT_MAX_LENGTH,
    Conversation,
    Direction,
    Message,
    MessageStatus,
)
from messaging.services import media as media_service
from messaging.services import sending

# Who may press Retry: the roles the API lets retry, less the AGENT (who never enters the console).
RETRY_ROLES = frozenset({Role.TENANT_ADMIN, Role.MANAGER})


def message_badge(message: Message, *, now: dt.datetime | None = None) -> SafeString:
    """The status as a badge; a message waiting for another try says which attempt and when."""
    now = now or timezone.now()
    status, label = message.status, message.status
    due_later = message.next_attempt_at and message.next_attempt_at > now
    if status == MessageStatus.QUEUED and message.attempts > 0:
        status = "retrying"
        when = f"next at {clock(message.next_attempt_at)}" if due_later else "due now"
        label = f"retrying (attempt {message.attempts}, {when})"
    elif status == MessageStatus.QUEUED and due_later:
        label = f"queued (due at {clock(message.next_attempt_at)})"
    elif status == MessageStatus.SENDING and message.attempts > 1:
        label = f"sending (attempt {message.attempts})"
    return status_badge(status, label)


@admin.register(Message)
class MessageAdmin(TenantOnlyAdmin):
    list_display = ("when", "contact", "direction", "text_preview", "status_badge", "error_summary", "session_name")
    list_display_links = ("when",)
    # The bulk send first: it shows only while set, when it is what the list is about.
    list_filter = (BatchFilter, "status", "direction", "type", "session", ("created_at", admin.DateFieldListFilter))
    search_help_text = ("A number in any form (+49 151 …, 0151 …, digits, chat id), a contact name, text, "
                        "an error code or a message id.")
    search_fields = ("text",)  # the search itself is get_search_results: this only shows the box
    list_select_related = ("session", "conversation")
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over millions of rows on every page
    fieldsets = (
        (None, {"fields": ("status_badge", "direction", "type", "contact_link", "session_name", "batch_link",
                           "text", "media_summary", "error_summary")}),
        ("Times", {"fields": ("created_at", "next_attempt_at", "sending_started_at", "sent_at", "delivered_at",
                              "read_at", "failed_at", "revoked_at", "edited_at", "updated_at")}),
        ("Attempts", {"fields": ("attempts", "attempt_table")}),
        ("WhatsApp", {"fields": ("waha_message_id", "wa_id", "ack_level", "reply_to", "reactions")}),
        ("Webhook events", {"fields": ("webhook_events",)}),
    )
    readonly_fields = [name for _, options in fieldsets for name in cast("tuple[str, ...]", options["fields"])]
    change_form_template = "admin/messaging/message/change_form.html"

    # ---------------------------------------------------------------- list columns

    @admin.display(description="time", ordering="created_at")
    def when(self, obj: Message) -> str:
        return stamp(obj.created_at)

    @admin.display(description="contact")
    def contact(self, obj: Message) -> SafeString:
        name = obj.conversation.contact_name if obj.conversation_id else ""
        number = readable_number(obj.chat_id)
        if not name:
            return format_html('<span class="contact-number">{}</span>', number)
        return format_html('{}<br><span class="contact-number">{}</span>', name, number)

    @admin.display(description="text")
    def text_preview(self, obj: Message) -> str:
        text = obj.text if len(obj.text) <= 80 else obj.text[:80] + "…"
        return text if obj.type == "text" else f"[{obj.type}] {text}".strip()

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Message) -> SafeString:
        return message_badge(obj)

    @admin.display(description="error")
    def error_summary(self, obj: Message) -> SafeString | str:
        if not obj.error_code and not obj.error_detail:
            return self.get_empty_value_display()
        detail = obj.error_detail if len(obj.error_detail) <= 160 else obj.error_detail[:160] + "…"
        return format_html('<span class="error-code">{}</span> {}', obj.error_code, detail)

    @admin.display(description="session", ordering="session__name")
    def session_name(self, obj: Message) -> str:
        return obj.session.name

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str
                           ) -> tuple[QuerySet, bool]:
        return queryset.filter(message_search(search_term)), False

    # ---------------------------------------------------------------- detail page

    @admin.display(description="contact")
    def contact_link(self, obj: Message) -> SafeString:
        url = reverse("admin:messaging_conversation_change", args=[obj.conversation_id])
        return format_html('<a href="{}">{}</a>', url, self.contact(obj))

    @admin.display(description="batch")
    def batch_link(self, obj: Message) -> SafeString | str:
        if not obj.batch_id:
            return "-"
        url = reverse("admin:messaging_batch_change", args=[obj.batch_id])
        return format_html('<a href="{}">bulk send {}</a>', url, str(obj.batch_id)[:8])

    @admin.display(description="media")
    def media_summary(self, obj: Message) -> SafeString | str:
        return media_link(obj) or self.get_empty_value_display()

    @admin.display(description="attempt log")
    def attempt_table(self, obj: Message) -> SafeString | str:
        entries = [entry for entry in obj.attempt_log or [] if isinstance(entry, dict)]
        if not entries:
            return "No attempts recorded yet."
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                                (_attempt_row(entry) for entry in entries))
        return format_html(
            '<table class="attempt-log"><thead><tr><th scope="col">attempt</th><th scope="col">time</th>'
            '<th scope="col">outcome</th><th scope="col">detail</th><th scope="col">took</th></tr></thead>'
            "<tbody>{}</tbody></table>", rows)

    @admin.display(description="events that touched it")
    def webhook_events(self, obj: Message) -> SafeString | str:
        events = message_events(obj)
        if not events:
            return "None stored." if obj.wa_id else "None: WhatsApp has not given this message an id yet."
        items = format_html_join("", '<li><a href="{}">{}</a> · {} · {}</li>', (
            (event.url, event.name, stamp(event.received_at), event.outcome) for event in events))
        return format_html("<ul>{}</ul>", items)

    # ---------------------------------------------------------------- Retry

    def may_retry(self, request: HttpRequest) -> bool:
        return getattr(request.user, "role", None) in RETRY_ROLES

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:message_id>/retry/", wrap(require_POST(self.retry_view)), name="messaging_message_retry"),
            path("<uuid:message_id>/media/", wrap(self.media_view), name="messaging_message_media"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        message = self.get_object(request, object_id)
        retryable = bool(message and message.direction == Direction.OUTBOUND
                         and message.status == MessageStatus.FAILED)
        extra_context = {**(extra_context or {}), "message_obj": message,
                         "may_retry": retryable and self.may_retry(request)}
        if message is not None:
            extra_context["subtitle"] = message_subtitle(message)
        return super().change_view(request, object_id, form_url, extra_context)

    def retry_view(self, request: HttpRequest, message_id: Any) -> HttpResponse:
        if not self.may_retry(request):
            raise PermissionDenied
        message = get_object_or_404(self.get_queryset(request), pk=message_id)
        try:
            sending.message_retry(message=message)
            self.message_user(request, "Queued again: the message will be sent with a fresh set of attempts.",
                              level=messages.SUCCESS)
        except ServiceError as exc:
            self.message_user(request, f"Retry refused: {exc.detail}", level=messages.ERROR)
        return HttpResponseRedirect(reverse("admin:messaging_message_change", args=[message.pk]))

    def media_view(self, request: HttpRequest, message_id: Any) -> FileResponse:
        """The stored copy of an inbound media file, served as ``GET /messages/{id}/media`` serves it."""
        message = get_object_or_404(self.get_queryset(request), pk=message_id)
        try:
            handle, mimetype, filename = media_service.media_open(message=message)
        except OSError as exc:
            raise Http404("This message has no stored media.") from exc
        base_type = mimetype.split(";", 1)[0].strip().lower()
        response = FileResponse(handle, content_type=mimetype, filename=filename,
                                as_attachment=base_type not in media_service.INLINE_MIMETYPES)
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"  # never runs as a page of the console
        return response

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def message_subtitle(message: Message) -> str:
    """``Outbound text to Anna Schmidt (+4915199999999)``: what the page is about, in words."""
    name = message.conversation.contact_name if message.conversation_id else ""
    number = readable_number(message.chat_id)
    who = f"{name} ({number})" if name else number
    way = "to" if message.direction == Direction.OUTBOUND else "from"
    return f"{message.get_direction_display()} {message.get_type_display().lower()} {way} {who}"


def _attempt_row(entry: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """One attempt (or edit) of ``Message.attempt_log`` as table cells."""
    at = entry.get("at")
    try:
        when = stamp(dt.datetime.fromisoformat(at)) if isinstance(at, str) else ""
    except ValueError:
        when = str(at)
    known = {"attempt", "at", "outcome", "event", "error", "detail", "duration_ms"}
    detail = " · ".join(str(entry[key]) for key in ("error", "detail") if entry.get(key))
    extra = ", ".join(f"{key}={value}" for key, value in entry.items() if key not in known)
    took = f"{entry['duration_ms']} ms" if entry.get("duration_ms") is not None else ""
    outcome = entry.get("outcome") or entry.get("event") or ""
    return (str(entry.get("attempt", "")), when, str(outcome), " · ".join(filter(None, [detail, extra])), took)


class ReplyForm(forms.Form):
    text = forms.CharField(label="Reply", max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}),
                           help_text="Sent from this conversation's session, paced like any other message.")


@admin.register(Conversation)
class ConversationAdmin(TenantOnlyAdmin):
    list_display = ("chat_id", "contact_name", "session", "assigned_to", "unread_count", "last_message_at")
    list_filter = ("session", ("assigned_to", admin.RelatedOnlyFieldListFilter))
    search_fields = ("chat_id", "contact_name")
    list_select_related = ("session", "assigned_to")
    fields = ("session_link", "chat_id", "contact_name", "assigned_to", "unread_count", "last_message_at",
              "created_at")
    readonly_fields = ("session_link", "chat_id", "contact_name", "unread_count", "last_message_at", "created_at")
    autocomplete_fields = ()
    change_form_template = "admin/messaging/conversation/change_form.html"

    @admin.display(description="session")
    def session_link(self, obj: Conversation) -> SafeString:
        url = reverse("admin:sessions_waha_session_change", args=[obj.session_id])
        return format_html('<a href="{}">{}</a>', url, obj.session.name)

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "assigned_to" and formfield is not None:
            # Pick a person; adding or editing users is the Users page's job, not this one's.
            for name in ("can_add_related", "can_change_related", "can_delete_related", "can_view_related"):
                setattr(formfield.widget, name, False)
        return formfield

    def may_send(self, request: HttpRequest) -> bool:
        return getattr(request.user, "role", None) in roles.MESSAGE_SENDERS

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any
                                 ) -> forms.ModelChoiceField | None:
        if db_field.name == "assigned_to":
            # Only people who may write in the chat: an AUDITOR (or an inactive user) could never answer it.
            kwargs["queryset"] = User.objects.filter(is_active=True, role__in=roles.MESSAGE_SENDERS).order_by("email")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Conversation, form: forms.ModelForm, change: bool) -> None:
        sending.conversation_assign(conversation=obj, assignee_id=obj.assigned_to_id)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:conversation_id>/reply/", wrap(require_POST(self.reply_view)),
                 name="messaging_conversation_reply"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        conversation = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "conversation_obj": conversation}
        if conversation is not None:
            extra_context.update(
                subtitle=f"{conversation.contact_name or readable_number(conversation.chat_id)} "
                         f"({readable_number(conversation.chat_id)})",
                thread=thread_rows(conversation), thread_size=THREAD_SIZE,
                may_send=self.may_send(request) and conversation.session.deleted_at is None,
                reply_form=ReplyForm())
        return super().change_view(request, object_id, form_url, extra_context)

    def reply_view(self, request: HttpRequest, conversation_id: Any) -> HttpResponse:
        """Queue a text to the chat through the API's send service (same checks, same pacing)."""
        if not self.may_send(request):
            raise PermissionDenied
        conversation = get_object_or_404(self.get_queryset(request).select_related("session"), pk=conversation_id)
        back = HttpResponseRedirect(reverse("admin:messaging_conversation_change", args=[conversation.pk]))
        form = ReplyForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
            self.message_user(request, f"Not sent: {errors}", level=messages.ERROR)
            return back
        try:
            sending.message_send(
                sender=cast(User, request.user), session_reference=str(conversation.session_id),
                to=conversation.chat_id,
                content=sending.MessageContent(text=form.cleaned_data["text"]))
        except ServiceError as exc:
            detail = "; ".join(error for errors in (exc.errors or {}).values() for error in errors) or exc.detail
            self.message_user(request, f"Not sent: {detail}", level=messages.ERROR)
            return back
        self.message_user(request, "Reply queued: it appears below and its status follows the send.",
                          level=messages.SUCCESS)
        return back


# A conversation page shows this many of its latest messages; the message log has them all.
THREAD_SIZE = 50


def thread_rows(conversation: Conversation) -> list[dict[str, Any]]:
    """The latest messages of the chat, oldest first (a chat reads downwards), ready for the template."""
    latest = list(Message.objects.filter(conversation=conversation).select_related("created_by")
                  .order_by("-created_at", "-id")[:THREAD_SIZE])
    now = timezone.now()
    return [{
        "message": message,
        "url": reverse("admin:messaging_message_change", args=[message.pk]),
        "when": stamp(message.created_at),
        "inbound": message.direction == Direction.INBOUND,
        "badge": message_badge(message, now=now),
        "media": media_link(message),
    } for message in reversed(latest)]


def media_link(message: Message) -> SafeString | str:
    """A link to the message's media: our stored copy (inbound) or the URL it was sent from (outbound)."""
    media = message.media if isinstance(message.media, dict) else {}
    if not media:
        return ""
    name = media.get("filename") or media.get("mimetype") or message.type
    if media.get("path"):
        return format_html('<a href="{}">{}</a>', reverse("admin:messaging_message_media", args=[message.pk]), name)
    url = media.get("url")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', url, name)
    error = media.get("error")
    return f"{name} (not stored: {error.get('code', 'unavailable')})" if isinstance(error, dict) else str(name)


@tenant_overview_section("messages", order=30)
def messages_today_section() -> OverviewSection:
    """Today's messages of the tenant for the platform console (runs in the tenant's schema), counted as
    ``GET /messages/stats`` counts them."""
    today = timezone.now().astimezone(dt.UTC).date()
    stats = selectors.message_stats(since=selectors.day_start(today), until=None, session=None)
    by_status, by_direction = stats["by_status"], stats["by_direction"]
    waiting = sum(by_status.get(status, 0) for status in (MessageStatus.SCHEDULED, *OPEN_STATUSES))
    delivered = sum(by_status.get(status, 0) for status in DELIVERED_OR_BETTER)
    return OverviewSection("Messages today (UTC)", [
        ("sent by the tenant", f"{by_direction.get(Direction.OUTBOUND, 0)} ({delivered} sent or better, {waiting} "
                               f"waiting, {by_status.get(MessageStatus.FAILED, 0)} failed)"),
        ("received", str(by_direction.get(Direction.INBOUND, 0))),
    ])
