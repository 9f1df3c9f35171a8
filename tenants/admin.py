"""Tenants and their domains, managed by platform staff on the public host only."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import in_public_schema
from tenants.models import Domain, Tenant


class PublicOnlyAdmin(admin.ModelAdmin):
    """Invisible on tenant hosts: platform data is not a tenant's business."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return in_public_schema() and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return in_public_schema() and super().has_view_permission(request, obj)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 1


@admin.register(Tenant)
class TenantAdmin(PublicOnlyAdmin):
    list_display = ("slug", "name", "schema_name", "is_active", "created_at")
    search_fields = ("slug", "name")
    list_filter = ("is_active",)
    readonly_fields = ("schema_name", "created_at")
    inlines = [DomainInline]

    def get_readonly_fields(self, request: HttpRequest, obj=None):  # type: ignore[no-untyped-def]
        # The slug names the schema: it cannot change once the schema exists.
        return (*self.readonly_fields, "slug") if obj else self.readonly_fields


@admin.register(Domain)
class DomainAdmin(PublicOnlyAdmin):
    list_display = ("domain", "tenant", "is_primary")
    search_fields = ("domain", "tenant__slug")
