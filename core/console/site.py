"""The admin console: platform staff on the public host, TENANT_ADMIN and AUDITOR on tenant hosts."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest


class ConsoleLoginForm(AuthenticationForm):
    """Admin login that admits by role on tenant hosts instead of ``is_staff``."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_allowed": "This account may not use the console on this host.",
    }

    def confirm_login_allowed(self, user) -> None:  # type: ignore[no-untyped-def]
        super().confirm_login_allowed(user)
        if not user.may_enter_admin():
            raise forms.ValidationError(self.error_messages["not_allowed"], code="not_allowed")


class ConsoleAdminSite(admin.AdminSite):
    login_form = ConsoleLoginForm
    site_header = "WhatsApp Gateway console"
    site_title = "WhatsApp Gateway"
    index_title = "Console"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_authenticated and user.may_enter_admin())

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        tenant_name = getattr(getattr(request, "tenant", None), "name", None)
        context["site_header"] = f"{tenant_name} · console" if tenant_name else "Platform console"
        return context
