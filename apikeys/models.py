"""API keys: how a tenant's backends call the service without a user's 15-minute token."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.roles import Role
from core.db.ids import uuid7

# The roles a key may carry: a backend sends and reads (MANAGER) or only reads (AUDITOR).
KEY_ROLES = (Role.MANAGER, Role.AUDITOR)
KEY_ROLE_CHOICES = [(role.value, role.label) for role in KEY_ROLES]


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def alive(self) -> ApiKeyQuerySet:
        """Keys not revoked (expired ones included: they stay listed until revoked)."""
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """One key of the tenant. Only a hash of the secret is stored; the key itself is shown once."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=20, choices=KEY_ROLE_CHOICES)
    # The sessions the key may send on and read; NULL: every session of the tenant. An array rather than a
    # join table: authentication reads the key's row on every request, and this keeps it one row.
    session_ids = ArrayField(models.UUIDField(), null=True, blank=True)
    # The public part of the key (``wgk_`` and 8 characters): how a presented key finds its row.
    prefix = models.CharField(max_length=16, unique=True)
    # Hex SHA-256 of the whole key (apikeys.keys says why a fast hash is right here).
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Kept to the minute: written only when the stored value is older than that (apikeys.authentication).
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["-created_at"], name="apikey_alive_created", condition=Q(revoked_at__isnull=True))
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
