"""Delivering events to a real HTTP receiver process: signatures, retries, 410, disabling, rotation, replay,
bounded answers and the URL rules at delivery time (SSRF, DNS rebinding).

The drainer runs in the test process (``endpoint_drain``), against the receiver
of ``tests/events/receiver.py``; the worker processes are exercised in
``test_event_webhooks_e2e.py``.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from events import delivery, outbox, services, url_rules
from events.models import Attempt, Delivery, Endpoint
from tests.support_processes import wait_until


def drain(tenant, endpoint) -> delivery.DrainResult:
    with tenant_context(tenant):
        return delivery.endpoint_drain(schema_name=tenant.schema_name, endpoint_id=str(endpoint.pk), tenant=tenant.slug)


def ping(tenant, endpoint) -> Delivery:
    with tenant_context(tenant):
        return services.endpoint_ping(endpoint=Endpoint.objects.get(pk=endpoint.pk))


def fresh(tenant, row):
    with tenant_context(tenant):
        return type(row).objects.get(pk=row.pk)


def drain_until_due_done(tenant, endpoint, delivery_row, timeout: float = 10.0) -> Delivery:
    """Drain whenever the delivery comes due, until it is no longer pending."""

    def settled() -> bool:
        drain(tenant, endpoint)
        return fresh(tenant, delivery_row).status != "pending"

    assert wait_until(settled, timeout=timeout, interval=0.05)
    return fresh(tenant, delivery_row)


@pytest.fixture
def quick_retries(settings):
    settings.EVENT_RETRY_SCHEDULE = [0.2, 0.2]


def test_a_delivery_is_signed_and_verifies_with_standardwebhooks(acme, make_endpoint, receiver):
    endpoint = make_endpoint(acme, url=receiver.hook())
    sent = ping(acme, endpoint)
    drain(acme, endpoint)
    (request,) = receiver.requests()
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["id"] == request["headers"]["webhook-id"] == sent.event.public_id
    assert payload["type"] == "ping" and payload["tenant"] == "acme"
    assert request["headers"]["Content-Type"] == "application/json"
    done = fresh(acme, sent)
    assert (done.status, done.attempts, done.last_status_code) == ("delivered", 1, 200)
    with tenant_context(acme):
        assert list(Attempt.objects.filter(delivery=sent).values_list("status_code", flat=True)) == [200]


def test_a_message_event_carries_the_message_as_the_api_shows_it(acme, plain_session, make_endpoint, receiver):
    from messaging.services import status
    from tests.messaging.test_status_machine import _one_per_status

    endpoint = make_endpoint(acme, url=receiver.hook(), events=["message.failed"])
    with tenant_context(acme):
        message = _one_per_status(plain_session)["sending"]
        status.message_failed(message=message, code="send_failed", detail="gave up", attempt=None)
    drain(acme, endpoint)
    (request,) = receiver.requests()
    payload = Webhook(endpoint.secret).verify(request["body"], request["headers"])
    assert payload["type"] == "message.failed"
    assert payload["data"]["id"] == str(message.pk) and payload["data"]["status"] == "failed"
    assert payload["data"]["error"] == {"code": "send_failed", "detail": "gave up"}


def test_a_500_is_retried_with_the_same_webhook_id_and_body(acme, make_endpoint, receiver, quick_retries):
    endpoint = make_endpoint(acme, url=receiver.hook())
    receiver.answer(500, count=1)
    sent = ping(acme, endpoint)
    drain(acme, endpoint)
    first = fresh(acme, sent)
    assert (first.status, first.attempts, first.last_status_code) == ("pending", 1, 500)
    assert first.next_attempt_at > first.last_attempt_at
    done = drain_until_due_done(acme, endpoint, sent)
    assert (done.status, done.attempts) == ("delivered", 2)
    bodies = {r["body"] for r in receiver.requests()}
    ids = {r["headers"]["webhook-id"] for r in receiver.requests()}
    assert len(receiver.requests()) == 2 and len(bodies) == 1 and ids == {sent.event.public_id}


def test_a_delivery_fails_once_its_schedule_is_spent(acme, make_endpoint, receiver, quick_retries):
    endpoint = make_endpoint(acme, url=receiver.hook())
    receiver.answer(503)
    sent = ping(acme, endpoint)
    done = drain_until_due_done(acme, endpoint, sent)
    assert (done.status, done.attempts, done.next_attempt_at) == ("failed", 3, None)


def test_the_default_schedule_retries_for_24_hours_and_first_within_10_seconds(settings):
    delays = [delivery.retry_delay(attempt) for attempt in range(1, 20)]
    schedule = [delay for delay in delays if delay is not None]
    assert delays[len(schedule)] is None
    assert schedule[0] <= 10
    assert sum(schedule) >= 24 * 3600
    assert all(later > earlier for earlier, later in itertools.pairwise(schedule[:5]))


def test_a_410_disables_the_endpoint_at_once_and_fails_its_pending_deliveries(acme, make_endpoint, receiver, settings):
    settings.EVENT_DELIVERY_BATCH_SIZE = 1
    endpoint = make_endpoint(acme, url=receiver.hook())
    receiver.answer(410)
    first, second = ping(acme, endpoint), ping(acme, endpoint)
    drain(acme, endpoint)
    disabled = fresh(acme, endpoint)
    assert not disabled.enabled and "410" in disabled.disabled_reason
    assert {fresh(acme, first).status, fresh(acme, second).status} == {"failed"}
    assert len(receiver.requests()) == 1


def test_failing_for_24_hours_disables_the_endpoint_with_the_reason(acme, make_endpoint, receiver, quick_retries):
    endpoint = make_endpoint(acme, url=receiver.hook())
    receiver.answer(500)
    ping(acme, endpoint)
    drain(acme, endpoint)
    assert fresh(acme, endpoint).enabled and fresh(acme, endpoint).failing_since is not None
    with tenant_context(acme):
        Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(hours=24, seconds=1))
    ping(acme, endpoint)
    drain(acme, endpoint)
    disabled = fresh(acme, endpoint)
    assert not disabled.enabled
    assert disabled.disabled_reason == "Every delivery failed for 24 hours (last attempt: HTTP 500)."


def test_one_success_clears_the_failing_clock(acme, make_endpoint, receiver):
    endpoint = make_endpoint(acme, url=receiver.hook(), failing_since=timezone.now() - timedelta(hours=23))
    ping(acme, endpoint)
    drain(acme, endpoint)
    assert fresh(acme, endpoint).failing_since is None


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(acme, make_endpoint, receiver):
    endpoint = make_endpoint(acme, url=receiver.hook())
    old_secret = endpoint.secret
    with tenant_context(acme):
        rotated = services.endpoint_rotate_secret(endpoint=endpoint)
    assert rotated.secret != old_secret
    ping(acme, endpoint)
    drain(acme, endpoint)
    (request,) = receiver.requests()
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    Webhook(old_secret).verify(request["body"], request["headers"])
    Webhook(rotated.secret).verify(request["body"], request["headers"])
    with tenant_context(acme):
        Endpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now())
    ping(acme, endpoint)
    drain(acme, endpoint)
    later = receiver.requests()[-1]
    Webhook(rotated.secret).verify(later["body"], later["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(later["body"], later["headers"])


def test_a_replay_sends_the_same_webhook_id_and_body_again(acme, make_endpoint, receiver):
    endpoint = make_endpoint(acme, url=receiver.hook())
    sent = ping(acme, endpoint)
    drain(acme, endpoint)
    with tenant_context(acme):
        services.delivery_replay(delivery_row=Delivery.objects.select_related("endpoint").get(pk=sent.pk))
    assert fresh(acme, sent).status == "pending"
    drain(acme, endpoint)
    first, again = receiver.requests()
    assert first["headers"]["webhook-id"] == again["headers"]["webhook-id"] == sent.event.public_id
    assert first["body"] == again["body"]
    assert (fresh(acme, sent).status, fresh(acme, sent).attempts) == ("delivered", 2)


def test_replaying_a_range_queues_the_failed_deliveries_in_it(acme, make_endpoint, receiver, settings):
    settings.EVENT_RETRY_SCHEDULE = []  # the first failure is final
    endpoint = make_endpoint(acme, url=receiver.hook())
    receiver.answer(500)
    since = timezone.now()
    deliveries = [ping(acme, endpoint) for _ in range(3)]
    drain(acme, endpoint)
    assert {fresh(acme, d).status for d in deliveries} == {"failed"}
    receiver.answer(200)
    with tenant_context(acme):
        assert services.endpoint_replay(endpoint=fresh(acme, endpoint), since=since) == 3
        assert services.endpoint_replay(endpoint=fresh(acme, endpoint), since=timezone.now()) == 0
    drain(acme, endpoint)
    assert {fresh(acme, d).status for d in deliveries} == {"delivered"}


def test_only_the_first_kib_of_an_answer_is_kept(acme, make_endpoint, receiver):
    endpoint = make_endpoint(acme, url=receiver.hook())
    receiver.answer(200, body="é" * 5000)
    sent = ping(acme, endpoint)
    drain(acme, endpoint)
    assert len(fresh(acme, sent).last_response.encode()) <= 1024 + 3
    assert fresh(acme, sent).status == "delivered"


def test_a_slow_answer_is_a_timeout(acme, make_endpoint, receiver, settings, quick_retries):
    settings.EVENT_DELIVERY_TIMEOUT_SECONDS = 0.5
    endpoint = make_endpoint(acme, url=receiver.hook())
    receiver.answer(200, delay=2)
    sent = ping(acme, endpoint)
    drain(acme, endpoint)
    done = fresh(acme, sent)
    assert done.status == "pending" and done.last_error.startswith("timeout") and done.last_status_code is None


def test_redirects_are_not_followed(acme, make_endpoint, receiver, quick_retries):
    endpoint = make_endpoint(acme, url=receiver.hook("/moved"))
    receiver.answer(307)
    sent = ping(acme, endpoint)
    drain(acme, endpoint)
    assert fresh(acme, sent).last_status_code == 307 and fresh(acme, sent).status == "pending"
    assert [r["path"] for r in receiver.requests()] == ["/moved"]


def test_a_receiver_that_is_down_gets_the_event_once_it_is_back(acme, make_endpoint, receiver, quick_retries, settings):
    settings.EVENT_RETRY_SCHEDULE = [0.2] * 10
    endpoint = make_endpoint(acme, url=receiver.hook())
    receiver.stop()
    sent = ping(acme, endpoint)
    drain(acme, endpoint)
    assert fresh(acme, sent).last_error.startswith("connection_error")
    receiver.start()
    assert drain_until_due_done(acme, endpoint, sent).status == "delivered"


# ------------------------------------------------------------------ URL rules at delivery time


@pytest.fixture
def production_urls(settings):
    settings.EVENT_WEBHOOK_STRICT_URLS = True
    settings.EVENT_WEBHOOK_ALLOWED_NETWORKS = []
    settings.EVENT_RETRY_SCHEDULE = [60]


def test_in_production_a_loopback_url_is_refused_at_delivery(acme, make_endpoint, receiver, production_urls):
    endpoint = make_endpoint(acme, url=receiver.hook().replace("http://", "https://"))
    sent = ping(acme, endpoint)
    drain(acme, endpoint)
    assert fresh(acme, sent).last_error.startswith("url_not_allowed")
    assert receiver.requests() == []


def test_dns_rebinding_after_registration_never_reaches_the_new_address(
    acme, make_endpoint, receiver, production_urls, monkeypatch
):
    resolved = {"rebind.example": [ipaddress.ip_address("93.184.216.34")]}
    monkeypatch.setattr(url_rules, "resolve", lambda host, port: resolved[host])
    with tenant_context(acme):
        endpoint = services.endpoint_create(url=f"https://rebind.example:{receiver.port}/hook", events=["*"])
    resolved["rebind.example"] = [ipaddress.ip_address("127.0.0.1")]  # the name now points inside
    sent = ping(acme, endpoint)
    drain(acme, endpoint)
    assert "127.0.0.1" in fresh(acme, sent).last_error and fresh(acme, sent).status == "pending"
    assert receiver.requests() == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.100.100.200",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "168.63.129.16",
    ],
)
def test_production_refuses_every_internal_and_metadata_address(address, production_urls):
    assert not url_rules.address_allowed(ipaddress.ip_address(address))


def test_allowed_networks_let_a_private_receiver_in(settings, production_urls):
    settings.EVENT_WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    assert url_rules.address_allowed(ipaddress.ip_address("10.20.3.4"))
    assert not url_rules.address_allowed(ipaddress.ip_address("10.21.3.4"))
    assert url_rules.address_allowed(ipaddress.ip_address("93.184.216.34"))


def test_a_secret_never_appears_in_the_logs(acme, make_endpoint, receiver, caplog, quick_retries):
    endpoint = make_endpoint(acme, url=receiver.hook("/hook?token=query-secret"))
    receiver.answer(500, count=1)
    with caplog.at_level("DEBUG"):
        drain_until_due_done(acme, endpoint, ping(acme, endpoint))
        with tenant_context(acme):
            services.endpoint_rotate_secret(endpoint=endpoint)
    text = caplog.text + json.dumps([r.getMessage() for r in caplog.records])
    assert endpoint.secret not in text and endpoint.secret[6:] not in text and "query-secret" not in text
    assert "event_id=evt_" in text and "delivery_id=" in text


def test_outbox_ctes_name_every_column_the_delivery_table_requires():
    sql = outbox.outbox_ctes(source="src", type_sql="'ping'")
    assert "INSERT INTO events_delivery" in sql and "INSERT INTO events_event" in sql
