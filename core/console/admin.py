"""Base classes of the console's pages, shared by the apps that register them."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from core.tenancy import in_public_schema


class TenantOnlyAdmin(admin.ModelAdmin):
    """A tenant's records, shown read-mostly on its own host and never on the public host.

    Rows are written by the service (sends through the API, which queues and paces them; events from WAHA), so
    the console adds and deletes none.
    """

    def has_module_permission(self, request: HttpRequest) -> bool:
        return not in_public_schema() and super().has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class PublicOnlyAdmin(admin.ModelAdmin):
    """Platform data (tenants, WAHA servers), for platform staff on the public host: invisible on tenant hosts."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return in_public_schema() and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return in_public_schema() and super().has_view_permission(request, obj)
