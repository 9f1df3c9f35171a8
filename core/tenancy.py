"""Which schema the database connection serves (the public one, the platform's, or a tenant's), typed.

django-tenants swaps in its own database wrapper (``core.db.backend``) that knows the schema and tenant it
serves; django-stubs types ``django.db.connection`` as Django's base wrapper, which knows neither. This
module says once what the wrapper adds, so the rest of the code reads those attributes type-checked
instead of silencing the checker at every use.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from django.db import connection
from django_tenants.utils import get_public_schema_name


class TenantConnection(Protocol):
    """What django-tenants' wrapper adds to a database connection."""

    schema_name: str
    # A tenants.models.Tenant, or django-tenants' FakeTenant on the public schema. Typed loosely because
    # core sits below the tenants app (the import contract) and never imports it.
    tenant: Any

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None: ...

    def set_schema_to_public(self) -> None: ...


def tenant_connection() -> TenantConnection:
    """The default connection, as the tenant-aware wrapper it is (a proxy: it follows the thread's connection)."""
    return cast("TenantConnection", connection)


def current_schema() -> str:
    """The PostgreSQL schema the default connection serves now."""
    return tenant_connection().schema_name


def in_public_schema() -> bool:
    """True on the public host (and outside any tenant), False inside a tenant's schema."""
    return current_schema() == get_public_schema_name()
