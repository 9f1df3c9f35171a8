"""Prometheus metrics of event webhooks (style of ``messaging.metrics``).

Counters live in the process that delivers (the ``events`` worker); the
pending deliveries and disabled endpoints per tenant are read from the
database at scrape time, so they are right whoever delivers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

ATTEMPT_OUTCOMES = ("success", "http_error", "timeout", "connection_error", "refused")
ATTEMPTS = Counter(
    "event_delivery_attempts_total",
    "HTTP attempts to deliver an event, by outcome (success, http_error, timeout, connection_error, refused).",
    ["outcome"],
)
DELIVERIES = Counter(
    "event_deliveries_total",
    "Deliveries that ended, by outcome (delivered, failed).",
    ["outcome"],
)
LAG = Histogram(
    "event_delivery_lag_seconds",
    "From the change an event reports to the endpoint's 2xx.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400),
)
ENDPOINTS_DISABLED = Counter(
    "event_endpoint_disables_total",
    "Endpoints disabled by the service (410, or 24 hours of failures).",
)
KICK_FAILURES = Counter(
    "event_delivery_enqueue_failures_total",
    "Delivery tasks the broker refused (the sweep kicks them later).",
)


class AttemptAnswer(Protocol):
    """What counting an attempt reads of ``events.sender.Answer`` (which imports this module)."""

    @property
    def delivered(self) -> bool: ...
    @property
    def error(self) -> str: ...
    @property
    def status_code(self) -> int | None: ...


def attempt_counted(answer: AttemptAnswer) -> None:
    if answer.delivered:
        outcome = "success"
    elif answer.error.startswith("url_not_allowed"):
        outcome = "refused"
    elif answer.error.startswith("timeout"):
        outcome = "timeout"
    elif answer.status_code is not None:
        outcome = "http_error"
    else:
        outcome = "connection_error"
    ATTEMPTS.labels(outcome=outcome).inc()


class EventDeliveriesCollector:
    """``event_deliveries_pending{tenant}`` and ``event_endpoints_disabled{tenant}``, read at scrape time."""

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "event_deliveries_pending", "Event deliveries not delivered or failed yet.", labels=["tenant"]
        )
        yield GaugeMetricFamily("event_endpoints_disabled", "Disabled event webhook endpoints.", labels=["tenant"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django_tenants.utils import tenant_context

        from events.models import Delivery, DeliveryStatus, Endpoint
        from tenants.models import Tenant

        pending = GaugeMetricFamily(
            "event_deliveries_pending", "Event deliveries not delivered or failed yet.", labels=["tenant"]
        )
        disabled = GaugeMetricFamily("event_endpoints_disabled", "Disabled event webhook endpoints.", labels=["tenant"])
        try:
            for tenant in Tenant.objects.filter(is_active=True).only("slug", "schema_name"):
                with tenant_context(tenant):
                    pending.add_metric([tenant.slug], Delivery.objects.filter(status=DeliveryStatus.PENDING).count())
                    disabled.add_metric([tenant.slug], Endpoint.objects.filter(enabled=False).count())
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is down
            return
        yield pending
        yield disabled
