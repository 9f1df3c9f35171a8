"""Reads of event webhooks: endpoints, the delivery log, one delivery with its payload and attempts."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet

from core.db.ids import RowId
from core.problems import NotFound
from core.tenancy import tenant_connection
from events import render
from events.models import Attempt, Delivery, Endpoint


def endpoint_list() -> QuerySet[Endpoint]:
    return Endpoint.objects.all()


ENDPOINT_NOT_FOUND = "No webhook endpoint with this id."


def endpoint_get(*, endpoint_id: RowId) -> Endpoint:
    endpoint = Endpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(ENDPOINT_NOT_FOUND)
    return endpoint


def delivery_list(*, endpoint: Endpoint, filters: dict[str, Any]) -> QuerySet[Delivery]:
    """The endpoint's deliveries, newest first, narrowed by ``status``, ``event_type``, ``since``, ``until``."""
    deliveries = Delivery.objects.filter(endpoint=endpoint).select_related("event").defer("event__row", "event__data")
    for name in ("status", "event_type"):
        if filters.get(name):
            deliveries = deliveries.filter(**{name: filters[name]})
    if filters.get("since"):
        deliveries = deliveries.filter(created_at__gte=filters["since"])
    if filters.get("until"):
        deliveries = deliveries.filter(created_at__lt=filters["until"])
    return deliveries


def delivery_get(*, delivery_id: RowId) -> Delivery:
    found = Delivery.objects.select_related("event", "endpoint").filter(pk=delivery_id).first()
    if found is None:
        raise NotFound("No delivery with this id.")
    return found


def delivery_payload(*, delivery: Delivery) -> dict[str, Any]:
    """The body the endpoint receives (rendered for display if no attempt rendered it yet)."""
    event = delivery.event
    render.events_render([event])
    slug = getattr(tenant_connection().tenant, "slug", "")
    return json.loads(render.event_body(event, tenant=slug))


def delivery_attempts(*, delivery: Delivery) -> QuerySet[Attempt]:
    return Attempt.objects.filter(delivery=delivery).order_by("attempted_at")
