"""The QR console: sessions with status badges, the live QR, lifecycle actions.

TENANT_ADMIN sees the QR and may start, stop, restart or log out a session;
the AUDITOR sees the same pages read-only, without the QR (scanning it would
link a phone to the tenant, which is a change).
"""

from __future__ import annotations

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.models import in_public_schema
from config.admin_site import status_badge as console_badge
from config.problems import ServiceError
from sessions_waha import services
from sessions_waha.models import Session

logger = logging.getLogger("sessions")

ACTIONS = {
    "start": services.session_start, "stop": services.session_stop,
    "restart": services.session_restart, "logout": services.session_logout,
}


def status_badge(status: str) -> str:
    """The session's status as a badge (colours in templates/admin/base_site.html)."""
    return console_badge(status, status)


PACING_FIELDS = ("pacing_enabled", "min_gap_seconds", "max_gap_seconds", "max_per_minute", "typing_before_reply")


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("name", "badge", "phone", "push_name", "status_changed_at", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "phone", "waha_name")
    readonly_fields = ("name", "badge", "phone", "push_name", "waha_name", "waha_server_name", "provisioned",
                       "last_error", "created_at", "updated_at", "status_changed_at", "status_refreshed_at")
    # The send policy is the one thing edited here: relax it for a number that may send faster (or turn it
    # off), tighten it for a new one. A change applies from the session's next message.
    fieldsets = (
        (None, {"fields": readonly_fields}),
        ("Send policy", {"fields": PACING_FIELDS}),
    )
    change_form_template = "admin/sessions_waha/session/change_form.html"

    def save_model(self, request: HttpRequest, obj: Session, form, change: bool) -> None:  # type: ignore[no-untyped-def]
        super().save_model(request, obj, form, change)
        logger.info("session.policy_changed session_id=%s by=%s %s", obj.pk, request.user.pk,
                    " ".join(f"{name}={getattr(obj, name)}" for name in PACING_FIELDS))

    @admin.display(description="status", ordering="status")
    def badge(self, obj: Session) -> str:
        return status_badge(obj.status)

    @admin.display(description="WAHA server")
    def waha_server_name(self, obj: Session) -> str:
        # The name only: the server's address is platform plumbing, and its page is the platform's.
        return obj.waha_server.name

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).filter(deleted_at__isnull=True).select_related("waha_server")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return not in_public_schema() and super().has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # sessions are created through the API (POST /waha/sessions)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False  # deleting unpairs a phone: done through the API, deliberately

    def may_manage(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sessions_waha.change_session")

    def get_urls(self):  # type: ignore[no-untyped-def]
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:session_id>/qr.png", wrap(self.qr_view), name="sessions_waha_session_qr"),
            path("<uuid:session_id>/state.json", wrap(self.state_view), name="sessions_waha_session_state"),
            path("<uuid:session_id>/action/<str:action>/", wrap(require_POST(self.action_view)),
                 name="sessions_waha_session_action"),
            *super().get_urls(),
        ]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):  # type: ignore[no-untyped-def]
        session = self.get_object(request, object_id)
        if session is not None:
            session = services.session_refresh(session=session, if_stale=True)
        extra_context = {
            **(extra_context or {}),
            "session_obj": session,
            "may_manage": self.may_manage(request),
            "actions": list(ACTIONS),
            "badge": status_badge(session.status) if session else "",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _session(self, request: HttpRequest, session_id) -> Session:  # type: ignore[no-untyped-def]
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=session_id)

    def qr_view(self, request: HttpRequest, session_id) -> HttpResponse:  # type: ignore[no-untyped-def]
        if not self.may_manage(request):
            raise PermissionDenied
        session = self._session(request, session_id)
        try:
            png = services.session_qr(session=session, as_json=False)
        except ServiceError as exc:
            return JsonResponse({"detail": exc.detail, "code": exc.code}, status=exc.status_code)
        response = HttpResponse(png, content_type="image/png")
        response["Cache-Control"] = "no-store"
        return response

    def state_view(self, request: HttpRequest, session_id) -> JsonResponse:  # type: ignore[no-untyped-def]
        session = services.session_refresh(session=self._session(request, session_id), if_stale=False)
        return JsonResponse({"status": session.status, "phone": session.phone,
                             "badge": status_badge(session.status)}, headers={"Cache-Control": "no-store"})

    def action_view(self, request: HttpRequest, session_id, action: str) -> HttpResponse:  # type: ignore[no-untyped-def]
        if not self.may_manage(request) or action not in ACTIONS:
            raise PermissionDenied
        session = self._session(request, session_id)
        try:
            session = ACTIONS[action](session=session)
            self.message_user(request, f"{action.capitalize()}: the session is now {session.status}.")
        except ServiceError as exc:
            self.message_user(request, f"{action.capitalize()} failed: {exc.detail}", level=messages.ERROR)
        return HttpResponseRedirect(reverse("admin:sessions_waha_session_change", args=[session.pk]))
