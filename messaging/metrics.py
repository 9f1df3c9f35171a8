"""Prometheus metrics of the messaging pipeline.

Counters live in each process (gunicorn workers and Celery workers share
PROMETHEUS_MULTIPROC_DIR under ``make run``); the queue depth is read from
the database when /metrics is scraped, so it is right whoever enqueued.
"""

from __future__ import annotations

import functools

from django.db import connection
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily

MESSAGE_STATUS = Counter(
    "messages_status_total", "Messages entering each status, by tenant.", ["tenant", "status"],
)
SEND_RETRIES = Counter("message_send_retries_total", "Send attempts that will be retried.", ["tenant", "reason"])
ENQUEUE_FAILURES = Counter("message_enqueue_failures_total", "Dispatch kicks the broker refused.")


@functools.lru_cache(maxsize=1024)
def _slug_of(schema_name: str) -> str:
    from tenants.models import Tenant

    return Tenant.objects.filter(schema_name=schema_name).values_list("slug", flat=True).first() or schema_name


def _tenant() -> str:
    """The tenant's slug, also inside ``schema_context`` (workers), where only the schema is known."""
    return getattr(connection.tenant, "slug", None) or _slug_of(connection.schema_name)


def status_changed(status: str, *, count: int = 1) -> None:
    if count:
        MESSAGE_STATUS.labels(tenant=_tenant(), status=str(status)).inc(count)


def retry_scheduled(reason: str) -> None:
    SEND_RETRIES.labels(tenant=_tenant(), reason=reason).inc()


class QueueDepthCollector:
    """``messages_queue_depth{tenant,status}``: queued and sending messages, read at scrape time."""

    def describe(self):  # type: ignore[no-untyped-def]
        # Registration asks for the names; without this it would query the database at import time.
        yield GaugeMetricFamily("messages_queue_depth", "Outbound messages not yet handed to WAHA.",
                                labels=["tenant", "status"])

    def collect(self):  # type: ignore[no-untyped-def]
        from django.db.models import Count
        from django_tenants.utils import tenant_context

        from messaging.models import OPEN_STATUSES, Message
        from tenants.models import Tenant

        family = GaugeMetricFamily("messages_queue_depth", "Outbound messages not yet handed to WAHA.",
                                   labels=["tenant", "status"])
        try:
            for tenant in Tenant.objects.filter(is_active=True).only("slug", "schema_name"):
                with tenant_context(tenant):
                    counts = dict(Message.objects.filter(status__in=OPEN_STATUSES).values_list("status")
                                  .annotate(n=Count("id")))
                for status in OPEN_STATUSES:
                    family.add_metric([tenant.slug, str(status)], counts.get(status, 0))
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is down
            return
        yield family


_registered = False


def register_collectors() -> None:
    """Called once per process from the app config."""
    global _registered
    if not _registered:
        from events.metrics import EventDeliveriesCollector
        from webhooks.metrics import PendingEventsCollector

        REGISTRY.register(QueueDepthCollector())
        REGISTRY.register(PendingEventsCollector())
        REGISTRY.register(EventDeliveriesCollector())
        _registered = True
