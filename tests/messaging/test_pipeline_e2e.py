"""The messaging pipeline end to end: gunicorn, Celery worker and beat, Redis, the WAHA sandbox.

Everything goes over HTTP, as a client would use it; failures are injected
for real (SIGKILL to the worker, a Redis restart, WAHA answering 500s).
"""

from __future__ import annotations

import time

import pytest
import requests
from django.db import connection

from tests.sandbox_fixtures import SANDBOX_KEY
from tests.support_processes import wait_until

pytestmark = pytest.mark.e2e


def sandbox(e2e, method: str, path: str, **kwargs) -> requests.Response:
    base = e2e.stack_sandbox_url
    return requests.request(method, base + path, headers={"X-Api-Key": SANDBOX_KEY}, timeout=10, **kwargs)


@pytest.fixture
def live(e2e, sandbox_process):
    """A WORKING session 'main' created through the API and paired in the sandbox."""
    e2e.stack_sandbox_url = sandbox_process.base_url
    created = e2e.post("/waha/sessions", {"name": "main"})
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    names = sandbox(e2e, "GET", "/api/sessions?all=true").json()
    (waha_name,) = [s["name"] for s in names]
    assert wait_until(
        lambda: sandbox(e2e, "GET", f"/api/sessions/{waha_name}").json()["status"] == "SCAN_QR_CODE", timeout=10
    )
    sandbox(e2e, "POST", f"/sandbox/sessions/{waha_name}/pair", json={"phone": "4915100000000"})
    assert wait_until(lambda: e2e.get(f"/waha/sessions/{session_id}").json()["status"] == "WORKING", timeout=20)
    e2e.session_id, e2e.waha_name = session_id, waha_name
    return e2e


def sandbox_messages(e2e) -> dict:
    return sandbox(e2e, "GET", "/sandbox/messages", params={"session": e2e.waha_name}).json()


def batch_done(e2e, batch_id: str) -> bool:
    progress = e2e.get(f"/messages/batches/{batch_id}").json()
    return progress["completed_at"] is not None


def bulk(e2e, count: int, prefix: str = "49151") -> str:
    recipients = [{"to": f"+{prefix}{index:07d}", "variables": {"name": f"n{index}"}} for index in range(count)]
    response = e2e.post("/messages/bulk", {"session": "main", "text": "Hi {name}", "recipients": recipients})
    assert response.status_code == 202 and response.json()["accepted"] == count, response.text
    return response.json()["batch_id"]


def assert_each_sent_once(e2e, count: int) -> None:
    sent = sandbox_messages(e2e)
    assert sent["count"] == count, f"WAHA got {sent['count']} distinct messages, expected {count}"
    assert sent["duplicates"] == 0, f"{sent['duplicates']} messages reached WAHA twice"


def test_send_goes_sent_then_delivered_then_read(live):
    response = live.post("/messages/send", {"session": "main", "to": "+49 151 2222 3333", "text": "hello"})
    assert response.status_code == 202
    message_id = response.json()["id"]
    seen = []

    def read() -> bool:
        status = live.get(f"/messages/{message_id}").json()["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        return status == "read"

    assert wait_until(read, timeout=30, interval=0.02), seen
    body = live.get(f"/messages/{message_id}").json()
    assert body["sent_at"] and body["delivered_at"] and body["read_at"] and body["waha_message_id"]
    assert seen[-1] == "read" and "failed" not in seen


def test_the_worker_serves_its_own_metrics(live):
    """WORKER_METRICS_PORT: Prometheus can scrape the worker itself (a worker on another host than web
    cannot share web's multiprocess directory); what the worker counted, a sent message, is there."""
    response = live.post("/messages/send", {"session": "main", "to": "+49 151 2222 4444", "text": "counted"})
    message_id = response.json()["id"]
    assert wait_until(lambda: live.get(f"/messages/{message_id}").json()["status"] != "queued", timeout=30)

    def sent_counted() -> bool:
        scrape = requests.get(live.stack.worker_metrics_url, timeout=5)
        assert scrape.status_code == 200 and scrape.headers["Content-Type"].startswith("text/plain")
        return 'messages_status_total{status="sent",tenant="e2e"}' in scrape.text

    assert wait_until(sent_counted, timeout=15)


def test_sends_during_the_kick_quiet_window_still_go_out_without_the_sweeper(live):
    """A web process skips the kick of a send made right after its last kick
    (messaging.services.kick.KICK_QUIET_SECONDS); the dispatch that every kick schedules KICK_LOOK_AGAIN_SECONDS
    later must send those. Beat (the sweeper) is stopped, so nothing else could. Six sends 30 ms apart, after
    the first dispatch found the queue empty: with two gunicorn workers, some land in a quiet window after
    the dispatch a kick started (without the later look, this test fails in most runs)."""
    live.stack.beat.stop()
    try:
        first = live.post("/messages/send", {"session": "main", "to": "+49 151 3333 0000", "text": "first"})
        assert wait_until(
            lambda: live.get(f"/messages/{first.json()['id']}").json()["status"] != "queued", timeout=10, interval=0.01
        )
        later = []
        for index in range(1, 7):
            response = live.post(
                "/messages/send", {"session": "main", "to": f"+49 151 3333 000{index}", "text": f"later {index}"}
            )
            assert response.status_code == 202
            later.append(response.json()["id"])
            time.sleep(0.03)  # the timing rule under test: sends spread across KICK_QUIET_SECONDS windows

        def all_left() -> bool:
            return all(live.get(f"/messages/{message_id}").json()["status"] != "queued" for message_id in later)

        assert wait_until(all_left, timeout=5, interval=0.1), "a message waited for the sweeper"
    finally:
        live.stack.beat.start()


def _drop_web_connections(django_db_blocker) -> int:
    """What a PostgreSQL restart or an idle timeout does to the gunicorn workers' connections."""
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'waha-gateway-web'"
        )
        return cursor.fetchone()[0]


