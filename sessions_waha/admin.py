"""The sessions console: create a session, pair a phone (QR or code), and run its lifecycle.

A TENANT_ADMIN creates sessions, sees the pairing QR code, asks for a pairing code and runs the
actions that fit the session's state; Stop, Log out and Delete ask for confirmation first. Every
action is written to the session's history. The AUDITOR sees the same pages read-only, without the
QR (scanning it would link a phone to the tenant, which is a change).

On the public host, platform staff see the pool of WAHA servers (``tenants.WahaServer``, registered here
because ``tenants`` may not ask WAHA): each server's health and version, the tenants placed on it, and a
"Test connection" action. This module also adds the sessions to the platform console's tenant overview.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from core.console.admin import PublicOnlyAdmin
from core.console.overview import OverviewSection, tenant_overview_section
from core.console.site import status_badge as console_badge
from core.problems import ServiceError
from core.tenancy import in_public_schema
from sessions_waha import server_health, services
from sessions_waha.models import Session, SessionStatus
from tenants.models import SessionRoute, Tenant, WahaServer

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

logger = logging.getLogger("sessions")


@dataclass(frozen=True)
class Action:
    label: str
    run: Callable[..., Any]
    # What the confirmation page says; None runs the action at once.
    confirm: str | None = None


ACTIONS = {
    "start": Action("Start", services.session_start),
    "restart": Action("Restart", services.session_restart),
    "stop": Action("Stop", services.session_stop, confirm=(
        "While it is stopped, no WhatsApp message is sent or received through this number; queued messages "
        "wait. The phone stays paired, and Start brings the session back.")),
    "logout": Action("Log out", services.session_logout, confirm=(
        "This unpairs the phone: the number cannot send or receive until someone scans a new QR code (or "
        "enters a pairing code) with it. Queued messages wait until then.")),
    "delete": Action("Delete", services.session_delete, confirm=(
        "WAHA forgets the session and the phone is unpaired. Its messages stay readable here; messages still "
        "queued fail with session_deleted. The name becomes free for a new session.")),
}
# The actions offered in each state (WAHA refuses or ignores the others).
ACTIONS_FOR_STATUS: dict[str, tuple[str, ...]] = {
    SessionStatus.STOPPED: ("start", "delete"),
    SessionStatus.STARTING: ("stop", "delete"),
    SessionStatus.SCAN_QR_CODE: ("restart", "stop", "delete"),
    SessionStatus.WORKING: ("restart", "stop", "logout", "delete"),
    SessionStatus.FAILED: ("restart", "logout", "stop", "delete"),
}


def status_badge(status: str) -> str:
    """The session's status as a badge (colours in templates/admin/base_site.html)."""
    return console_badge(status, status)


def actions_for(session: Session) -> list[str]:
    return list(ACTIONS_FOR_STATUS.get(session.status, ("restart", "stop", "delete")))


def status_guidance(session: Session) -> tuple[str, str]:
    """What the status means (with its reason when there is one) and what to do next."""
    status, error = session.status, session.last_error
    if status == SessionStatus.FAILED:
        reason = (f"WAHA reports the session FAILED: {error}." if error else
                  "WAHA reports the session FAILED without a reason: WhatsApp closed the connection, or the "
                  "phone was unlinked from its Linked devices.")
        return reason, ("Restart it. If it fails again, Log out and pair the phone again (QR code or pairing "
                        "code).")
    if status == SessionStatus.STOPPED:
        if error == services.LOST_IN_WAHA:
            return ("WAHA no longer knows this session (it was restarted or its data was lost).",
                    "The service recreates it within a minute; Start does it now. Then pair the phone again.")
        return ("The session is stopped: no message is sent or received.", "Start it to resume.")
    if status == SessionStatus.STARTING:
        return ("WAHA is starting the session.", "Wait a few seconds: this page follows the status.")
    if status == SessionStatus.SCAN_QR_CODE:
        return ("The session waits for a phone. A number that was paired before was logged out (from this "
                "console, the API or the phone itself).",
                "Scan the QR code with WhatsApp on the phone, or ask for a pairing code.")
    if status == SessionStatus.WORKING:
        return (f"Paired with {session.phone or 'a phone'}: messages are sent and received.", "")
    return (f"WAHA reports {status}.", "Restart the session if it does not recover.")


PACING_FIELDS = ("pacing_enabled", "min_gap_seconds", "max_gap_seconds", "max_per_minute", "typing_before_reply")


class SessionCreateForm(forms.Form):
    name = forms.CharField(max_length=40, help_text="1-40 letters, digits, '-' or '_', e.g. 'support'.")


