"""Route each request to a tenant by Host, or by the ``X-Tenant`` header.

django-tenants only knows hostnames. Clients on one shared hostname name
their tenant with ``X-Tenant: <slug>``. The slug is looked up in the tenant
table (never used as a schema name), and a tenant Host that disagrees with
the header is refused rather than guessed at.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from cachetools import TLRUCache, cached
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django_tenants.middleware.main import TenantMainMiddleware

from core.db import statements as db_statements
from core.logging import tenant_var
from core.problems import problem_response, tenant_not_found_view
from core.tenancy import tenant_connection
from tenants.models import Domain, Tenant

if TYPE_CHECKING:
    from django_tenants.postgresql_backend.base import FakeTenant

# Host and slug lookups are cached per process for a few seconds: every API
# request needs them, and they change rarely. A deactivated tenant or a moved
# domain takes effect within settings.TENANT_CACHE_SECONDS in every process (at
# once in the process that made the change). An unknown host or slug is cached
# too (as None). The lifetime is read when an entry is stored, so 0 turns the
# cache off; the lock is there because gunicorn may run threads (WEB_THREADS).
def _for_tenant_cache_seconds(_key: object, _tenant: Tenant | None, now: float) -> float:
    return now + settings.TENANT_CACHE_SECONDS


def _tenant_cache() -> TLRUCache[Hashable, Tenant | None]:
    return TLRUCache(maxsize=10_000, ttu=_for_tenant_cache_seconds)


@cached(_tenant_cache(), lock=threading.Lock())
def _tenant_for_host(hostname: str) -> Tenant | None:
    def load() -> Tenant | None:
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
        return domain.tenant if domain else None

    return db_statements.read_retrying(load)  # a connection dropped since the request began


@cached(_tenant_cache(), lock=threading.Lock())
def _tenant_for_slug(slug: str) -> Tenant | None:
    return db_statements.read_retrying(lambda: Tenant.objects.filter(slug=slug).first())


def tenant_cache_clear(**kwargs: Any) -> None:
    _tenant_for_host.cache_clear()
    _tenant_for_slug.cache_clear()


# Probes and metrics answer on every host without touching the tenant table,
# so /health stays 200 while PostgreSQL is down.
# The WAHA webhook finds its tenant in the routing table, never from the host.
TENANTLESS_PATHS = frozenset({"/health", "/health/db", "/ready", "/metrics", "/webhooks/waha", "/webhooks/health"})


def request_tenant(request: HttpRequest) -> Tenant | HttpResponse | None:
    """The active tenant the request names by Host or ``X-Tenant``, None for the public host, or the
    problem response that refuses the request (bad Host, conflicting or unknown tenant)."""
    try:
        hostname = TenantMainMiddleware.hostname_from_request(request)
    except DisallowedHost:
        return problem_response(400, "bad_request", detail="The Host header is not allowed.")
    host_tenant = _tenant_for_host(hostname)
    header_slug = request.headers.get("X-Tenant", "").strip().lower()

    tenant = host_tenant
    if header_slug:
        if host_tenant is not None and host_tenant.slug != header_slug:
            return problem_response(
                400, "tenant_conflict", title="Tenant conflict",
                detail="The X-Tenant header names another tenant than this host.",
            )
        tenant = host_tenant or _tenant_for_slug(header_slug)
        if tenant is None:
            return tenant_not_found_view(request)
    if tenant is not None and not tenant.is_active:
        return tenant_not_found_view(request)
    if tenant is not None:
        tenant.domain_url = hostname
    return tenant


class TenantRequest(HttpRequest):
    """A request as this middleware passes it on (for type checking: Django builds plain HttpRequests)."""

    tenant: Tenant | FakeTenant


class TenantRoutingMiddleware(TenantMainMiddleware):
    def process_request(self, request: TenantRequest) -> HttpResponse | None:
        connection = tenant_connection()
        connection.set_schema_to_public()
        if request.path in TENANTLESS_PATHS:
            request.tenant = connection.tenant
            self.setup_url_routing(request=request, force_public=True)
            return None
        tenant = request_tenant(request)
        if isinstance(tenant, HttpResponse):
            return tenant
        if tenant is None:
            # Any host that is not a tenant's is the public host.
            request.tenant = connection.tenant
            self.setup_url_routing(request=request, force_public=True)
            return None
        request.tenant = tenant
        connection.set_tenant(tenant)
        tenant_var.set(tenant.slug)
        self.setup_url_routing(request)
        return None
