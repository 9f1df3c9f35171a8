"""Inbound webhooks end to end: the sandbox posts real signed webhooks to gunicorn, Celery copies media.

Everything goes over HTTP as in production: sandbox → POST /webhooks/waha on
the real web process → GET /messages, /conversations and /messages/{id}/media.
"""

from __future__ import annotations

import pytest
import requests

from tests.sandbox_fixtures import SANDBOX_KEY
from tests.support_processes import wait_until

pytestmark = pytest.mark.e2e


def sandbox(base_url: str, method: str, path: str, **kwargs) -> requests.Response:
    response = requests.request(method, base_url + path, headers={"X-Api-Key": SANDBOX_KEY}, timeout=10, **kwargs)
    response.raise_for_status()
    return response


@pytest.fixture
def paired(e2e, sandbox_process):
    """A session 'inbox' created through the API, paired in the sandbox, WORKING through its webhooks."""
    created = e2e.post("/waha/sessions", {"name": "inbox"})
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    (waha_name,) = [s["name"] for s in sandbox(sandbox_process.base_url, "GET", "/api/sessions?all=true").json()]
    assert wait_until(lambda: sandbox(sandbox_process.base_url, "GET", f"/api/sessions/{waha_name}").json()["status"]
                      == "SCAN_QR_CODE", timeout=10)
    sandbox(sandbox_process.base_url, "POST", f"/sandbox/sessions/{waha_name}/pair", json={"phone": "4915100000000"})
    assert wait_until(lambda: e2e.get(f"/waha/sessions/{session_id}").json()["status"] == "WORKING", timeout=20)
    e2e.waha_name, e2e.sandbox_url = waha_name, sandbox_process.base_url
    return e2e


def inject(e2e, **body) -> dict:
    return sandbox(e2e.sandbox_url, "POST", f"/sandbox/sessions/{e2e.waha_name}/messages", json=body).json()


def inbound(e2e) -> list[dict]:
    return e2e.get("/messages?direction=inbound").json()["results"]


def test_inbound_text_reaches_messages_and_conversations(paired):
    answer = inject(paired, **{"from": "4915177777777", "text": "Hello from WhatsApp", "pushName": "Ana"})
    assert wait_until(lambda: len(inbound(paired)) == 1, timeout=15)
    (message,) = inbound(paired)
    assert message["text"] == "Hello from WhatsApp" and message["waha_message_id"] == answer["id"]
    assert message["from"] == "4915177777777@c.us" and message["status"] == "received"
    (conversation,) = paired.get("/conversations").json()["results"]
    assert conversation["contact_name"] == "Ana" and conversation["unread_count"] == 1

    inject(paired, **{"from": "4915177777777", "text": "Still there?"})
    assert wait_until(lambda: paired.get("/conversations").json()["results"][0]["unread_count"] == 2, timeout=15)
    # Both inbound messages were answered 2xx at the first attempt. (The sandbox's
    # log is global, so only this session's "message" events count; a session.status
    # sent while the creating transaction had not committed yet may need WAHA's retry.)
    recent = sandbox(paired.sandbox_url, "GET", "/sandbox/webhooks").json()["recent"]
    ours = [entry for entry in recent if entry["session"] == paired.waha_name and entry["event"] == "message"]
    assert len(ours) == 2 and all(entry["attempts"] == 1 and entry["result"] == "delivered"
                        for entry in ours), ours
    health = requests.get(paired.url("/webhooks/health"), timeout=10).json()
    assert health["status"] == "ok" and health["last_event_at"]


def test_inbound_image_is_copied_by_the_worker_and_served(paired):
    answer = inject(paired, **{"from": "4915177777777", "caption": "receipt", "media": {"mimetype": "image/png"}})

    def stored():
        messages = inbound(paired)
        return messages and (messages[0]["media"] or {}).get("url")

    assert wait_until(stored, timeout=20), inbound(paired)
    (message,) = inbound(paired)
    assert message["type"] == "image" and message["text"] == "receipt"
    media_url = answer["payload"]["media"]["url"]
    original = sandbox(paired.sandbox_url, "GET", media_url[media_url.index("/api/files/"):]).content
    response = paired.get(message["media"]["url"])
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
    assert response.content == original and message["media"]["size"] == len(original)


def test_duplicate_and_out_of_order_deliveries_change_nothing(paired):
    answer = inject(paired, **{"from": "4915177777777", "text": "once"})
    assert wait_until(lambda: len(inbound(paired)) == 1, timeout=15)
    # The same envelope again (as WAHA's global hook would send it), and acks for an unknown message.
    events = sandbox(paired.sandbox_url, "GET", "/sandbox/events", params={"event": "message"}).json()["events"]
    envelope = next(e for e in events if e["payload"]["id"] == answer["id"])
    sandbox(paired.sandbox_url, "POST", f"/sandbox/sessions/{paired.waha_name}/events",
            json={"event": "message", "payload": envelope["payload"], "eventId": envelope["id"], "repeat": 2})
    sandbox(paired.sandbox_url, "POST", f"/sandbox/sessions/{paired.waha_name}/acks",
            json={"acks": [{"id": "true_4915177777777@c.us_3EB0NOTOURS01", "ack": "READ", "repeat": 2}]})
    assert wait_until(lambda: sandbox(paired.sandbox_url, "GET", "/sandbox/webhooks").json()["inFlight"] == 0,
                      timeout=15)
    assert len(inbound(paired)) == 1
    assert paired.get("/conversations").json()["results"][0]["unread_count"] == 1
