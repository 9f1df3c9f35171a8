"""Tenants and their domains, managed by platform staff on the public host only."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.contrib import admin
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest

from core.tenancy import in_public_schema
from tenants.models import Domain, SessionRoute, Tenant, WahaServer

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _SessionsUsed(TypedDict):
    used: int


class PublicOnlyAdmin(admin.ModelAdmin):
    """Invisible on tenant hosts: platform data is not a tenant's business."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return in_public_schema() and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return in_public_schema() and super().has_view_permission(request, obj)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 1


@admin.register(Tenant)
class TenantAdmin(PublicOnlyAdmin):
    list_display = ("slug", "name", "schema_name", "waha_server", "is_active", "created_at")
    search_fields = ("slug", "name")
    list_filter = ("is_active",)
    readonly_fields = ("schema_name", "created_at")
    inlines = [DomainInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> tuple[str, ...]:
        # The slug names the schema: it cannot change once the schema exists.
        fields = tuple(self.readonly_fields)
        return (*fields, "slug") if obj else fields


@admin.register(Domain)
class DomainAdmin(PublicOnlyAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain", "tenant__slug")


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


@admin.register(WahaServer)
class WahaServerAdmin(PublicOnlyAdmin):
    form = WahaServerForm
    list_display = ("name", "base_url", "sessions_used", "session_capacity", "is_active")
    list_filter = ("is_active",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[WahaServer]:
        return super().get_queryset(request).annotate(used=Count("routes"))

    @admin.display(description="sessions", ordering="used")
    def sessions_used(self, obj: WithAnnotations[WahaServer, _SessionsUsed]) -> int:
        return obj.used


@admin.register(SessionRoute)
class SessionRouteAdmin(PublicOnlyAdmin):
    """Read-only: routes are written by session creation and deletion only."""

    list_display = ("waha_session_name", "tenant", "waha_server", "session_id", "created_at")
    list_filter = ("waha_server", "tenant")
    search_fields = ("waha_session_name", "session_id")
    exclude = ("hmac_key",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
