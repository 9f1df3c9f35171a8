"""Users in the admin console.

On a tenant host the TENANT_ADMIN manages users (role, activation, password
reset) and the AUDITOR sees them read-only; roles, not Django groups, decide
access. On the public host the same page manages platform staff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest

from accounts import services
from accounts.models import User
from accounts.roles import Role
from core.tenancy import in_public_schema

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "role", "first_name", "last_name")

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"])
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this email already exists.")
        return email


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        user = self.instance
        demoted = cleaned.get("role", user.role) != Role.TENANT_ADMIN
        deactivated = not cleaned.get("is_active", user.is_active)
        if user.pk and user.role == Role.TENANT_ADMIN and user.is_active and (demoted or deactivated):
            others = User.objects.filter(role=Role.TENANT_ADMIN, is_active=True).exclude(pk=user.pk)
            if not in_public_schema() and not others.exists():
                raise forms.ValidationError("The tenant must keep at least one active TENANT_ADMIN.")
        return cleaned


class PasswordResetForm(AdminPasswordChangeForm):
    """A password set by an admin ends the user's refresh tokens and sessions."""

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=commit)
        if commit:
            services.user_logins_end(user=user)
        return user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    change_password_form = PasswordResetForm
    ordering = ("email",)
    list_display = ("email", "full_name", "role", "is_active", "last_login", "date_joined")
    list_filter = ("role", "is_active")
    search_fields = ("email", "first_name", "last_name")
    readonly_fields = ("last_login", "date_joined", "updated_at")
    add_fieldsets: _FieldsetSpec = ((None, {"classes": ("wide",), "fields": (
        "email", "role", "first_name", "last_name", "password1", "password2")}),)

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> _FieldsetSpec:
        if obj is None:
            return self.add_fieldsets
        access: tuple[str, ...] = ("role", "is_active")
        if in_public_schema():
            access += ("is_staff", "is_superuser", "groups", "user_permissions")
        # A reader gets neither the password hash's summary nor its link to a reset form it may not use.
        account = ("email", "password") if self.has_change_permission(request, obj) else ("email",)
        return (
            (None, {"fields": account}),
            ("Person", {"fields": ("first_name", "last_name")}),
            ("Access", {"fields": access}),
            ("Dates", {"fields": ("last_login", "date_joined", "updated_at")}),
        )

    def save_model(self, request: HttpRequest, obj: User, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and ("is_active" in form.changed_data and not obj.is_active):
            services.user_logins_end(user=obj)

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        services.user_delete(user=obj)

    def get_actions(self, request: HttpRequest) -> dict:
        # The bulk delete skips delete_model, and with it the last-admin check.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
