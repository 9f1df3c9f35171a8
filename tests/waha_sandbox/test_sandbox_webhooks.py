"""Webhook delivery: envelope, headers, HMAC, retries, filters (WAHA.md §5)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import requests

from waha_sandbox.testing import run_sandbox, wait_until

VECTOR_BODY = b'{"event":"message","session":"default","engine":"WEBJS"}'
VECTOR_KEY = "my-secret-key"
VECTOR_HMAC = (
    "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8"
    "097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89"
)
ENVELOPE_KEYS = ["id", "timestamp", "event", "session", "metadata", "me", "payload", "engine", "environment"]


def sign(key: str, body: bytes) -> str:
    """The receiver-side check from WAHA.md §9.11: HMAC-SHA512 over the raw bytes, hex."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def test_hmac_function_matches_protocol_vector():
    assert sign(VECTOR_KEY, VECTOR_BODY) == VECTOR_HMAC


def test_envelope_headers_and_hmac(api, receiver):
    hook = {
        "url": receiver.url("/signed"),
        "events": ["session.status"],
        "hmac": {"key": VECTOR_KEY},
        "customHeaders": [{"name": "X-Tenant", "value": "t1"}],
    }
    api.create("h1", config={"webhooks": [hook], "metadata": {"tenant.id": "t1"}})
    (req,) = receiver.wait_events(1, path="/signed")
    body, headers = req["body"], req["headers"]
    assert hmac.compare_digest(headers["X-Webhook-Hmac"], sign(VECTOR_KEY, body))
    assert re.fullmatch(r"[0-9a-f]{128}", headers["X-Webhook-Hmac"])
    assert headers["X-Webhook-Hmac-Algorithm"] == "sha512"
    assert headers["content-type"] == "application/json"
    assert headers["User-Agent"].startswith("WAHA/")
    assert headers["X-Tenant"] == "t1"
    assert headers["X-Webhook-Request-Id"]
    env = json.loads(body)
    assert list(env) == ENVELOPE_KEYS
    assert headers["X-Webhook-Timestamp"] == str(env["timestamp"])
    assert re.fullmatch(r"evt_[0-9a-hjkmnp-tv-z]{26}", env["id"])
    assert env["metadata"] == {"tenant.id": "t1"} and env["engine"] == "NOWEB"
    assert body == json.dumps(env, separators=(",", ":"), ensure_ascii=False).encode()  # compact


def test_event_id_shared_across_targets_request_ids_differ(api, receiver):
    hooks = [
        {"url": receiver.url("/a"), "events": ["session.status"]},
        {"url": receiver.url("/b"), "events": ["*"]},
        {"url": receiver.url("/ignored"), "events": []},
        {"events": ["*"]},
    ]
    api.create("h2", config={"webhooks": hooks})
    a = receiver.wait_events(1, path="/a")[0]
    b = receiver.wait_events(1, path="/b")[0]
    assert a["json"]["id"] == b["json"]["id"]
    assert a["headers"]["X-Webhook-Request-Id"] != b["headers"]["X-Webhook-Request-Id"]
    assert receiver.events(path="/ignored") == []


def test_retry_until_success_keeps_request_id(api, receiver):
    receiver.plan("/flaky", [500, 503])
    hook = {
        "url": receiver.url("/flaky"),
        "events": ["message.reaction"],
        "retries": {"policy": "constant", "delaySeconds": 0.05, "attempts": 5},
    }
    api.create("h3", start=False, config={"webhooks": [hook]})
    api.post("/sandbox/sessions/h3/events", {"event": "message.reaction", "payload": {"x": 1}})
    reqs = receiver.wait_events(3, path="/flaky")
    assert len({r["headers"]["X-Webhook-Request-Id"] for r in reqs}) == 1
    assert len({r["body"] for r in reqs}) == 1
    stats = wait_until(
        lambda: (lambda s: s if s["succeeded"] >= 1 else None)(api.get("/sandbox/webhooks").json()),
        message="delivery success",
    )
    assert stats["failed"] == 2 and stats["attempted"] == 3 and stats["dropped"] == 0


