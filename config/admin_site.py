"""The admin console: platform staff on the public host, TENANT_ADMIN and AUDITOR on tenant hosts."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class ConsoleAdminSite(admin.AdminSite):
    site_header = "WhatsApp Gateway console"
    site_title = "WhatsApp Gateway"
    index_title = "Console"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_authenticated and user.may_enter_admin())

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        tenant = getattr(request, "tenant", None)
        context["site_header"] = f"{tenant.name} · console" if tenant else "Platform console"
        return context


class ConsoleAdminConfig(AdminConfig):
    default_site = "config.admin_site.ConsoleAdminSite"
