"""The admin console: platform staff on the public host, TENANT_ADMIN and AUDITOR on tenant hosts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Model
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from core.tenancy import in_public_schema

# Plumbing of the frameworks underneath (Django's groups, axes' login records, simplejwt's token lists):
# pages for platform staff on the public host, never shown to a tenant's users (roles decide their access,
# and the token lists hold every user's token ids).
PLATFORM_ONLY_APPS = frozenset({"auth", "axes", "token_blacklist"})


def status_badge(css_status: str, label: str, *, title: str = "") -> SafeString:
    """A coloured badge whose text is the status (colour is never the only signal); see base_site.html."""
    if title:
        return format_html('<span class="status-badge status-{}" title="{}">{}</span>', css_status, title, label)
    return format_html('<span class="status-badge status-{}">{}</span>', css_status, label)


def platform_only(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    """``admin_class`` that answers no on a tenant host: hidden from the index, 403 by URL."""

    class PlatformOnlyAdmin(admin_class):  # type: ignore[valid-type,misc]  # a class built from an argument
        def has_module_permission(self, request: HttpRequest) -> bool:
            return in_public_schema() and super().has_module_permission(request)

        def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
            return in_public_schema() and super().has_view_permission(request, obj)

        def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
            return in_public_schema() and super().has_add_permission(request, *args)

        def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
            return in_public_schema() and super().has_change_permission(request, obj)

        def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
            return in_public_schema() and super().has_delete_permission(request, obj)

    PlatformOnlyAdmin.__name__ = PlatformOnlyAdmin.__qualname__ = f"PlatformOnly{admin_class.__name__}"
    return PlatformOnlyAdmin


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
    # There is no public site to view: the console is the only HTML this service serves.
    site_url = None
    # The index lists every page; the sidebar would cost the message log its width at 1280 px.
    enable_nav_sidebar = False

    def register(
        self,
        model_or_iterable: type[Model] | Iterable[type[Model]],
        admin_class: type[admin.ModelAdmin] | None = None,
        **options: Any,
    ) -> None:
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else list(model_or_iterable)
        for model in models:
            chosen = admin_class or admin.ModelAdmin
            if model._meta.app_label in PLATFORM_ONLY_APPS:
                chosen = platform_only(chosen)
            super().register(model, chosen, **options)

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_authenticated and cast(ConsoleUser, user).may_enter_admin())

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        tenant_name = getattr(getattr(request, "tenant", None), "name", None)
        context["site_header"] = f"{tenant_name} · console" if tenant_name else "Platform console"
        return context
