"""Tenants (one PostgreSQL schema each) and the hostnames that route to them."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
slug_validator = RegexValidator(
    SLUG_PATTERN, "Use 3-40 lower-case letters, digits and dashes, starting with a letter."
)


# Django's URLValidator wants a dotted host; container service names have none.
base_url_validator = RegexValidator(
    r"^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::\d{1,5})?(?:/[^\s]*)?$",
    "Enter an http(s) URL such as http://waha:3000.",
)


def schema_name_for(slug: str) -> str:
    """The PostgreSQL schema of a tenant: derived from the slug, never from input."""
    return "t_" + slug.replace("-", "_")


class Tenant(TenantMixin):
    """A customer company. Its data lives in its own schema."""

    slug = models.SlugField(max_length=40, unique=True, validators=[slug_validator],
                            help_text="Identifier used in the X-Tenant header and in tokens.")
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    waha_server = models.ForeignKey(
        "tenants.WahaServer", null=True, blank=True, on_delete=models.SET_NULL, related_name="pinned_tenants",
        help_text="Pin the tenant's new sessions to this WAHA server (empty: pick from the pool).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.schema_name:
            self.schema_name = schema_name_for(self.slug)
        super().save(*args, **kwargs)


class Domain(DomainMixin):
    """A hostname (e.g. ``acme.localhost``) that routes requests to a tenant."""

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class WahaServer(models.Model):
    """One WAHA instance in the pool. A tenant's sessions live on one of them."""

    name = models.CharField(max_length=100, unique=True)
    base_url = models.CharField(max_length=300, unique=True, validators=[base_url_validator],
                                help_text="e.g. http://waha:3000 (service names without a dot are fine)")
    api_key = models.CharField(max_length=200, help_text="Sent as X-Api-Key; never logged.")
    session_capacity = models.PositiveIntegerField(default=50, help_text="How many sessions this server may hold.")
    is_active = models.BooleanField(default=True, help_text="Inactive servers get no new sessions.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.base_url})"


class SessionRoute(models.Model):
    """Where a WAHA session belongs: read by the webhook receiver before any tenant is known.

    The WAHA session name is unique across all servers and tenants, so an
    event names exactly one tenant, one session and the key that signs it.
    """

    waha_server = models.ForeignKey(WahaServer, on_delete=models.PROTECT, related_name="routes")
    waha_session_name = models.CharField(max_length=54, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="session_routes")
    session_id = models.UUIDField(unique=True)
    hmac_key = models.CharField(max_length=128, help_text="Per-session key WAHA signs webhooks with.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["waha_server", "waha_session_name"], name="route_server_session")]

    def __str__(self) -> str:
        return f"{self.waha_session_name} → {self.tenant_id}"
