"""Tenants (one PostgreSQL schema each) and the hostnames that route to them."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
slug_validator = RegexValidator(
    SLUG_PATTERN, "Use 3-40 lower-case letters, digits and dashes, starting with a letter."
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
    created_at = models.DateTimeField(auto_now_add=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    def save(self, *args, **kwargs) -> None:
        if not self.schema_name:
            self.schema_name = schema_name_for(self.slug)
        super().save(*args, **kwargs)


class Domain(DomainMixin):
    """A hostname (e.g. ``acme.localhost``) that routes requests to a tenant."""

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain
