"""Celery entry points of the webhook receiver: the applier, media copies and the periodic sweep.

Tasks take the tenant's schema name as an argument and enter it themselves
(PITFALLS 12); they are enqueued with ``transaction.on_commit``, and a broker
that refuses them loses nothing: the sweep picks up what was not fetched.
"""

from __future__ import annotations

import logging
import time

from celery import Task, shared_task
from django.conf import settings
from django_tenants.utils import schema_context

from messaging.models import Message
from messaging.services import media as media_service
from tenants.models import Tenant
from tenants.task_context import in_tenant, tenant_of_schema
from webhooks.services import applier, enqueue, sweep

logger = logging.getLogger("webhooks.tasks")


@shared_task(name=enqueue.EVENTS_APPLY, ignore_result=True, acks_late=True)
def events_apply_task(schema_name: str) -> None:
    """Apply the tenant's stored events (kicked by the receiver; the sweep catches what it missed)."""
    applier.apply_kick_release(schema_name)  # events stored from now on kick a new task
    tenant = tenant_of_schema(schema_name)
    if tenant is None:
        logger.error("webhook.apply_refused schema=%s reason=not_a_tenant", schema_name)
        return
    with in_tenant(tenant):
        applier.pending_events_apply()
        # Events stored by a process that skipped its kick (apply_kick's window) are seen now.
        time.sleep(applier.APPLY_KICK_WINDOW_SECONDS)
        applier.pending_events_apply()


@shared_task(name=enqueue.MEDIA_FETCH, bind=True, ignore_result=True, acks_late=True,
             max_retries=3)
def media_fetch_task(self: Task, schema_name: str, message_id: str) -> None:
    """Copy one inbound media file from WAHA, retrying quickly: WAHA deletes it after 180 s."""
    if tenant_of_schema(schema_name) is None:
        logger.error("media.fetch_refused schema=%s message_id=%s reason=not_a_tenant", schema_name, message_id)
        return
    with schema_context(schema_name):
        message = Message.objects.select_related("session__waha_server").filter(pk=message_id).first()
        if message is None:
            return
        try:
            media_service.media_fetch(message=message)
        except media_service.MediaFetchRetry as exc:
            if self.request.retries >= min(self.max_retries, settings.MEDIA_FETCH_MAX_ATTEMPTS - 1):
                media_service.media_fetch_failed(message=message, code="media_unavailable",
                                                 detail=f"WAHA did not answer ({exc.code}).")
                return
            # 2, 4, 8 s: well inside WAHA's 180 s file lifetime.
            raise self.retry(countdown=2 ** (self.request.retries + 1), exc=exc) from exc


@shared_task(name="webhooks.sweep", ignore_result=True)
def sweep_all() -> None:
    """Every tenant: events and media the queue missed, early acks whose message landed, old events."""
    for tenant in Tenant.objects.filter(is_active=True).only("schema_name", "slug"):
        with in_tenant(tenant):
            report = sweep.webhooks_sweep()
        if any(report.values()):
            logger.info("webhooks.swept tenant=%s %s", tenant.slug,
                        " ".join(f"{key}={value}" for key, value in report.items()))
