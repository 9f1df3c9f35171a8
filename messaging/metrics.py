"""Prometheus metrics of the messaging pipeline.

Counters live in each process (gunicorn workers and Celery workers share
PROMETHEUS_MULTIPROC_DIR under ``make run``); the queue depth is read from
the database when /metrics is scraped, so it is right whoever enqueued.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from core.tenancy import tenant_connection

MESSAGE_STATUS = Counter(
    "messages_status_total", "Messages entering each status, by tenant.", ["tenant", "status"],
)
SEND_RETRIES = Counter("message_send_retries_total", "Send attempts that will be retried.", ["tenant", "reason"])
ENQUEUE_FAILURES = Counter("message_enqueue_failures_total", "Dispatch kicks the broker refused.")
MEDIA_UPLOADS = Counter(
    "media_uploads_total", "Files given for sending (POST /media, inline base64), by tenant, source and outcome.",
    ["tenant", "source", "outcome"],
)
MEDIA_UPLOAD_BYTES = Counter("media_upload_bytes_total", "Bytes of the files stored for sending.", ["tenant", "source"])
MEDIA_UPLOADS_EXPIRED = Counter("media_uploads_expired_total", "Expired uploads deleted (file and row).", ["tenant"])


@functools.lru_cache(maxsize=1024)
def _slug_of(schema_name: str) -> str:
    from tenants.models import Tenant

    return Tenant.objects.filter(schema_name=schema_name).values_list("slug", flat=True).first() or schema_name


def _tenant() -> str:
    """The tenant's slug, also inside ``schema_context`` (workers), where only the schema is known."""
    connection = tenant_connection()
    return getattr(connection.tenant, "slug", None) or _slug_of(connection.schema_name)


def status_changed(status: str, *, count: int = 1) -> None:
    if count:
        MESSAGE_STATUS.labels(tenant=_tenant(), status=str(status)).inc(count)


def retry_scheduled(reason: str) -> None:
    SEND_RETRIES.labels(tenant=_tenant(), reason=reason).inc()


def upload_counted(*, source: str, outcome: str, size: int = 0) -> None:
    """One file given for sending: ``stored`` (``size`` bytes), ``reused``, or why it was refused."""
    tenant = _tenant()
    MEDIA_UPLOADS.labels(tenant=tenant, source=source, outcome=outcome).inc()
    if size:
        MEDIA_UPLOAD_BYTES.labels(tenant=tenant, source=source).inc(size)


def uploads_expired(count: int) -> None:
    if count:
        MEDIA_UPLOADS_EXPIRED.labels(tenant=_tenant()).inc(count)


class QueueDepthCollector:
    """``messages_queue_depth{tenant,status}``: queued and sending messages, read at scrape time."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Registration asks for the names; without this it would query the database at import time.
        yield GaugeMetricFamily("messages_queue_depth", "Outbound messages not yet handed to WAHA.",
                                labels=["tenant", "status"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
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
