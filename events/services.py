"""Writes for event webhooks: endpoints (create, change, delete, rotate the secret), the test ping, replays."""

from __future__ import annotations

import base64
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.db.ids import RowId
from core.problems import Conflict, NotFound
from events import delivery, outbox, selectors, url_rules
from events.models import Delivery, DeliveryStatus, Endpoint, Event, EventType

logger = logging.getLogger("events")

SECRET_PREFIX = "whsec_"


class EndpointDisabled(Conflict):
    code = "endpoint_disabled"
    title = "Endpoint disabled"


def secret_new() -> str:
    """``whsec_`` + base64 of 32 random bytes (the Standard Webhooks secret format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def endpoint_create(
    *, url: str, events: list[str], description: str = "", enabled: bool = True, created_by_id: RowId | None = None
) -> Endpoint:
    """Register an endpoint; its URL must pass the URL rules (400 ``url_not_allowed``)."""
    url_rules.url_check(url)
    endpoint = Endpoint.objects.create(
        url=url,
        events=events,
        description=description,
        enabled=enabled,
        secret=secret_new(),
        created_by_id=created_by_id,
    )
    logger.info(
        "webhook_endpoint.created endpoint_id=%s host=%s events=%s",
        endpoint.pk,
        url_rules.host_of(url),
        ",".join(events),
    )
    return endpoint


def endpoint_update(*, endpoint: Endpoint, changes: dict[str, Any]) -> Endpoint:
    """Change URL, events, description or ``enabled``; enabling again clears the disabled reason."""
    if "url" in changes:
        url_rules.url_check(changes["url"])
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        for name, value in changes.items():
            setattr(endpoint, name, value)
        if changes.get("enabled") is True:
            endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = "", None, None
        elif changes.get("enabled") is False and not endpoint.disabled_at:
            endpoint.disabled_reason, endpoint.disabled_at = "Disabled by a user.", timezone.now()
            delivery.deliveries_fail_pending(endpoint_id=endpoint.pk, reason="endpoint disabled")
        endpoint.save()
    logger.info("webhook_endpoint.updated endpoint_id=%s fields=%s", endpoint.pk, ",".join(sorted(changes)))
    return endpoint


def endpoint_delete(*, endpoint: Endpoint) -> None:
    """Delete the endpoint with its deliveries and their attempts (the events stay for the other endpoints).

    The row is locked ``FOR UPDATE`` before the cascade is collected: a fan-out or a delivery attempt being
    written now is waited for and deleted too, and none can start before the commit (``events.locks``).
    """
    with transaction.atomic():
        locked = Endpoint.objects.select_for_update().filter(pk=endpoint.pk).first()
        if locked is None:
            raise NotFound(selectors.ENDPOINT_NOT_FOUND)  # deleted meanwhile by another request
        locked.delete()
    logger.info("webhook_endpoint.deleted endpoint_id=%s", endpoint.pk)


def endpoint_rotate_secret(*, endpoint: Endpoint, now: datetime | None = None) -> Endpoint:
    """A new secret; the old one keeps signing too for ``EVENT_SECRET_OVERLAP_SECONDS`` (24 hours)."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + timedelta(seconds=settings.EVENT_SECRET_OVERLAP_SECONDS)
        endpoint.secret = secret_new()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    logger.info("webhook_endpoint.secret_rotated endpoint_id=%s", endpoint.pk)
    return endpoint


def _require_enabled(endpoint: Endpoint) -> None:
    if not endpoint.enabled:
        raise EndpointDisabled("The endpoint is disabled; enable it (PATCH enabled=true) first.")


def endpoint_ping(*, endpoint: Endpoint) -> Delivery:
    """A ``ping`` event to this endpoint only, delivered like any other."""
    _require_enabled(endpoint)
    event = outbox.event_record(
        type=EventType.PING,
        endpoint_ids=[endpoint.pk],
        data={"endpoint": str(endpoint.pk), "message": "This is a test event."},
    )
    if event is None:
        raise NotFound(selectors.ENDPOINT_NOT_FOUND)  # deleted since the request read it
    return Delivery.objects.select_related("event").get(event=event, endpoint=endpoint)


def delivery_replay(*, delivery_row: Delivery) -> Delivery:
    """Send one delivery again now, with the same ``webhook-id`` and a whole new retry schedule."""
    _require_enabled(delivery_row.endpoint)
    delivery.deliveries_replay(endpoint_id=delivery_row.endpoint_id, delivery_ids=[delivery_row.pk])
    # As it is now; a 404 if it is gone (its event pruned or its endpoint deleted meanwhile).
    return selectors.delivery_get(delivery_id=delivery_row.pk)


def endpoint_replay(
    *, endpoint: Endpoint, since: datetime, until: datetime | None = None, status: str = DeliveryStatus.FAILED
) -> int:
    """Send again every delivery of this endpoint in ``status`` whose event happened in [since, until)."""
    _require_enabled(endpoint)
    deliveries = Delivery.objects.filter(endpoint=endpoint, status=status, created_at__gte=since)
    if until is not None:
        deliveries = deliveries.filter(created_at__lt=until)
    return delivery.deliveries_replay(endpoint_id=endpoint.pk, queryset=deliveries)


def events_prune(*, batch: int = 5000) -> int:
    """Delete events older than ``EVENT_RETENTION_DAYS`` (their deliveries and attempts with them), except
    those with a delivery still pending."""
    cutoff = timezone.now() - timedelta(days=settings.EVENT_RETENTION_DAYS)
    settled = Event.objects.exclude(deliveries__status=DeliveryStatus.PENDING)
    old = list(settled.filter(created_at__lt=cutoff).order_by("created_at").values_list("pk", flat=True)[:batch])
    if not old:
        return 0
    with transaction.atomic():
        # A replay may have made one of their deliveries pending since the read above. With the deliveries
        # locked, their statuses hold until the commit: ask again, and a replay from now on waits and then
        # finds the delivery gone.
        list(Delivery.objects.select_for_update().filter(event_id__in=old).values_list("pk", flat=True))
        return settled.filter(pk__in=old).delete()[1].get(Event._meta.label, 0)
