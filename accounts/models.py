"""Users: one table per schema. Public holds platform staff, tenants their staff."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.roles import ADMIN_CONSOLE_ROLES, Role
from core.tenancy import in_public_schema


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    @classmethod
    def normalize_email(cls, email: str | None) -> str:
        # Emails are compared case-insensitively everywhere, so store them lower-cased.
        return (email or "").strip().lower()

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=self.normalize_email(username))

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("role", Role.TENANT_ADMIN)
        fields.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address and holds exactly one role."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(max_length=254, unique=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.AGENT)
    is_active = models.BooleanField(default=True)
    # Platform staff on the public host; tenant users reach the admin by role.
    is_staff = models.BooleanField(default=False, help_text="Platform staff (public admin) only.")
    date_joined = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Every token carries the value it was issued under (accounts.tokens): moving it on revokes them all.
    token_generation = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]
        indexes = [models.Index(fields=["role", "is_active"], name="accounts_user_role_active")]

    def __str__(self) -> str:
        return self.email

    def clean(self) -> None:
        super().clean()
        self.email = User.objects.normalize_email(self.email)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def may_enter_admin(self) -> bool:
        """Platform staff on the public host; TENANT_ADMIN and AUDITOR on a tenant host."""
        if not self.is_active:
            return False
        if in_public_schema():
            return self.is_staff
        return self.role in ADMIN_CONSOLE_ROLES

    def has_perm(self, perm: str, obj: models.Model | None = None) -> bool:
        if not self.is_active:
            return False
        if in_public_schema():
            return super().has_perm(perm, obj)
        app_label, _, codename = perm.partition(".")
        if app_label == "tenants":
            return False  # platform data is never managed from a tenant host
        if self.role == Role.TENANT_ADMIN:
            return True
        if self.role == Role.AUDITOR:
            return codename.startswith("view_")
        return False

    def has_module_perms(self, app_label: str) -> bool:
        if not self.is_active:
            return False
        if in_public_schema():
            return super().has_module_perms(app_label)
        return app_label != "tenants" and self.role in ADMIN_CONSOLE_ROLES
