"""Which schema the database connection serves: the public one (the platform) or a tenant's."""

from __future__ import annotations

from django.db import connection
from django_tenants.utils import get_public_schema_name


def in_public_schema() -> bool:
    """True on the public host (and outside any tenant), False inside a tenant's schema."""
    return connection.schema_name == get_public_schema_name()
