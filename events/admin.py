"""Event webhooks in the tenant console: endpoints, their delivery log, replays and the test ping.

A TENANT_ADMIN adds and edits endpoints, enables and disables them, rotates the signing secret, sends a test
``ping`` and replays deliveries (one, or every failed one in a time range). All of it goes through the API's
services (``events.services``), so the URL rules, the retry schedule and the delivery state machine are the
same in both. The AUDITOR reads every page and gets no buttons; a POST made by hand is refused (403).

A signing secret is on a page only in the answer to create and rotate (``secret.html``, never cached), never
in a list, a detail, a message or the history.

This module has the endpoints' pages; the delivery log is ``events.admin_log`` and what both show and take
(badges, times, forms) is ``events.admin_display``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from core.console.admin import TenantOnlyAdmin
from core.console.site import status_badge
from core.problems import ServiceError
from core.tenancy import in_public_schema
from events import services
from events.admin_display import (
    EndpointForm,
    ReplayRangeForm,
    delivery_log_url,
    delivery_row,
    endpoint_badge,
    endpoint_url,
    events_summary,
    may_manage,
    problem_into_form,
    stamp,
)
from events.admin_log import DeliveryAdmin
from events.models import ALL_EVENTS, Delivery, DeliveryStatus, Endpoint

# The endpoint's page shows its latest deliveries; the log has them all.
RECENT_DELIVERIES = 10


@admin.register(Endpoint)
class EndpointAdmin(TenantOnlyAdmin):
    list_display = ("url_link", "subscribed_events", "state", "last_delivery", "created_at")
    list_display_links = None
    # The state (and why and since when it is disabled) is in the box at the top of the page, with the actions.
    fieldsets = (
        (None, {"fields": ("url_text", "subscribed_events", "description")}),
        ("Signing secret", {"fields": ("secret_note",)}),
        ("Record", {"fields": ("created_by", "created_at", "updated_at")}),
    )
    readonly_fields = [name for _, options in fieldsets for name in cast("tuple[str, ...]", options["fields"])]
    change_form_template = "admin/events/endpoint/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Endpoint]:
        # The latest delivery of each endpoint, from the delivery log's index (endpoint, -created_at, -id).
        latest = Delivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at", "-id")
        return (
            super()
            .get_queryset(request)
            .select_related("created_by")
            .annotate(
                last_delivery_id=Subquery(latest.values("id")[:1]),
                last_delivery_status=Subquery(latest.values("status")[:1]),
                last_delivery_code=Subquery(latest.values("last_status_code")[:1]),
                last_delivery_at=Subquery(latest.values("created_at")[:1]),
            )
        )

    # ---------------------------------------------------------------- columns and fields

    @admin.display(description="URL", ordering="url")
    def url_link(self, obj: Endpoint) -> SafeString:
        return format_html('<a href="{}">{}</a>', endpoint_url(obj.pk), obj.url)

    @admin.display(description="URL")
    def url_text(self, obj: Endpoint) -> str:
        return obj.url

    @admin.display(description="events")
    def subscribed_events(self, obj: Endpoint) -> str:
        return events_summary(obj.events)

    @admin.display(description="state", ordering="enabled")
    def state(self, obj: Endpoint) -> SafeString:
        return endpoint_badge(obj)

    @admin.display(description="last delivery")
    def last_delivery(self, obj: Endpoint) -> SafeString | str:
        status = getattr(obj, "last_delivery_status", None)
        if status is None:
            return "none yet"
        code = getattr(obj, "last_delivery_code", None)
        url = reverse("admin:events_delivery_change", args=[getattr(obj, "last_delivery_id", None)])
        return format_html(
            '{} <a href="{}">{}</a>{}',
            status_badge(status, status),
            url,
            stamp(getattr(obj, "last_delivery_at", None)),
            f" · HTTP {code}" if code else "",
        )

    @admin.display(description="secret")
    def secret_note(self, obj: Endpoint) -> str:
        rotation = obj.previous_secret_expires_at
        if rotation and rotation > timezone.now():
            return (
                f"Rotated: until {stamp(rotation)} UTC the previous secret signs every delivery too (two "
                "signatures). The secret itself is shown only when it is made."
            )
        return "Shown only when it is made (when the endpoint is added and when the secret is rotated)."

    # ---------------------------------------------------------------- permissions

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return not in_public_schema() and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # the page reads; changes go through the service (edit_view and the actions)

    def _manageable(self, request: HttpRequest, endpoint_id: Any) -> Endpoint:
        if not may_manage(request):
            raise PermissionDenied
        return get_object_or_404(Endpoint, pk=endpoint_id)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:endpoint_id>/edit/", wrap(self.edit_view), name="events_endpoint_edit"),
            path("<uuid:endpoint_id>/rotate-secret/", wrap(self.rotate_view), name="events_endpoint_rotate"),
            path("<uuid:endpoint_id>/disable/", wrap(self.disable_view), name="events_endpoint_disable"),
            path("<uuid:endpoint_id>/enable/", wrap(require_POST(self.enable_view)), name="events_endpoint_enable"),
            path("<uuid:endpoint_id>/ping/", wrap(require_POST(self.ping_view)), name="events_endpoint_ping"),
            path("<uuid:endpoint_id>/replay/", wrap(require_POST(self.replay_view)), name="events_endpoint_replay"),
            *super().get_urls(),
        ]

    # ---------------------------------------------------------------- pages

    def _page(self, request: HttpRequest, template: str, **context: Any) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "has_view_permission": self.has_view_permission(request),
            **context,
        }
        return TemplateResponse(request, f"admin/events/endpoint/{template}", context)

    def _back(self, endpoint: Endpoint) -> HttpResponseRedirect:
        return HttpResponseRedirect(endpoint_url(endpoint.pk))

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        endpoint = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "endpoint_obj": endpoint, "may_manage": may_manage(request)}
        if endpoint is not None:
            now = timezone.now()
            recent = Delivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")[:RECENT_DELIVERIES]
            extra_context.update(
                subtitle=endpoint.url,
                state=endpoint_badge(endpoint),
                disabled_since=stamp(endpoint.disabled_at),
                log_url=delivery_log_url(endpoint.pk),
                failed_url=delivery_log_url(endpoint.pk, status=DeliveryStatus.FAILED),
                recent=[delivery_row(delivery, now=now) for delivery in recent],
                replay_form=ReplayRangeForm(initial={"since": (now - dt.timedelta(days=1)).replace(microsecond=0)}),
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """URL and events; the service checks the URL and makes the secret, which this answer shows once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = EndpointForm(request.POST or None, initial={"events": [ALL_EVENTS]})
        if request.method == "POST" and form.is_valid():
            try:
                endpoint = services.endpoint_create(created_by_id=request.user.pk, **form.cleaned_data)
            except ServiceError as exc:
                problem_into_form(form, exc)
            else:
                self.log_addition(request, endpoint, "Added.")
                return self._secret_page(request, endpoint, title="Endpoint added")
        return self._page(request, "edit_form.html", title="Add endpoint", form=form, add=True)

    def edit_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        endpoint = self._manageable(request, endpoint_id)
        current = {"url": endpoint.url, "events": endpoint.events, "description": endpoint.description}
        form = EndpointForm(request.POST or None, initial=current)
        if request.method == "POST" and form.is_valid():
            changes = {name: value for name, value in form.cleaned_data.items() if value != current[name]}
            if not changes:
                self.message_user(request, "Nothing changed.", level=messages.INFO)
                return self._back(endpoint)
            try:
                endpoint = services.endpoint_update(endpoint=endpoint, changes=changes)
            except ServiceError as exc:
                problem_into_form(form, exc)
            else:
                self.log_change(request, endpoint, f"Changed {', '.join(sorted(changes))}.")
                self.message_user(request, "Endpoint saved.", level=messages.SUCCESS)
                return self._back(endpoint)
        return self._page(request, "edit_form.html", title="Edit endpoint", form=form, endpoint_obj=endpoint)

    def _secret_page(self, request: HttpRequest, endpoint: Endpoint, *, title: str) -> TemplateResponse:
        """The one page that shows the secret: the answer to the POST that made it, never cached."""
        response = self._page(
            request,
            "secret.html",
            title=title,
            endpoint_obj=endpoint,
            secret=endpoint.secret,
            rotation_ends=stamp(endpoint.previous_secret_expires_at),
        )
        response["Cache-Control"] = "no-store"
        return response

    def _confirmed(self, request: HttpRequest) -> bool:
        return request.method == "POST" and request.POST.get("confirmed") == "yes"

    def rotate_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        """GET: what a rotation does. POST (confirmed): rotate, and show the new secret once."""
        endpoint = self._manageable(request, endpoint_id)
        if not self._confirmed(request):
            return self._page(
                request,
                "confirm.html",
                title="Rotate the signing secret?",
                endpoint_obj=endpoint,
                action_url=reverse("admin:events_endpoint_rotate", args=[endpoint.pk]),
                action_label="Yes, rotate the secret",
                explanation=(
                    "A new secret is made and shown once on the next page. For 24 hours every delivery carries "
                    "two signatures, one with the old secret and one with the new, so your receiver keeps "
                    "verifying while you deploy the new secret; then the old one stops signing."
                ),
            )
        endpoint = services.endpoint_rotate_secret(endpoint=endpoint)
        self.log_change(request, endpoint, "Signing secret rotated.")
        return self._secret_page(request, endpoint, title="Signing secret rotated")

    def disable_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        endpoint = self._manageable(request, endpoint_id)
        if not endpoint.enabled:
            self.message_user(request, "The endpoint is disabled already.", level=messages.INFO)
            return self._back(endpoint)
        if not self._confirmed(request):
            return self._page(
                request,
                "confirm.html",
                title="Disable the endpoint?",
                endpoint_obj=endpoint,
                action_url=reverse("admin:events_endpoint_disable", args=[endpoint.pk]),
                action_label="Yes, disable it",
                explanation=(
                    "No event is sent to it while it is disabled, and its pending deliveries end failed. "
                    "Enable it again later and replay what failed in the meantime."
                ),
            )
        endpoint = services.endpoint_update(endpoint=endpoint, changes={"enabled": False})
        self.log_change(request, endpoint, "Disabled.")
        self.message_user(request, "Endpoint disabled: its pending deliveries are failed.", level=messages.SUCCESS)
        return self._back(endpoint)

    def enable_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        endpoint = services.endpoint_update(endpoint=self._manageable(request, endpoint_id), changes={"enabled": True})
        self.log_change(request, endpoint, "Enabled.")
        self.message_user(
            request, "Endpoint enabled. Replay what failed while it was disabled below.", level=messages.SUCCESS
        )
        return self._back(endpoint)

    def ping_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        endpoint = self._manageable(request, endpoint_id)
        try:
            sent = services.endpoint_ping(endpoint=endpoint)
        except ServiceError as exc:
            self.message_user(request, f"No ping sent: {exc.detail}", level=messages.ERROR)
            return self._back(endpoint)
        self.log_change(request, endpoint, "Test ping sent.")
        self.message_user(request, "Test ping queued: reload this page to see its attempts.", level=messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:events_delivery_change", args=[sent.pk]))

    def replay_view(self, request: HttpRequest, endpoint_id: Any) -> HttpResponse:
        """Every failed delivery of the endpoint whose event happened in [since, until): sent again now."""
        endpoint = self._manageable(request, endpoint_id)
        form = ReplayRangeForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(str(error) for errors in form.errors.values() for error in errors)
            self.message_user(request, f"Nothing replayed: {errors}", level=messages.ERROR)
            return self._back(endpoint)
        since, until = form.cleaned_data["since"], form.cleaned_data["until"]
        try:
            queued = services.endpoint_replay(endpoint=endpoint, since=since, until=until)
        except ServiceError as exc:
            self.message_user(request, f"Nothing replayed: {exc.detail}", level=messages.ERROR)
            return self._back(endpoint)
        span = f"from {stamp(since)} until {stamp(until) if until else 'now'} (UTC)"
        self.log_change(request, endpoint, f"Replayed {queued} failed deliveries {span}.")
        if not queued:
            self.message_user(request, f"No failed delivery {span}: nothing was replayed.", level=messages.INFO)
            return self._back(endpoint)
        self.message_user(
            request,
            f"Replayed {queued} failed {'delivery' if queued == 1 else 'deliveries'} {span}: they are due now, "
            "each with its own webhook-id and a new retry schedule.",
            level=messages.SUCCESS,
        )
        window = {"since": since.strftime("%Y-%m-%dT%H:%M:%S")}
        if until:
            window["until"] = until.strftime("%Y-%m-%dT%H:%M:%S")
        return HttpResponseRedirect(delivery_log_url(endpoint.pk, **window))


# The delivery log's page (events.admin_log), registered here with the rest of the app's pages.
admin.site.register(Delivery, DeliveryAdmin)