def test_retry_after_honoured_and_drop_after_attempts(api, receiver):
    receiver.plan("/later", [429], headers={"Retry-After": "1"})
    hook = {
        "url": receiver.url("/later"),
        "events": ["message.reaction"],
        "retries": {"policy": "constant", "delaySeconds": 0, "attempts": 3},
    }
    receiver.plan("/dead", [500] * 10)
    dead = {
        "url": receiver.url("/dead"),
        "events": ["message.reaction"],
        "retries": {"policy": "linear", "delaySeconds": 0.01, "attempts": 2},
    }
    api.create("h4", start=False, config={"webhooks": [hook, dead]})
    api.post("/sandbox/sessions/h4/events", {"event": "message.reaction", "payload": {"x": 1}})
    first, second = receiver.wait_events(2, path="/later", timeout=5)
    assert second["at"] - first["at"] >= 0.9

    def dead_dropped():
        log = api.get("/sandbox/webhooks").json()["recent"]
        return [r for r in log if r["url"] == receiver.url("/dead") and r["result"] == "dropped"]

    # The sandbox logs the drop after the last attempt's answer, which the receiver records first.
    (drop,) = wait_until(dead_dropped, message="the drop of /dead")
    assert drop["attempts"] == 3
    assert len(receiver.events(path="/dead")) == 3  # 1 try + 2 retries, then dropped


def test_star_excludes_engine_event_and_state_change(api, receiver):
    api.working("h5", config={"webhooks": [{"url": receiver.url("/star"), "events": ["*"]}]})
    for event in ("engine.event", "state.change", "message.reaction"):
        r = api.post("/sandbox/sessions/h5/events", {"event": event, "payload": {"x": 1}})
        assert r.status_code == 201
    receiver.wait_events(1, event="message.reaction")
    api.deliveries_settled()
    emitted = {e["event"] for e in api.emitted("h5")}
    assert {"engine.event", "state.change", "message.reaction"} <= emitted
    got = {e["json"]["event"] for e in receiver.events(path="/star")}
    assert "engine.event" not in got and "state.change" not in got


def test_duplicate_and_out_of_order_acks(api, receiver):
    api.post("/sandbox/config", {"auto_ack": False})
    api.working("h6", config={"webhooks": [{"url": receiver.url("/acks"), "events": ["message.ack"]}]})
    wa = api.post("/api/sendText", {"session": "h6", "chatId": "111@c.us", "text": "x"}).json()["key"]["id"]
    r = api.post("/sandbox/sessions/h6/acks", {"acks": [{"id": wa, "ack": "READ"}, {"id": wa, "ack": 1, "repeat": 2}]})
    assert r.status_code == 201
    events = receiver.wait_events(3, event="message.ack")
    ids = [e["json"]["id"] for e in events]
    assert len(set(ids)) == 2  # the repeated ack reuses one event id
    assert sorted(e["json"]["payload"]["ack"] for e in events) == [1, 1, 3]
    assert api.get("/sandbox/messages?session=h6").json()["messages"][0]["ackName"] == "READ"


def test_inbound_text_and_own_phone_message(api, receiver):
    hook = {"url": receiver.url("/in"), "events": ["message", "message.any"]}
    me = api.working("h7", config={"webhooks": [hook]})
    r = api.post("/sandbox/sessions/h7/messages", {"from": "15550002222", "text": "Hello!"})
    assert r.status_code == 201
    got = receiver.wait_events(2, path="/in")
    by_event = {e["json"]["event"]: e["json"] for e in got}
    assert by_event["message"]["id"] != by_event["message.any"]["id"]
    p = by_event["message"]["payload"]
    assert p["id"] == r.json()["id"] and p["id"].startswith("false_15550002222@c.us_")
    assert p["from"] == "15550002222@c.us" and p["to"] == me["id"] and p["fromMe"] is False
    assert p["body"] == "Hello!" and p["hasMedia"] is False and p["media"] is None
    assert isinstance(p["timestamp"], int) and p["timestamp"] < 10**11  # seconds

    receiver.clear()
    api.post("/sandbox/sessions/h7/messages", {"fromMe": True, "to": "15550002222", "text": "typed on phone"})
    (only,) = receiver.wait_events(1, path="/in")
    api.deliveries_settled()
    assert [e["event"] for e in api.emitted("h7", event="message")] == ["message"]  # the first, inbound one
    assert len(receiver.events(path="/in")) == 1 and only["json"]["event"] == "message.any"
    assert only["json"]["payload"]["source"] == "app" and only["json"]["payload"]["fromMe"] is True


