"""The applier: events are stored by the request and applied by a Celery task, in order, once."""

from __future__ import annotations

import types

import django_redis
import psycopg
import pytest
from django.db import connection
from django_tenants.utils import tenant_context
from prometheus_client import REGISTRY

import core.quiet
from messaging.models import Conversation, Message
from tests.webhooks.webhook_helpers import counts, deliver, events_apply_everywhere, inbound_payload
from webhooks import tasks
from webhooks.models import WebhookEvent
from webhooks.services import applier, sweep


def _redis():
    return django_redis.get_redis_connection("default")


@pytest.fixture(autouse=True)
def _no_recent_kick():
    applier._kicked.clear()


def test_a_process_asks_redis_once_per_window(acme, monkeypatch):
    calls = []

    class Recorder:
        def set(self, *args, **kwargs):
            calls.append(args[0])
            return False  # a task is already queued

    monkeypatch.setattr(django_redis, "get_redis_connection", lambda alias: Recorder())
    clock = types.SimpleNamespace(now=1000.0)
    monkeypatch.setattr(applier, "_kicked",
                        core.quiet.QuietWindow(applier.APPLY_KICK_WINDOW_SECONDS, timer=lambda: clock.now))
    applier.apply_kick(acme.schema_name)
    applier.apply_kick(acme.schema_name)
    assert calls == [applier.APPLY_KICK_KEY.format(schema=acme.schema_name)]
    clock.now += applier.APPLY_KICK_WINDOW_SECONDS
    applier.apply_kick(acme.schema_name)
    assert len(calls) == 2


def test_accepted_event_waits_for_the_applier_then_is_applied_once(public_client, acme, acme_routed,
                                                                   django_capture_on_commit_callbacks):
    _redis().delete(applier.APPLY_KICK_KEY.format(schema=acme.schema_name))
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(public_client, acme_routed, "message", inbound_payload(text="later"), apply=False)
    assert response.status_code == 200 and response.json()["outcome"] == "accepted"
    with tenant_context(acme):
        event = WebhookEvent.objects.get()
        assert event.outcome == "pending" and event.processed_at is None
    assert counts(acme)["messages"] == 0
    # The receiver asked for an applier task (the key stays until the task starts).
    assert _redis().exists(applier.APPLY_KICK_KEY.format(schema=acme.schema_name))

    assert events_apply_everywhere() == 1
    with tenant_context(acme):
        event.refresh_from_db()
        assert event.outcome == "applied" and event.processed_at is not None
        assert Message.objects.get().text == "later"
    assert events_apply_everywhere() == 0


def test_events_are_applied_in_arrival_order(public_client, acme, acme_routed):
    first = inbound_payload(text="original")
    deliver(public_client, acme_routed, "message", first, apply=False)
    edit = {"id": "false_15550002222@c.us_3EB0EDIT02", "from": "15550002222@c.us", "fromMe": False,
            "body": "edited", "editedMessageId": first["_data"]["key"]["id"]}
    deliver(public_client, acme_routed, "message.edited", edit, apply=False)
    with tenant_context(acme):
        assert applier.pending_events_apply(batch_size=1) == 2  # two batches, oldest first
        outcomes = list(WebhookEvent.objects.order_by("id").values_list("event", "outcome"))
        assert Message.objects.get().text == "edited"
    assert outcomes == [("message", "applied"), ("message.edited", "applied")]


def test_a_second_applier_waits_for_the_first(public_client, acme, acme_routed):
    deliver(public_client, acme_routed, "presence.update", {}, apply=False)
    deliver(public_client, acme_routed, "message", inbound_payload(), apply=False)
    settings_dict = connection.settings_dict
    other = psycopg.connect(host=settings_dict["HOST"], port=settings_dict["PORT"] or 5432,
                            user=settings_dict["USER"], dbname=settings_dict["NAME"], autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"webhooks.apply:{acme.schema_name}"])
        with tenant_context(acme):
            assert applier.pending_events_apply() == 0  # the lock holder applies them
            assert WebhookEvent.objects.filter(outcome="pending").count() == 1
        other.execute("SELECT pg_advisory_unlock(hashtext(%s))", [f"webhooks.apply:{acme.schema_name}"])
        with tenant_context(acme):
            assert applier.pending_events_apply() == 1
    finally:
        other.close()


def test_broker_down_loses_nothing_the_sweep_applies_it(public_client, acme, acme_routed, monkeypatch,
                                                         django_capture_on_commit_callbacks):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(django_redis, "get_redis_connection", down)
    before = REGISTRY.get_sample_value("webhook_apply_enqueue_failures_total") or 0
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(public_client, acme_routed, "message", inbound_payload(), apply=False)
    assert response.status_code == 200 and response.json()["outcome"] == "accepted"
    assert REGISTRY.get_sample_value("webhook_apply_enqueue_failures_total") == before + 1
    with tenant_context(acme):
        assert sweep.webhooks_sweep()["events_applied"] == 1
        assert Conversation.objects.count() == 1


def test_task_frees_the_kick_and_applies_in_the_named_schema(public_client, acme, globex, acme_routed):
    deliver(public_client, acme_routed, "message", inbound_payload(), apply=False)
    key = applier.APPLY_KICK_KEY.format(schema=acme.schema_name)
    _redis().set(key, "1")
    tasks.events_apply_task(globex.schema_name)  # another tenant's task touches nothing of acme
    assert counts(acme)["messages"] == 0
    tasks.events_apply_task(acme.schema_name)
    assert not _redis().exists(key)
    assert counts(acme)["messages"] == 1


@pytest.mark.parametrize("schema", ["public", "t_nope"])
def test_task_refuses_a_schema_that_is_not_a_tenant(db, schema, monkeypatch):
    refused = []
    monkeypatch.setattr(tasks.logger, "error", lambda message, *args: refused.append(message % args))
    monkeypatch.setattr(applier, "pending_events_apply", lambda **kwargs: pytest.fail("applied outside a tenant"))
    tasks.events_apply_task(schema)
    assert refused == [f"webhook.apply_refused schema={schema} reason=not_a_tenant"]


def test_pending_events_are_a_gauge_until_applied(public_client, acme, acme_routed):
    def pending() -> float:
        return REGISTRY.get_sample_value("webhook_events_pending", {"tenant": "acme"})

    assert pending() == 0
    deliver(public_client, acme_routed, "message", inbound_payload(), apply=False)
    assert pending() == 1
    events_apply_everywhere()
    assert pending() == 0
