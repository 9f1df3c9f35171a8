"""Tenants and their domains in the platform console (public host, platform staff only).

Adding a tenant provisions it whole through ``tenants.services.tenant_provision`` (as ``manage.py provision_tenant``
does): its schema, its domain and its first TENANT_ADMIN, whose generated password is shown once. A tenant's
page opens with an overview: its users, and the sections the apps above this one register
(``core.console.overview``: sessions by status, today's messages). The WAHA servers' page is registered by
``sessions_waha.admin``, which may ask WAHA for their health.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from accounts.models import User
from accounts.roles import Role
from core.console.admin import PublicOnlyAdmin
from core.console.overview import OverviewSection, tenant_overview, tenant_overview_section
from core.problems import ServiceError
from tenants.models import Domain, SessionRoute, Tenant, WahaServer, slug_validator
from tenants.services import TenantSpec, initial_password, tenant_provision

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _SessionsPlaced(TypedDict):
    sessions_placed: int


class DomainInline(admin.StackedInline):
    model = Domain
    extra = 0


class TenantProvisionForm(forms.Form):
    slug = forms.CharField(max_length=40, validators=[slug_validator],
                           help_text="3-40 lower-case letters, digits and dashes. It names the schema (t_<slug>) and "
                                     "the X-Tenant header, and cannot change later.")
    name = forms.CharField(max_length=200, help_text="The company's name, shown in its console.")
    domain = forms.CharField(max_length=253, label="Domain",
                             help_text="The host name of its console and API, e.g. acme.example.com.")
    admin_email = forms.EmailField(label="First admin's email",
                                   help_text="The first TENANT_ADMIN. A password is generated and shown once.")
    waha_server = forms.ModelChoiceField(queryset=WahaServer.objects.filter(is_active=True), required=False,
                                         label="WAHA server", empty_label="Any (the pool picks the freest)",
                                         help_text="Pin the tenant's sessions to one server.")


@admin.register(Tenant)
class TenantAdmin(PublicOnlyAdmin):
    list_display = ("slug", "name", "primary_domain", "waha_server", "sessions", "is_active", "created_at")
    search_fields = ("slug", "name", "domains__domain")
    list_filter = ("is_active",)
    fields = ("slug", "name", "is_active", "waha_server", "schema_name", "created_at")
    readonly_fields = ("slug", "schema_name", "created_at")
    inlines = [DomainInline]
    change_form_template = "admin/tenants/tenant/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        return (super().get_queryset(request).select_related("waha_server").prefetch_related("domains")
                .annotate(sessions_placed=Count("session_routes", distinct=True)))

    @admin.display(description="domain")
    def primary_domain(self, obj: Tenant) -> str:
        domains = sorted(obj.domains.all(), key=lambda domain: (not domain.is_primary, domain.domain))
        return domains[0].domain if domains else "-"

    @admin.display(description="sessions", ordering="sessions_placed")
    def sessions(self, obj: WithAnnotations[Tenant, _SessionsPlaced]) -> int:
        return obj.sessions_placed

    # ---------------------------------------------------------------- adding a tenant: provisioning

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
                 ) -> HttpResponse:
        """The form, then the whole tenant in one go; the answer shows the first admin's password, once."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TenantProvisionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            password = initial_password()
            data = form.cleaned_data
            try:
                tenant = tenant_provision(TenantSpec(
                    slug=data["slug"], name=data["name"], domain=data["domain"], admin_email=data["admin_email"],
                    admin_password=password, waha_server=data["waha_server"]))
            except ServiceError as exc:
                form.add_error(None, exc.detail)
            else:
                admin_email = data["admin_email"].strip().lower()  # as tenant_provision stored it
                self.log_addition(request, tenant, f"Provisioned: schema {tenant.schema_name}, domain "
                                                   f"{data['domain']}, first TENANT_ADMIN {admin_email}.")
                return self._provisioned_page(request, tenant, admin_email, password)
        context = self._page_context(request, title="Add tenant", form=form)
        return TemplateResponse(request, "admin/tenants/tenant/add_form.html", context)

    def _provisioned_page(self, request: HttpRequest, tenant: Tenant, admin_email: str, password: str
                          ) -> HttpResponse:
        """Rendered in answer to the POST (no redirect, no message stored in the session): the password exists
        only in this page."""
        domain = tenant.domains.get(is_primary=True).domain
        port = request.get_port()
        console_url = f"{request.scheme}://{domain}{'' if port in ('80', '443') else ':' + port}/admin/"
        context = self._page_context(
            request, title=f"Tenant “{tenant.name}” is ready", tenant=tenant, domain=domain,
            console_url=console_url, admin_email=admin_email, password=password)
        response = TemplateResponse(request, "admin/tenants/tenant/provisioned.html", context)
        add_never_cache_headers(response)
        return response

    def _page_context(self, request: HttpRequest, **extra: Any) -> dict[str, Any]:
        return {**self.admin_site.each_context(request), "opts": self.model._meta,
                "has_view_permission": self.has_view_permission(request), **extra}

    # ---------------------------------------------------------------- a tenant's page: the overview

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        tenant = self.get_object(request, object_id)
        extra_context = {**(extra_context or {}), "tenant_obj": tenant}
        if tenant is not None and request.method == "GET":
            extra_context.update(subtitle=tenant.name, overview=[placement_section(tenant), *tenant_overview(tenant)])
        return super().change_view(request, object_id, form_url, extra_context)


def placement_section(tenant: Tenant) -> OverviewSection:
    """Where the tenant's sessions live: its pin and the servers its sessions are routed to (public schema)."""
    routed = (SessionRoute.objects.filter(tenant=tenant).values_list("waha_server__name")
              .annotate(n=Count("id")).order_by("waha_server__name"))
    placed = ", ".join(f"{name} ({count})" for name, count in routed) or "no session yet"
    pin = tenant.waha_server.name if tenant.waha_server else "none: new sessions go to the freest server"
    return OverviewSection("WAHA placement", [("pinned to", pin), ("sessions on", placed)])


@tenant_overview_section("users", order=10)
def users_section() -> OverviewSection:
    """The tenant's active users by role, and who its TENANT_ADMINs are (whom to call)."""
    by_role = dict(User.objects.filter(is_active=True).values_list("role").annotate(n=Count("id")).order_by())
    admins = list(User.objects.filter(is_active=True, role=Role.TENANT_ADMIN).order_by("email")
                  .values_list("email", flat=True)[:5])
    rows: list[tuple[str, str | SafeString]] = [
        ("active users", ", ".join(f"{by_role.get(role, 0)} {role}" for role in Role.values) or "none")]
    rows.append(("tenant admins", format_html_join(", ", "{}", ((email,) for email in admins)) or "none"))
    return OverviewSection("Users", rows)


@admin.register(Domain)
class DomainAdmin(PublicOnlyAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain", "tenant__slug")


@admin.register(SessionRoute)
class SessionRouteAdmin(PublicOnlyAdmin):
    """Read-only: routes are written by session creation and deletion only."""

    list_display = ("waha_session_name", "tenant", "waha_server", "session_id", "created_at")
    list_filter = ("waha_server", "tenant")
    search_fields = ("waha_session_name", "session_id")
    exclude = ("hmac_key",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
