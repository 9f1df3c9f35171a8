"""Old events are pruned with their deliveries and attempts (``events.services.events_prune``), never one with
a delivery still pending, and never one whose delivery a replay makes pending while the prune runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from events import services
from events.models import Attempt, Delivery, DeliveryStatus, Endpoint, Event
from tests.e2e_races import in_thread, one_blocked_by


def event_with(endpoint: Endpoint, *, days_ago: float, status: str) -> Delivery:
    """A ping event ``days_ago`` old with one delivery in ``status`` and one attempt."""
    at = timezone.now() - timedelta(days=days_ago)
    event = Event.objects.create(type="ping", created_at=at, data={"message": "old"})
    row = Delivery.objects.create(event=event, endpoint=endpoint, event_type="ping", created_at=at, status=status,
                                  next_attempt_at=at if status == DeliveryStatus.PENDING else None)
    Attempt.objects.create(delivery=row, attempted_at=at, status_code=500, duration_ms=5)
    return row


def test_old_settled_events_go_with_their_deliveries_and_attempts(acme, make_endpoint, settings):
    settings.EVENT_RETENTION_DAYS = 30
    endpoint = make_endpoint(acme)
    with tenant_context(acme):
        gone = [event_with(endpoint, days_ago=31, status=status)
                for status in (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)]
        kept = [event_with(endpoint, days_ago=31, status=DeliveryStatus.PENDING),
                event_with(endpoint, days_ago=29, status=DeliveryStatus.FAILED)]
        assert services.events_prune() == 2
        assert set(Delivery.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
        assert not Event.objects.filter(pk__in=[row.event_id for row in gone]).exists()
        assert Attempt.objects.count() == 2


@pytest.mark.e2e
def test_a_replay_during_a_prune_keeps_the_delivery_it_made_pending(e2e, pauser, threads, settings):
    settings.EVENT_RETENTION_DAYS = 30
    endpoint = Endpoint.objects.create(url="http://127.0.0.1:9/hook", events=["ping"], secret=services.secret_new())
    row = event_with(endpoint, days_ago=31, status=DeliveryStatus.FAILED)
    # A replay under way (the REPLAY move: the delivery pending again), committed once the prune waits for it.
    pauser.execute("SELECT 1 FROM events_delivery WHERE id = %s FOR UPDATE", [row.pk])
    pruning = in_thread(threads, services.events_prune)
    one_blocked_by(pauser.info.backend_pid, "the prune")
    pauser.execute(
        "UPDATE events_delivery SET status = %s, next_attempt_at = now() + interval '1 hour' WHERE id = %s",
        [DeliveryStatus.PENDING, row.pk],
    )
    pauser.commit()
    assert pruning.result(timeout=30) == 0
    assert Delivery.objects.get(pk=row.pk).status == DeliveryStatus.PENDING