def test_inbound_media_download_and_expiry(api, receiver):
    hook = {"url": receiver.url("/media"), "events": ["message"]}
    api.working("h8", config={"webhooks": [hook]})
    raw = b"\x89PNG\r\n\x1a\n-not-really-a-png"
    import base64

    r = api.post(
        "/sandbox/sessions/h8/messages",
        {
            "from": "15550002222",
            "caption": "look",
            "media": {"mimetype": "image/jpeg", "filename": None, "data": base64.b64encode(raw).decode()},
        },
    )
    wa = r.json()["waId"]
    p = receiver.wait_events(1, path="/media")[0]["json"]["payload"]
    assert p["hasMedia"] is True and p["body"] == "look"
    url = p["media"]["url"]
    assert url == f"{api.handle.base_url}/api/files/h8/{wa}.jpeg"
    assert p["media"]["mimetype"] == "image/jpeg" and p["media"]["error"] is None
    ok = requests.get(url, headers={"X-Api-Key": api.handle.api_key}, timeout=5)
    assert ok.status_code == 200 and ok.content == raw
    assert requests.get(url, timeout=5).status_code == 401
    missing = api.get("/api/files/h8/nope.jpeg")
    assert missing.status_code == 404
    assert missing.json()["error"]["key"] == "FILE_NOT_FOUND" and missing.json()["error"]["code"] == 404

    # Generated bytes when no data is given; short lifetime then 404.
    api.post("/sandbox/config", {"files_lifetime": 0.3})
    r = api.post(
        "/sandbox/sessions/h8/messages",
        {"from": "15550002222", "media": {"mimetype": "application/pdf", "filename": "a.pdf"}},
    )
    pdf = receiver.wait_events(2, path="/media")[-1]["json"]["payload"]["media"]
    assert pdf["filename"] == "a.pdf" and pdf["url"].endswith(".pdf")
    assert api.get(pdf["url"][len(api.handle.base_url) :]).content.startswith(b"%PDF")
    wait_until(
        lambda: api.get(pdf["url"][len(api.handle.base_url) :]).status_code == 404, timeout=3, message="file expiry"
    )


def test_global_env_hook(receiver):
    env = {
        "WHATSAPP_HOOK_URL": receiver.url("/global"),
        "WHATSAPP_HOOK_EVENTS": "session.status,message",
        "WHATSAPP_HOOK_HMAC_KEY": "gkey",
        "WHATSAPP_HOOK_CUSTOM_HEADERS": "X-Env:1",
    }
    with run_sandbox(env=env) as sb:
        r = requests.post(
            sb.url("/api/sessions"),
            headers=sb.headers,
            timeout=5,
            json={"name": "g", "start": True, "config": {"webhooks": [{"url": receiver.url("/own"), "events": ["*"]}]}},
        )
        assert r.status_code == 201 and r.json()["config"]["webhooks"][0]["url"].endswith("/own")
        (g,) = receiver.wait_events(1, path="/global")
        assert g["headers"]["X-Env"] == "1"
        assert g["headers"]["X-Webhook-Hmac"] == sign("gkey", g["body"])
        own = receiver.wait_events(1, path="/own")
        assert own[0]["json"]["id"] == g["json"]["id"]
