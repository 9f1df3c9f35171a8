"""Fault knobs and sandbox control endpoints."""

from __future__ import annotations

import time

import pytest
import requests

from waha_sandbox.testing import wait_until

SEND = {"session": "f", "chatId": "111@c.us", "text": "x"}


def test_error_rate_one_gives_500_echoing_request(api):
    api.working("f")
    r = api.post("/sandbox/faults", {"error_rate": 1})
    assert r.status_code == 200 and r.json()["error_rate"] == 1
    r = api.post("/api/sendText", SEND)
    assert r.status_code == 500
    body = r.json()
    assert body["statusCode"] == 500 and body["exception"]["name"] == "Error"
    assert body["request"]["body"] == SEND
    assert api.get("/sandbox/messages?session=f").json()["count"] == 0  # nothing went out
    api.delete("/sandbox/faults")
    assert api.post("/api/sendText", SEND).status_code == 201


def test_invalid_fault_values_are_400(api):
    r = api.post("/sandbox/faults", {"error_rate": 2})
    assert r.status_code == 400
    assert api.get("/sandbox/faults").json()["error_rate"] == 0


def test_down_drops_connections_but_not_sandbox_paths(api):
    api.working("f")
    api.post("/sandbox/faults", {"down": True})
    for method, path in (("get", "/ping"), ("post", "/api/sendText")):
        with pytest.raises(requests.ConnectionError):
            getattr(requests, method)(api.url(path), json=SEND, headers={"X-Api-Key": api.handle.api_key},
                                      timeout=3)
    assert api.get("/sandbox/faults").json()["down"] is True
    api.post("/sandbox/faults", {"down": False})
    assert api.post("/api/sendText", SEND).status_code == 201


def test_latency(api):
    api.working("f")
    api.post("/sandbox/faults", {"latency_ms": 600})
    t0 = time.monotonic()
    assert api.post("/api/sendText", SEND).status_code == 201
    assert time.monotonic() - t0 >= 0.58
    t0 = time.monotonic()
    api.get("/sandbox/faults")  # control paths are never slowed down
    assert time.monotonic() - t0 < 0.4


def test_hang_after_send_times_out_but_message_went_out(api):
    api.working("f")
    api.post("/sandbox/faults", {"hang": True})
    with pytest.raises(requests.ReadTimeout):
        api.post("/api/sendText", SEND, timeout=0.5)
    listing = api.get("/sandbox/messages?session=f").json()
    assert listing["count"] == 1  # it was sent although the client never got an answer
    api.post("/sandbox/faults", {"hang": False})
    assert api.post("/api/sendText", SEND).status_code == 201


def test_hang_before_send_then_release(api):
    api.working("f")
    api.post("/sandbox/faults", {"hang": True, "hang_mode": "before_send"})
    with pytest.raises(requests.ReadTimeout):
        api.post("/api/sendText", SEND, timeout=0.3)
    assert api.get("/sandbox/messages?session=f").json()["count"] == 0
    api.post("/sandbox/faults", {"hang": False})
    # The held request continues once released, like a late engine answer.
    wait_until(lambda: api.get("/sandbox/messages?session=f").json()["count"] == 1, message="late send")


def test_reset_clears_everything(api):
    api.working("f")
    api.post("/api/sendText", SEND)
    api.post("/sandbox/faults", {"latency_ms": 5})
    api.post("/sandbox/config", {"engine": "GOWS"})
    assert api.post("/sandbox/reset", {}).json() == {"reset": True}
    assert api.get("/api/sessions?all=true").json() == []
    assert api.get("/sandbox/messages").json()["count"] == 0
    assert api.get("/sandbox/faults").json()["latency_ms"] == 0
    assert api.get("/sandbox/config").json()["engine"] == "NOWEB"
    assert api.get("/sandbox/webhooks").json()["events"] == 0


def test_control_endpoints_404_for_unknown_session(api):
    for path in ("pair", "fail", "messages", "acks", "events"):
        r = api.post(f"/sandbox/sessions/nope/{path}", {})
        assert r.status_code == 404, path
