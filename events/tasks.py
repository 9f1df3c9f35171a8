"""Celery entry points of event webhooks, on their own ``events`` queue (``CELERY_TASK_ROUTES``).

Tasks take the tenant's schema name as an argument and enter it themselves
(PITFALLS 12). A task is only a kick: the deliveries are rows, and the sweep
kicks every endpoint with due ones, so a lost task loses nothing.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from events import delivery, kick, services
from events.models import Endpoint
from tenants.models import Tenant
from tenants.task_context import in_tenant, tenant_of_schema

logger = logging.getLogger("events.tasks")


@shared_task(name="events.deliver", ignore_result=True, acks_late=True)
def deliver_task(schema_name: str, endpoint_id: str) -> None:
    """Deliver one endpoint's due events for a slice of time, then schedule the next look if it is soon."""
    kick.kick_release(schema_name=schema_name, endpoint_id=endpoint_id)  # events from now on kick anew
    tenant = tenant_of_schema(schema_name, active_only=True)
    if tenant is None:
        logger.error("events.deliver_refused schema=%s reason=not_a_tenant", schema_name)
        return
    with in_tenant(tenant):
        result = delivery.endpoint_drain(schema_name=schema_name, endpoint_id=endpoint_id, tenant=tenant.slug)
    if result.again_now:
        _schedule(schema_name, endpoint_id, countdown=0)
    elif result.wait is not None and result.wait <= kick.MAX_COUNTDOWN_SECONDS:
        _schedule(schema_name, endpoint_id, countdown=result.wait)


def _schedule(schema_name: str, endpoint_id: str, *, countdown: float) -> None:
    if kick.kick_claim(schema_name=schema_name, endpoint_id=endpoint_id, seconds=int(countdown) + 30):
        deliver_task.apply_async(args=(schema_name, endpoint_id), countdown=countdown, retry=False)


@shared_task(name="events.sweep", ignore_result=True)
def sweep_all() -> None:
    """Every tenant: kick endpoints with due deliveries, forget expired secrets, prune old events."""
    for tenant in Tenant.objects.filter(is_active=True).only("schema_name", "slug"):
        with in_tenant(tenant):
            due = delivery.due_endpoints()
            kick.deliveries_kick(schema_name=tenant.schema_name, endpoint_ids=due)
            Endpoint.objects.filter(previous_secret_expires_at__lt=timezone.now()).update(
                previous_secret="", previous_secret_expires_at=None
            )
            pruned = services.events_prune()
        if due or pruned:
            logger.info("events.swept tenant=%s kicked=%s pruned=%s", tenant.slug, len(due), pruned)
