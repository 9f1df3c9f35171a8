"""Celery entry points for sessions."""

from __future__ import annotations

import logging

from celery import shared_task
from django_tenants.utils import tenant_context

from sessions_waha import services
from tenants.models import Tenant, WahaServer

logger = logging.getLogger("sessions_waha.tasks")


@shared_task(name="sessions_waha.reconcile_all", ignore_result=True)
def sessions_reconcile_all() -> None:
    """Every tenant: create sessions WAHA does not know (yet), refresh the others.

    Runs from beat; it enters each tenant explicitly and never relies on the
    schema the task happened to be sent from.
    """
    for server in WahaServer.objects.filter(is_active=True):
        services.waha_orphans_remove(server=server)
    for tenant in Tenant.objects.filter(is_active=True):
        with tenant_context(tenant):
            counts = services.sessions_reconcile()
        if counts["provisioned"] or counts["webhooks_updated"] or counts["store_enabled"] or counts["failed"]:
            logger.info("sessions.reconciled tenant=%s provisioned=%s refreshed=%s webhooks_updated=%s "
                        "store_enabled=%s failed=%s", tenant.slug, counts["provisioned"], counts["refreshed"],
                        counts["webhooks_updated"], counts["store_enabled"], counts["failed"])
