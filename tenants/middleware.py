"""Route each request to a tenant by Host, or by the ``X-Tenant`` header.

django-tenants only knows hostnames. Clients on one shared hostname name
their tenant with ``X-Tenant: <slug>``. The slug is looked up in the tenant
table (never used as a schema name), and a tenant Host that disagrees with
the header is refused rather than guessed at.
"""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django_tenants.middleware.main import TenantMainMiddleware

from config.logging import tenant_var
from config.problems import problem_response, tenant_not_found_view
from tenants.models import Domain, Tenant

# Probes and metrics answer on every host without touching the tenant table,
# so /health stays 200 while PostgreSQL is down.
TENANTLESS_PATHS = frozenset({"/health", "/health/db", "/ready", "/metrics"})


class TenantRoutingMiddleware(TenantMainMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        connection.set_schema_to_public()
        if request.path in TENANTLESS_PATHS:
            request.tenant = connection.tenant
            self.setup_url_routing(request=request, force_public=True)
            return None
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return problem_response(400, "bad_request", detail="The Host header is not allowed.")
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
        host_tenant = domain.tenant if domain else None
        header_slug = request.headers.get("X-Tenant", "").strip().lower()

        tenant = host_tenant
        if header_slug:
            if host_tenant is not None and host_tenant.slug != header_slug:
                return problem_response(
                    400, "tenant_conflict", title="Tenant conflict",
                    detail="The X-Tenant header names another tenant than this host.",
                )
            tenant = host_tenant or Tenant.objects.filter(slug=header_slug).first()
            if tenant is None:
                return tenant_not_found_view(request)
        if tenant is not None and not tenant.is_active:
            return tenant_not_found_view(request)

        if tenant is None:
            # Any host that is not a tenant's is the public host.
            request.tenant = connection.tenant
            self.setup_url_routing(request=request, force_public=True)
            return None
        tenant.domain_url = hostname
        request.tenant = tenant
        connection.set_tenant(tenant)
        tenant_var.set(tenant.slug)
        self.setup_url_routing(request)
        return None