class PairingCodeForm(forms.Form):
    phone_number = forms.CharField(max_length=32, label="Phone number",
                                   help_text="The number of the phone to pair, with its country code.")


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("name", "badge", "phone", "push_name", "status_changed_at", "created_at")
    list_filter = ("status",)
    search_fields = ("name", "phone", "waha_name")
    # The status is not among the fields: the page shows it once, live, at the top.
    readonly_fields = ("name", "phone", "push_name", "waha_name", "waha_server_name", "provisioned", "last_error",
                       "created_at", "updated_at", "status_changed_at", "status_refreshed_at")
    # The send policy is the one thing edited here: relax it for a number that may send faster (or turn it
    # off), tighten it for a new one. A change applies from the session's next message.
    fieldsets = (
        (None, {"fields": readonly_fields}),
        ("Send policy", {"fields": PACING_FIELDS}),
    )
    change_form_template = "admin/sessions_waha/session/change_form.html"

    def save_model(self, request: HttpRequest, obj: Session, form: forms.ModelForm, change: bool) -> None:
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        return super().get_queryset(request).filter(deleted_at__isnull=True).select_related("waha_server")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return not in_public_schema() and super().has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not in_public_schema() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Session | None = None) -> bool:
        return False  # Django's delete would skip WAHA: Delete is a lifecycle action (see ACTIONS)

    def may_manage(self, request: HttpRequest) -> bool:
        return request.user.has_perm("sessions_waha.change_session")

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:session_id>/qr.png", wrap(self.qr_view), name="sessions_waha_session_qr"),
            path("<uuid:session_id>/state.json", wrap(self.state_view), name="sessions_waha_session_state"),
            path("<uuid:session_id>/action/<str:action>/", wrap(self.action_view),
                 name="sessions_waha_session_action"),
            path("<uuid:session_id>/pairing-code/", wrap(require_POST(self.pairing_code_view)),
                 name="sessions_waha_session_pairing_code"),
            *super().get_urls(),
        ]

    # ---------------------------------------------------------------- pages

    def _page_context(self, request: HttpRequest, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.model._meta,
                "has_view_permission": self.has_view_permission(request), **extra}

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
                 ) -> HttpResponse:
        """A name, then the service creates the session in WAHA and here, started, waiting for a phone."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SessionCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                session = services.session_create(name=form.cleaned_data["name"])
            except ServiceError as exc:
                for field, errors in (exc.errors or {"": [exc.detail]}).items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, error)
            else:
                self.log_addition(request, session, "Created; WAHA started it.")
                self.message_user(request, f"Session “{session.name}” created. Pair a phone with the QR code "
                                           "or a pairing code below.", level=messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:sessions_waha_session_change", args=[session.pk]))
        context = self._page_context(request, title="Add session", form=form, add=True)
        return TemplateResponse(request, "admin/sessions_waha/session/add_form.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        session = self.get_object(request, object_id)
        if session is not None:
            # Always WAHA's status of now: a stored one seconds old would disagree with the live badge.
            session = services.session_refresh(session=session)
        extra_context = {**(extra_context or {}), "session_obj": session, "may_manage": self.may_manage(request)}
        if session is not None:
            reason, next_step = status_guidance(session)
            extra_context.update(
                subtitle=session.name, badge=status_badge(session.status), guidance=reason, next_step=next_step,
                actions=[(name, ACTIONS[name]) for name in actions_for(session)], pairing_form=PairingCodeForm())
        return super().change_view(request, object_id, form_url, extra_context)

    def _session(self, request: HttpRequest, session_id: Any) -> Session:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=session_id)

    def _back(self, session: Session) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:sessions_waha_session_change", args=[session.pk]))

    def qr_view(self, request: HttpRequest, session_id: Any) -> HttpResponse:
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

    def state_view(self, request: HttpRequest, session_id: Any) -> JsonResponse:
        session = services.session_refresh(session=self._session(request, session_id), if_stale=False)
        return JsonResponse({"status": session.status, "phone": session.phone,
                             "badge": status_badge(session.status)}, headers={"Cache-Control": "no-store"})

    def action_view(self, request: HttpRequest, session_id: Any, action: str) -> HttpResponse:
        """GET: the confirmation page (Stop, Log out, Delete). POST: the action, once confirmed."""
        if not self.may_manage(request) or action not in ACTIONS:
            raise PermissionDenied
        session = services.session_refresh(session=self._session(request, session_id))
        chosen = ACTIONS[action]
        if action not in actions_for(session):
            self.message_user(request, f"{chosen.label} is not possible while the session is {session.status}.",
                              level=messages.ERROR)
            return self._back(session)
        if chosen.confirm and not (request.method == "POST" and request.POST.get("confirmed") == "yes"):
            context = self._page_context(request, title=f"{chosen.label} “{session.name}”?", session_obj=session,
                                         action=action, chosen=chosen, badge=status_badge(session.status))
            return TemplateResponse(request, "admin/sessions_waha/session/confirm_action.html", context)
        if request.method != "POST":
            return self._back(session)
        return self._run(request, session, action)

    def _run(self, request: HttpRequest, session: Session, action: str) -> HttpResponse:
        chosen = ACTIONS[action]
        try:
            result = chosen.run(session=session)
        except ServiceError as exc:
            self.message_user(request, f"{chosen.label} failed: {exc.detail}", level=messages.ERROR)
            return self._back(session)
        if action == "delete":
            self.log_change(request, session, "Deleted: WAHA forgot the session, the phone is unpaired.")
            self.message_user(request, f"Session “{session.name}” deleted.", level=messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:sessions_waha_session_changelist"))
        self.log_change(request, result, f"{chosen.label}: the session is now {result.status}.")
        self.message_user(request, f"{chosen.label}: the session is now {result.status}.", level=messages.SUCCESS)
        return self._back(result)

    def pairing_code_view(self, request: HttpRequest, session_id: Any) -> HttpResponse:
        """A code to type on the phone instead of scanning the QR code (WAHA's request-code)."""
        if not self.may_manage(request):
            raise PermissionDenied
        session = self._session(request, session_id)
        form = PairingCodeForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Enter the phone's number to get a pairing code.", level=messages.ERROR)
            return self._back(session)
        try:
            code = services.session_pairing_code(session=session, phone_number=form.cleaned_data["phone_number"])
        except ServiceError as exc:
            detail = "; ".join(error for errors in (exc.errors or {}).values() for error in errors) or exc.detail
            self.message_user(request, f"No pairing code: {detail}", level=messages.ERROR)
            return self._back(session)
        self.log_change(request, session, f"Pairing code requested for {form.cleaned_data['phone_number']}.")
        self.message_user(request, f"Pairing code: {code}. On the phone: WhatsApp → Settings → Linked devices → "
                                   "Link a device → Link with phone number instead, then enter the code.",
                          level=messages.SUCCESS)
        return self._back(session)


# ---------------------------------------------------------------- the platform console: sessions in a tenant's overview


@tenant_overview_section("sessions", order=20)
def sessions_section() -> OverviewSection:
    """The tenant's sessions by status (runs in the tenant's schema)."""
    counts = dict(Session.objects.filter(deleted_at__isnull=True).values_list("status").annotate(n=Count("id"))
                  .order_by())
    if not counts:
        return OverviewSection("Sessions", [("sessions", "none yet")])
    badges = format_html_join(" ", "{} {}", ((status_badge(status), counts[status]) for status in sorted(counts)))
    return OverviewSection("Sessions", [("sessions", str(sum(counts.values()))), ("by status", badges)])


# ---------------------------------------------------------------- the platform console: WAHA servers


class _RoutesCounted(TypedDict):
    used: int


class WahaServerForm(forms.ModelForm):
    api_key = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text="Sent as X-Api-Key. Leave empty to keep the current key.",
    )

    class Meta:
        model = WahaServer
        fields = ("name", "base_url", "api_key", "session_capacity", "is_active")

    def clean_api_key(self) -> str:
        key = self.cleaned_data.get("api_key") or ""
        if not key and not self.instance.pk:
            raise forms.ValidationError("An API key is required.")
        return key or self.instance.api_key