def test_the_database_dropping_web_connections_fails_no_request(live, django_db_blocker):
    """A PostgreSQL restart or idle timeout must fail no request: the tenant lookup (TENANT_CACHE_SECONDS is 0
    in this stack), the send statement, and the webhook's route lookup and insert each meet a dropped
    connection here. No send may fail, and the acks that arrive as webhooks must all be applied: every
    message ends read, each sent once."""
    sent = []

    def send(count: int, prefix: int) -> None:
        for index in range(count):
            response = live.post(
                "/messages/send",
                {"session": "main", "to": f"+49 151 4444 {prefix}{index:03d}", "text": f"after drop {prefix}"},
            )
            assert response.status_code == 202, response.text
            sent.append(response.json()["id"])

    send(4, 0)  # both gunicorn workers now hold a connection
    for round_ in (1, 2):
        assert _drop_web_connections(django_db_blocker) >= 1
        send(6, round_)

    def all_read() -> bool:
        return all(live.get(f"/messages/{message_id}").json()["status"] == "read" for message_id in sent)

    assert wait_until(all_read, timeout=30, interval=0.2)
    assert_each_sent_once(live, len(sent))


def test_bulk_of_1000_reaches_waha_exactly_once_each(live):
    batch_id = bulk(live, 1000)
    assert wait_until(lambda: batch_done(live, batch_id), timeout=120, interval=0.5)
    progress = live.get(f"/messages/batches/{batch_id}").json()
    assert progress["by_status"]["failed"] == 0 and progress["by_status"]["queued"] == 0
    assert_each_sent_once(live, 1000)


def test_waha_erroring_then_recovering_loses_nothing(live):
    sandbox(live, "POST", "/sandbox/faults", json={"error_rate": 1.0})
    batch_id = bulk(live, 30)

    def every_message_was_turned_away() -> list[dict] | None:
        listed = live.get(f"/messages?batch={batch_id}&page_size=50").json()["results"]
        # Turned away: back in the queue after an attempt, or already on a later attempt. A message claimed
        # for its first attempt ("sending", 1) has not met WAHA's error yet.
        turned_away = all(m["attempts"] >= 2 or (m["attempts"] == 1 and m["status"] == "queued") for m in listed)
        return listed if len(listed) == 30 and turned_away else None

    assert wait_until(every_message_was_turned_away, timeout=30, interval=0.1)
    first = live.get(f"/messages?batch={batch_id}&page_size=50").json()["results"]
    assert all(m["status"] in {"queued", "sending"} for m in first), "a send WAHA refused left the queue"
    assert sandbox_messages(live)["count"] == 0
    sandbox(live, "DELETE", "/sandbox/faults")
    assert wait_until(lambda: batch_done(live, batch_id), timeout=60, interval=0.5)
    final = live.get(f"/messages?batch={batch_id}&page_size=50").json()["results"]
    assert {m["status"] for m in final} <= {"sent", "delivered", "read"}
    assert all(m["attempts"] >= 2 for m in final)
    assert_each_sent_once(live, 30)


def test_worker_killed_mid_bulk_loses_nothing_and_sends_once(live):
    sandbox(live, "POST", "/sandbox/faults", json={"latency_ms": 5})
    batch_id = bulk(live, 1000, prefix="49152")
    assert wait_until(lambda: sandbox_messages(live)["count"] >= 100, timeout=60, interval=0.05)
    live.stack.worker.kill()  # SIGKILL to the worker and its pool processes
    in_flight = sandbox_messages(live)["count"]
    assert in_flight < 1000, "the bulk finished before the worker could be killed"
    live.stack.worker.start()
    sandbox(live, "DELETE", "/sandbox/faults")
    assert wait_until(lambda: batch_done(live, batch_id), timeout=120, interval=0.5), live.stack.worker.output()
    progress = live.get(f"/messages/batches/{batch_id}").json()
    assert progress["by_status"]["failed"] == 0
    assert_each_sent_once(live, 1000)


def test_redis_restarted_mid_bulk_loses_nothing(live):
    sandbox(live, "POST", "/sandbox/faults", json={"latency_ms": 5})
    batch_id = bulk(live, 1000, prefix="49153")
    assert wait_until(lambda: sandbox_messages(live)["count"] >= 100, timeout=60, interval=0.05)
    worker_log_mark = live.stack.worker.log_size()
    live.stack.redis.kill()
    # While Redis is down the API still accepts sends (the database is the queue).
    during = live.post("/messages/send", {"session": "main", "to": "+4915300009999", "text": "while down"})
    assert during.status_code == 202, during.text
    assert wait_until(
        lambda: "Connection to broker lost" in live.stack.worker.output(since=worker_log_mark), timeout=20
    ), "the worker never noticed Redis going away"
    live.stack.start_redis()
    sandbox(live, "DELETE", "/sandbox/faults")
    assert wait_until(lambda: batch_done(live, batch_id), timeout=120, interval=0.5), live.stack.worker.output()
    assert wait_until(lambda: live.get(f"/messages/{during.json()['id']}").json()["status"] != "queued", timeout=60)
    progress = live.get(f"/messages/batches/{batch_id}").json()
    assert progress["by_status"]["failed"] == 0
    assert_each_sent_once(live, 1001)
