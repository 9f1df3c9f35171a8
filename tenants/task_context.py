"""What a Celery task that works in one tenant's schema needs: the tenant behind a schema name (tasks carry the
name, never a row) and the schema with the tenant's slug on every log line of the work inside."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django_tenants.utils import get_public_schema_name, schema_context

from core.logging import tenant_var
from tenants.models import Tenant


def tenant_of_schema(schema_name: str, *, active_only: bool = False) -> Tenant | None:
    """The tenant whose schema this is (only an active one, with ``active_only``); None for public or an
    unknown name."""
    if schema_name == get_public_schema_name():
        return None
    tenants = Tenant.objects.filter(schema_name=schema_name)
    if active_only:
        tenants = tenants.filter(is_active=True)
    return tenants.only("schema_name", "slug").first()


@contextmanager
def in_tenant(tenant: Tenant) -> Iterator[None]:
    """The tenant's schema, with its slug on every log line and metric of the work inside."""
    token = tenant_var.set(tenant.slug)
    try:
        with schema_context(tenant.schema_name):
            yield
    finally:
        tenant_var.reset(token)
