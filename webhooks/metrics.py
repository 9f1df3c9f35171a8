"""Prometheus counters of the webhook receiver (style of ``messaging.metrics``).

Labels are bounded: ``event`` is one of WAHA's event names or ``other``,
``tenant`` a tenant slug, ``reason`` and ``outcome`` fixed words.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

# WAHA's event names (WAHA.md §5.1); anything else is counted as "other".
KNOWN_EVENTS = frozenset({
    "session.status", "message", "message.any", "message.ack", "message.ack.group", "message.reaction",
    "message.revoked", "message.edited", "message.waiting", "group.v2.join", "group.v2.leave", "group.v2.update",
    "group.v2.participants", "presence.update", "poll.vote", "poll.vote.failed", "chat.archive", "call.received",
    "call.accepted", "call.rejected", "label.upsert", "label.deleted", "label.chat.added", "label.chat.deleted",
    "event.response", "event.response.failed", "engine.event", "group.join", "group.leave", "state.change",
})

WEBHOOK_EVENTS = Counter(
    "webhook_events_total", "WAHA webhook events by type, tenant and outcome (applied, duplicate, ignored, error).",
    ["event", "tenant", "outcome"],
)
SIGNATURE_FAILURES = Counter(
    "webhook_signature_failures_total", "Webhook requests refused before storage (missing, invalid, unknown_session).",
    ["reason"],
)
APPLY_ENQUEUE_FAILURES = Counter(
    "webhook_apply_enqueue_failures_total", "Applier tasks the broker refused (the sweep applies those events later).",
)
MEDIA_ENQUEUE_FAILURES = Counter(
    "webhook_media_enqueue_failures_total", "Media downloads the broker refused (the sweep fetches them later).",
)


def event_label(event: str) -> str:
    return event if event in KNOWN_EVENTS else "other"


def event_counted(*, event: str, tenant: str, outcome: str) -> None:
    WEBHOOK_EVENTS.labels(event=event_label(event), tenant=tenant, outcome=outcome).inc()


def signature_failed(reason: str) -> None:
    SIGNATURE_FAILURES.labels(reason=reason).inc()


class PendingEventsCollector:
    """``webhook_events_pending{tenant}``: events stored and not applied yet, read at scrape time.

    It stays near zero while a worker runs; a growing value means the applier is down or behind.
    """

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("webhook_events_pending", "Stored WAHA events not applied yet.", labels=["tenant"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from django_tenants.utils import tenant_context

        from tenants.models import Tenant
        from webhooks.models import Outcome, WebhookEvent

        family = GaugeMetricFamily("webhook_events_pending", "Stored WAHA events not applied yet.",
                                   labels=["tenant"])
        try:
            for tenant in Tenant.objects.filter(is_active=True).only("slug", "schema_name"):
                with tenant_context(tenant):
                    family.add_metric([tenant.slug], WebhookEvent.objects.filter(outcome=Outcome.PENDING).count())
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is down
            return
        yield family
