"""Event webhooks end to end: gunicorn, the Celery workers (the events worker on its own queue), beat, Redis,
the WAHA sandbox and a receiver process. Everything goes over HTTP; failures are real (a receiver that is
down, a slow one, SIGKILL to the events worker in the middle of a delivery).
"""

from __future__ import annotations

import signal

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.sandbox_fixtures import SANDBOX_KEY
from tests.support_processes import wait_until

pytestmark = pytest.mark.e2e


def register(e2e, url: str, events: list[str] | None = None) -> dict:
    answer = e2e.post("/webhooks/endpoints", {"url": url, "events": events or ["*"]})
    assert answer.status_code == 201, answer.text
    return answer.json()


def delivery(e2e, delivery_id: str) -> dict:
    return e2e.get(f"/webhooks/deliveries/{delivery_id}").json()


def working_session(e2e, sandbox_process) -> None:
    """A WORKING session 'main', created through the API and paired in the sandbox."""
    control = {"X-Api-Key": SANDBOX_KEY}
    created = e2e.post("/waha/sessions", {"name": "main"})
    assert created.status_code == 201, created.text
    (waha_name,) = [
        s["name"]
        for s in requests.get(f"{sandbox_process.base_url}/api/sessions?all=true", headers=control, timeout=10).json()
    ]

    def waha_status() -> str:
        return requests.get(f"{sandbox_process.base_url}/api/sessions/{waha_name}", headers=control, timeout=10).json()[
            "status"
        ]

    assert wait_until(lambda: waha_status() == "SCAN_QR_CODE", timeout=10)
    requests.post(
        f"{sandbox_process.base_url}/sandbox/sessions/{waha_name}/pair",
        json={"phone": "4915100000000"},
        headers=control,
        timeout=10,
    )
    assert wait_until(
        lambda: e2e.get(f"/waha/sessions/{created.json()['id']}").json()["status"] == "WORKING", timeout=20
    )


def test_a_send_reaches_the_endpoint_as_signed_status_events(e2e, sandbox_process, receiver):
    working_session(e2e, sandbox_process)
    endpoint = register(e2e, receiver.hook(), ["message.sent", "message.delivered", "message.read"])
    sent = e2e.post("/messages/send", {"session": "main", "to": "+49 151 2222 7777", "text": "tracked"})
    assert sent.status_code == 202
    message_id = sent.json()["id"]

    def all_three() -> bool:
        return len(receiver.requests()) >= 3

    assert wait_until(all_three, timeout=30, interval=0.1), receiver.requests()
    types = []
    for request in receiver.requests():
        payload = Webhook(endpoint["secret"]).verify(request["body"], request["headers"])
        assert payload["data"]["id"] == message_id and payload["tenant"] == "e2e"
        types.append(payload["type"])
    assert sorted(types) == ["message.delivered", "message.read", "message.sent"]


def test_a_receiver_that_is_down_gets_the_event_when_it_is_back(e2e, receiver):
    """An outage of many retries (the e2e stack's schedule is seconds, not hours): nothing lost, nothing twice."""
    endpoint = register(e2e, receiver.hook())
    receiver.stop()
    queued = [e2e.post(f"/webhooks/endpoints/{endpoint['id']}/test") for _ in range(3)]
    assert all(answer.status_code == 202 for answer in queued)
    delivery_ids = [answer.json()["id"] for answer in queued]

    def every_delivery_failed_five_times() -> bool:
        return all(delivery(e2e, delivery_id)["attempts"] >= 5 for delivery_id in delivery_ids)

    assert wait_until(every_delivery_failed_five_times, timeout=60, interval=0.2)
    assert all(delivery(e2e, delivery_id)["last_error"].startswith("connection_error") for delivery_id in delivery_ids)
    receiver.start()

    def all_delivered() -> bool:
        return all(delivery(e2e, delivery_id)["status"] == "delivered" for delivery_id in delivery_ids)

    assert wait_until(all_delivered, timeout=30, interval=0.2)
    received = sorted(request["headers"]["webhook-id"] for request in receiver.requests())
    assert received == sorted(answer.json()["event_id"] for answer in queued)  # each once
    for delivery_id in delivery_ids:
        attempts = delivery(e2e, delivery_id)["attempt_log"]
        assert attempts[-1]["status_code"] == 200 and all(a["status_code"] is None for a in attempts[:-1])


def test_a_slow_endpoint_never_delays_another(e2e, receiver):
    from tests.events.conftest import Receiver

    fast_receiver = Receiver().start()
    try:
        slow = register(e2e, receiver.hook("/slow"))
        fast = register(e2e, fast_receiver.hook("/fast"))
        # 12 slow deliveries: two rounds of the endpoint's batch (8), each held 2.5 s by the receiver, so the
        # slow endpoint stays busy for at least 5 s after its first request arrives.
        receiver.answer(200, delay=2.5)
        for _ in range(12):
            assert e2e.post(f"/webhooks/endpoints/{slow['id']}/test").status_code == 202
        assert wait_until(lambda: receiver.requests(), timeout=10, interval=0.05)
        started = e2e.post(f"/webhooks/endpoints/{fast['id']}/test").json()
        assert wait_until(lambda: delivery(e2e, started["id"])["status"] == "delivered", timeout=4, interval=0.05)
        slow_log = e2e.get(f"/webhooks/endpoints/{slow['id']}/deliveries").json()["results"]
        assert any(d["status"] == "pending" for d in slow_log), "the slow endpoint was already done: no overlap"
    finally:
        fast_receiver.stop()


def test_a_worker_killed_mid_delivery_delivers_after_restart(e2e, receiver):
    stack = e2e.stack
    endpoint = register(e2e, receiver.hook())
    receiver.answer(200, delay=2.5)
    queued = e2e.post(f"/webhooks/endpoints/{endpoint['id']}/test").json()
    assert wait_until(lambda: receiver.requests(), timeout=15, interval=0.02), "the delivery never started"
    stack.events_worker.kill(signal.SIGKILL)  # mid-request: the receiver has not answered yet
    receiver.answer(200)
    assert delivery(e2e, queued["id"])["status"] == "pending"
    stack.events_worker.start()
    assert wait_until(lambda: delivery(e2e, queued["id"])["status"] == "delivered", timeout=40, interval=0.2)
    ids = {r["headers"]["webhook-id"] for r in receiver.requests()}
    assert ids == {queued["event_id"]} and len(receiver.requests()) >= 2


def test_the_events_worker_counts_its_attempts(e2e, receiver):
    endpoint = register(e2e, receiver.hook())
    queued = e2e.post(f"/webhooks/endpoints/{endpoint['id']}/test").json()
    assert wait_until(lambda: delivery(e2e, queued["id"])["status"] == "delivered", timeout=15, interval=0.1)
    scrape = requests.get(e2e.url("/metrics"), timeout=10).text
    assert 'event_delivery_attempts_total{outcome="success"}' in scrape
    assert "event_delivery_lag_seconds_bucket" in scrape and 'event_deliveries_pending{tenant="e2e"}' in scrape