def health_badge(health: server_health.ServerHealth | None) -> SafeString | str:
    if health is None:
        return "-"
    return console_badge(health.state, health.state, title=health.detail)


def health_message(server: WahaServer, health: server_health.ServerHealth) -> str:
    """One line for "Test connection": what the server answered, in words."""
    if health.reachable:
        flavour = ", ".join(filter(None, (health.engine, health.tier)))
        return (f"{server.name}: reachable, WAHA {health.version or '(no version given)'}"
                f"{f' ({flavour})' if flavour else ''}, answered in {health.took_ms} ms.")
    return f"{server.name}: {health.state}. {health.detail}"


def tenants_on(server: WahaServer) -> list[tuple[Tenant, int, bool]]:
    """The tenants placed on ``server``: (tenant, sessions routed there, pinned to it), by slug."""
    routed = dict(SessionRoute.objects.filter(waha_server=server).values_list("tenant").annotate(n=Count("id"))
                  .order_by())
    pinned = set(Tenant.objects.filter(waha_server=server).values_list("pk", flat=True))
    tenants = Tenant.objects.filter(pk__in=set(routed) | pinned).order_by("slug")
    return [(tenant, routed.get(tenant.pk, 0), tenant.pk in pinned) for tenant in tenants]


@admin.register(WahaServer)
class WahaServerAdmin(PublicOnlyAdmin):
    form = WahaServerForm
    list_display = ("name", "health", "version", "base_url", "sessions_used", "session_capacity", "tenants",
                    "is_active")
    list_filter = ("is_active",)
    actions = ["test_connection"]
    change_form_template = "admin/tenants/wahaserver/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[WahaServer]:
        return super().get_queryset(request).annotate(used=Count("routes"))

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        # Sessions in the tenants' schemas refer to their server, which Django's delete cannot even list from
        # the public schema: a server leaves the pool by being made inactive (it then gets no new sessions).
        return False

    def get_fieldsets(self, request: HttpRequest, obj: WahaServer | None = None) -> Any:
        server = (None, {"fields": ("name", "base_url", "api_key", "session_capacity", "is_active")})
        if obj is None:
            return (server,)
        return (server, ("Health", {"fields": ("health_report",)}), ("Tenants", {"fields": ("tenants_detail",)}))

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple[str, ...]:
        return ("health_report", "tenants_detail") if obj else ()

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        """Ask the listed servers for their health all at once (remembered for HEALTH_CACHE_SECONDS)."""
        changelist = super().get_changelist_instance(request)
        servers = list(changelist.result_list)
        health = server_health.waha_servers_health(servers)
        for server in servers:
            cast(Any, server).console_health = health.get(server.pk)  # read by the health and version columns
        return changelist

    # ---------------------------------------------------------------- columns and fields

    @admin.display(description="health")
    def health(self, obj: WahaServer) -> SafeString | str:
        return health_badge(getattr(obj, "console_health", None))

    @admin.display(description="version")
    def version(self, obj: WahaServer) -> str:
        health = getattr(obj, "console_health", None)
        return health.version if health is not None and health.version else "-"

    @admin.display(description="sessions", ordering="used")
    def sessions_used(self, obj: WithAnnotations[WahaServer, _RoutesCounted]) -> int:
        return obj.used

    @admin.display(description="tenants")
    def tenants(self, obj: WahaServer) -> SafeString | str:
        placed = tenants_on(obj)
        if not placed:
            return "-"
        return format_html_join(", ", '<a href="{}">{}</a>{}', (
            (reverse("admin:tenants_tenant_change", args=[tenant.pk]), tenant.slug, " (pinned)" if pinned else "")
            for tenant, _, pinned in placed))

    @admin.display(description="health")
    def health_report(self, obj: WahaServer) -> SafeString:
        health = server_health.waha_server_health(obj)
        facts = [("state", health_badge(health)), ("what it answered", health.detail)]
        if health.version:
            facts += [("version", health.version), ("engine", health.engine or "-"), ("tier", health.tier or "-")]
        facts += [("asked at", f"{health.checked_at[:19].replace('T', ' ')} UTC, answered in {health.took_ms} ms")]
        rows = format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', facts)
        return format_html('<table class="server-health"><tbody>{}</tbody></table>'
                           '<p class="help">Asked with GET /api/server/version (which needs the API key), at most '
                           '{} s; the answer is remembered for {} s. “Test connection” asks again now.</p>',
                           rows, f"{server_health.HEALTH_DEADLINE:g}", server_health.HEALTH_CACHE_SECONDS)

    @admin.display(description="tenants placed here")
    def tenants_detail(self, obj: WahaServer) -> SafeString | str:
        placed = tenants_on(obj)
        if not placed:
            return "None: no tenant is pinned to this server and no session lives on it."
        items = format_html_join("", '<li><a href="{}">{}</a>: {} session{}{}</li>', (
            (reverse("admin:tenants_tenant_change", args=[tenant.pk]), tenant, sessions,
             "" if sessions == 1 else "s", ", pinned to this server" if pinned else "")
            for tenant, sessions, pinned in placed))
        return format_html("<ul>{}</ul>", items)

    # ---------------------------------------------------------------- Test connection

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:server_id>/test/", wrap(require_POST(self.test_connection_view)),
                 name="tenants_wahaserver_test"),
            *super().get_urls(),
        ]

    def _report(self, request: HttpRequest, servers: list[WahaServer]) -> None:
        health = server_health.waha_servers_health(servers, fresh=True)
        for server in servers:
            answer = health[server.pk]
            self.message_user(request, health_message(server, answer),
                              level=messages.SUCCESS if answer.reachable else messages.ERROR)

    def test_connection_view(self, request: HttpRequest, server_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        server = get_object_or_404(self.get_queryset(request), pk=server_id)
        self._report(request, [server])
        return HttpResponseRedirect(reverse("admin:tenants_wahaserver_change", args=[server.pk]))

    @admin.action(description="Test the connection of the selected servers")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[WahaServer]) -> None:
        self._report(request, list(queryset))
