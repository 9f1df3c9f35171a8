"""The WAHA server pool: which server a new session goes to, and its routes.

Capacity is counted from the routing table (one row per live WAHA session),
under a row lock on the servers, so two concurrent creates cannot both take
the last free slot.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.db.models import Count

from core.problems import ServiceError
from tenants.models import SessionRoute, Tenant, WahaServer

logger = logging.getLogger("tenants.waha_pool")

DEFAULT_SERVER_NAME = "default"


class WahaPoolExhausted(ServiceError):
    status_code = 503
    code = "waha_capacity_exhausted"
    title = "No WAHA capacity"


def waha_server_default() -> WahaServer:
    """The server named by WAHA_BASE_URL/WAHA_API_KEY ("default"), created or updated to match them.

    Changing WAHA_BASE_URL moves the default server (its sessions follow); other
    servers of the pool are managed in the platform console.
    """
    base_url, api_key = settings.WAHA_BASE_URL.rstrip("/"), settings.WAHA_API_KEY
    server = WahaServer.objects.filter(name=DEFAULT_SERVER_NAME).first()
    if server is None:
        server, created = WahaServer.objects.get_or_create(
            base_url=base_url, defaults={"name": DEFAULT_SERVER_NAME, "api_key": api_key})
        if created:
            logger.info("waha_pool.default_server_created base_url=%s", server.base_url)
        return server
    if (server.base_url, server.api_key) != (base_url, api_key):
        logger.info("waha_pool.default_server_updated base_url=%s", base_url)
        server.base_url, server.api_key = base_url, api_key
        server.save(update_fields=["base_url", "api_key"])
    return server


def waha_server_pick(*, tenant: Tenant) -> WahaServer:
    """Lock and return the server for a new session of ``tenant``.

    A pinned tenant uses its server; otherwise the active server with the
    most free capacity wins. Call inside ``transaction.atomic``.
    """
    waha_server_default()
    servers = WahaServer.objects.select_for_update().filter(is_active=True)
    if tenant.waha_server_id:
        servers = servers.filter(pk=tenant.waha_server_id)
    # Lock first, then count: aggregates cannot be combined with FOR UPDATE.
    candidates = list(servers.order_by("pk"))
    used = dict(
        SessionRoute.objects.filter(waha_server__in=candidates).values_list("waha_server").annotate(n=Count("id"))
    )
    free = sorted(((server.session_capacity - used.get(server.pk, 0), server) for server in candidates),
                  key=lambda pair: (-pair[0], pair[1].pk))
    if not free or free[0][0] <= 0:
        detail = ("The tenant's pinned WAHA server is full or inactive." if tenant.waha_server_id
                  else "Every active WAHA server is at capacity.")
        raise WahaPoolExhausted(detail)
    return free[0][1]


def session_route_add(*, server: WahaServer, waha_session_name: str, tenant: Tenant, session_id: uuid.UUID,
                      hmac_key: str) -> SessionRoute:
    """Record where a WAHA session lives (call inside the creating transaction)."""
    return SessionRoute.objects.create(waha_server=server, waha_session_name=waha_session_name, tenant=tenant,
                                       session_id=session_id, hmac_key=hmac_key)


def session_route_get(*, session_id: uuid.UUID) -> SessionRoute | None:
    return SessionRoute.objects.select_related("waha_server").filter(session_id=session_id).first()


def session_route_names(*, server: WahaServer) -> set[str]:
    """WAHA session names routed on ``server``."""
    return set(SessionRoute.objects.filter(waha_server=server).values_list("waha_session_name", flat=True))


def session_route_remove(*, session_id: uuid.UUID) -> None:
    SessionRoute.objects.filter(session_id=session_id).delete()
