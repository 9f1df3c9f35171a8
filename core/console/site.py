"""The admin console: platform staff on the public host, TENANT_ADMIN and AUDITOR on tenant hosts."""

from __future__ import annotations

from typing import Any, Protocol, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest


class ConsoleUser(Protocol):
    """What the console asks of a user (``accounts.models.User``; core sits below accounts and names no model)."""

    def may_enter_admin(self) -> bool: ...


class ConsoleLoginForm(AuthenticationForm):
    """Admin login that admits by role on tenant hosts instead of ``is_staff``."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_allowed": "This account may not use the console on this host.",
    }

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not cast(ConsoleUser, user).may_enter_admin():
            raise forms.ValidationError(self.error_messages["not_allowed"], code="not_allowed")


class ConsoleAdminSite(admin.AdminSite):
    login_form = ConsoleLoginForm
    site_header = "WhatsApp Gateway console"
    site_title = "WhatsApp Gateway"
    index_title = "Console"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_authenticated and cast(ConsoleUser, user).may_enter_admin())

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        tenant_name = getattr(getattr(request, "tenant", None), "name", None)
        context["site_header"] = f"{tenant_name} · console" if tenant_name else "Platform console"
        return context
