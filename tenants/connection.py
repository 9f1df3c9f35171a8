"""django-tenants' database connection, typed.

django-tenants swaps in its own database wrapper (``config.db_backend``) that
knows the schema and tenant it serves; django-stubs types
``django.db.connection`` as Django's base wrapper, which knows neither. This
module says once what the wrapper adds, so the rest of the code reads those
attributes type-checked instead of silencing the checker at every use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast

from django.db import connection

if TYPE_CHECKING:
    from django_tenants.postgresql_backend.base import FakeTenant

    from tenants.models import Tenant


class TenantConnection(Protocol):
    """What django-tenants' wrapper adds to a database connection."""

    schema_name: str
    # The public schema is served by a FakeTenant (no row of the tenant table stands behind it).
    tenant: Tenant | FakeTenant

    def set_tenant(self, tenant: Tenant, include_public: bool = True) -> None: ...

    def set_schema_to_public(self) -> None: ...


def tenant_connection() -> TenantConnection:
    """The default connection, as the tenant-aware wrapper it is (a proxy: it follows the thread's connection)."""
    return cast("TenantConnection", connection)


def current_schema() -> str:
    """The PostgreSQL schema the default connection serves now."""
    return tenant_connection().schema_name
