"""POST /webhooks/waha: verification, routing, exactly-once storage, and never a 500."""

from __future__ import annotations

import json
import logging

import pytest
from django.db import OperationalError
from django_tenants.utils import tenant_context
from prometheus_client import REGISTRY

from messaging.models import Conversation, Message
from tenants.models import SessionRoute
from tests.support import TenantClient
from tests.webhooks.webhook_helpers import WsgiClient, compact, counts, deliver, envelope, inbound_payload, post, sign
from webhooks import last_event
from webhooks.models import WebhookEvent
from webhooks.services import receive

pytestmark = pytest.mark.security

WAHA_VECTOR_BODY = b'{"event":"message","session":"default","engine":"WEBJS"}'
WAHA_VECTOR_KEY = "my-secret-key"
WAHA_VECTOR_HMAC = ("208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8"
                        "097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89")


@pytest.fixture(params=["test_client", "wsgi_entry_point"])
def public_client(request, db):
    """Every case runs through Django's test client and through gunicorn's entry point (config.wsgi)."""
    return TenantClient() if request.param == "test_client" else WsgiClient()


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# ---------------------------------------------------------------- the signature


def test_protocol_hmac_test_vector():
    assert receive.signature_for(key=WAHA_VECTOR_KEY, body=WAHA_VECTOR_BODY) == WAHA_VECTOR_HMAC
    assert receive.signature_valid(key=WAHA_VECTOR_KEY, body=WAHA_VECTOR_BODY,
                                    signature=WAHA_VECTOR_HMAC)
    assert receive.signature_valid(key=WAHA_VECTOR_KEY, body=WAHA_VECTOR_BODY,
                                    signature=WAHA_VECTOR_HMAC.upper())


@pytest.mark.parametrize("signature", [None, "", WAHA_VECTOR_HMAC[:-1] + "0", WAHA_VECTOR_HMAC[:64],
                                       "zz" * 64, "é" * 128, WAHA_VECTOR_HMAC + " x"])
def test_signature_check_rejects_anything_else(signature):
    assert not receive.signature_valid(key=WAHA_VECTOR_KEY, body=WAHA_VECTOR_BODY, signature=signature)
    assert not receive.signature_valid(key="other-key", body=WAHA_VECTOR_BODY, signature=WAHA_VECTOR_HMAC)


def test_valid_event_is_stored_and_answered_200(public_client, acme, acme_routed):
    body = compact(envelope(acme_routed, "presence.update", {"id": "15550002222@c.us", "presences": []}))
    response = post(public_client, body, key=acme_routed.key)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "ok" and data["outcome"] == "ignored"
    with tenant_context(acme):
        event = WebhookEvent.objects.get(event_id=data["event_id"])
    assert event.event == "presence.update" and event.session_id == acme_routed.session.id
    assert event.payload == json.loads(body) and event.processed_at is not None


@pytest.mark.parametrize("how", ["missing", "wrong", "other-key", "re-serialised", "bad-algorithm"])
def test_bad_signature_is_401_and_stores_nothing(public_client, acme, acme_routed, globex_routed, how):
    data = envelope(acme_routed, "message", inbound_payload())
    body = compact(data)
    kwargs = {}
    if how == "missing":
        kwargs = {}
    elif how == "wrong":
        kwargs = {"signature": sign(acme_routed.key, body + b" ")}
    elif how == "other-key":
        kwargs = {"key": globex_routed.key}
    elif how == "re-serialised":
        # Signed over a re-serialisation of the same JSON, not over the bytes sent.
        kwargs = {"signature": sign(acme_routed.key, json.dumps(data, indent=1).encode())}
    else:
        kwargs = {"key": acme_routed.key, "HTTP_X_WEBHOOK_HMAC_ALGORITHM": "md5"}
    reason = "missing" if how == "missing" else "invalid"
    before = sample("webhook_signature_failures_total", reason=reason)
    response = post(public_client, body, **kwargs)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == ("signature_missing" if how == "missing" else "signature_invalid")
    assert "WWW-Authenticate" in response
    assert counts(acme) == {"events": 0, "messages": 0, "conversations": 0, "pending_acks": 0}
    assert sample("webhook_signature_failures_total", reason=reason) == before + 1


def test_body_over_1_mib_is_413(public_client, acme, acme_routed):
    payload = inbound_payload(text="x" * (1024 * 1024))
    body = compact(envelope(acme_routed, "message", payload))
    response = post(public_client, body, key=acme_routed.key)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    assert counts(acme)["events"] == 0


def test_declared_length_over_limit_is_413_before_reading(public_client, acme_routed):
    body = compact(envelope(acme_routed, "message", inbound_payload()))
    response = post(public_client, body, key=acme_routed.key, CONTENT_LENGTH=str(2 * 1024 * 1024))
    assert response.status_code == 413


def test_body_just_under_limit_is_accepted(public_client, acme, acme_routed, settings):
    data = envelope(acme_routed, "presence.update", {"pad": ""})
    filler = settings.WEBHOOK_MAX_BODY_BYTES - len(compact(data))
    data["payload"]["pad"] = "y" * filler
    body = compact(data)
    assert len(body) == settings.WEBHOOK_MAX_BODY_BYTES
    assert post(public_client, body, key=acme_routed.key).status_code == 200


@pytest.mark.parametrize("body", [b"{", b"not json", b"\xff\xfe{}", b"{'id': 1}", b'{"id": NaN}', b"\xef\xbb\xbf{}",
                                  b"[" * 100_000 + b"]" * 100_000, b""])
def test_malformed_json_is_400(public_client, acme, acme_routed, body):
    response = post(public_client, body, key=acme_routed.key)
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert counts(acme)["events"] == 0


@pytest.mark.parametrize("data", [[], "text", 42, None, {}, {"id": "evt_1", "event": "message"},
                                  {"id": 1, "event": "message", "session": "x"},
                                  {"id": "evt_1", "event": ["message"], "session": "x"},
                                  {"id": "evt 1", "event": "message", "session": "x"},
                                  {"id": "e" * 101, "event": "message", "session": "x"},
                                  {"id": "evt_1", "event": "message\nX", "session": "x"}])
def test_valid_json_that_is_not_an_envelope_is_400(public_client, acme_routed, data):
    response = post(public_client, json.dumps(data).encode(), key=acme_routed.key)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("session", ["nobody", "a" * 60, "../etc", "ünïcode"])
def test_unknown_session_is_404_and_stores_nothing(public_client, acme, acme_routed, session):
    data = envelope(acme_routed, "message", inbound_payload())
    data["session"] = session
    body = compact(data)
    before = sample("webhook_signature_failures_total", reason="unknown_session")
    response = post(public_client, body, key=acme_routed.key)
    assert response.status_code == 404 and response.json()["code"] == "unknown_session"
    assert counts(acme)["events"] == 0
    assert sample("webhook_signature_failures_total", reason="unknown_session") == before + 1


def test_get_is_405(public_client):
    response = public_client.get("/webhooks/waha")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_no_csrf_needed_with_enforcing_client(acme, acme_routed):
    client = TenantClient(enforce_csrf_checks=True)
    assert deliver(client, acme_routed, "presence.update", {}).status_code == 200


# ---------------------------------------------------------------- exactly once


def test_same_event_twice_is_stored_once_and_second_answer_is_duplicate(public_client, acme, acme_routed):
    body = compact(envelope(acme_routed, "message", inbound_payload()))
    first = post(public_client, body, key=acme_routed.key)
    second = post(public_client, body, key=acme_routed.key)
    assert first.status_code == second.status_code == 200
    assert first.json()["outcome"] == "accepted" and second.json()["outcome"] == "duplicate"
    assert counts(acme) == {"events": 1, "messages": 1, "conversations": 1, "pending_acks": 0}


def test_duplicate_through_a_global_webhook_with_other_headers_changes_nothing(public_client, acme, acme_routed):
    """WAHA's global hook re-sends the same envelope (same id) with its own request id and headers."""
    body = compact(envelope(acme_routed, "message", inbound_payload()))
    post(public_client, body, key=acme_routed.key, HTTP_X_WEBHOOK_REQUEST_ID="4ezu5q8tlkpwsrq")
    response = post(public_client, body, key=acme_routed.key, HTTP_X_WEBHOOK_REQUEST_ID="other0000000001")
    assert response.json()["outcome"] == "duplicate"
    with tenant_context(acme):
        assert Message.objects.get().conversation.unread_count == 1


def test_same_event_id_with_another_body_changes_nothing(public_client, acme, acme_routed):
    first = envelope(acme_routed, "message", inbound_payload(text="first"))
    replay = envelope(acme_routed, "message", inbound_payload(text="second"), id=first["id"])
    post(public_client, compact(first), key=acme_routed.key)
    assert post(public_client, compact(replay), key=acme_routed.key).json()["outcome"] == "duplicate"
    with tenant_context(acme):
        assert list(Message.objects.values_list("text", flat=True)) == ["first"]


# ---------------------------------------------------------------- routing


def test_webhook_for_globex_never_touches_acme(public_client, acme, globex, acme_routed, globex_routed):
    before = counts(acme)
    assert deliver(public_client, globex_routed, "message", inbound_payload()).status_code == 200
    assert counts(acme) == before
    assert counts(globex) == {"events": 1, "messages": 1, "conversations": 1, "pending_acks": 0}


@pytest.mark.parametrize("via", ["acme-host", "x-tenant-header"])
def test_tenant_host_cannot_route_an_event_into_itself(acme, globex, acme_routed, globex_routed, client_for, via):
    """Posted on acme's host (or naming acme in X-Tenant), globex's event still lands in globex only."""
    client = client_for(acme, via_header=via == "x-tenant-header")
    response = deliver(client, globex_routed, "message", inbound_payload())
    assert response.status_code == 200
    assert counts(acme)["events"] == 0 and counts(acme)["messages"] == 0
    assert counts(globex)["messages"] == 1


def test_metadata_naming_another_tenant_is_not_trusted(public_client, acme, globex, acme_routed, globex_routed):
    forged = {"tenant": "acme", "session_id": str(acme_routed.session.id)}
    assert deliver(public_client, globex_routed, "message", inbound_payload(), metadata=forged).status_code == 200
    assert counts(acme)["messages"] == 0 and counts(globex)["messages"] == 1


def test_event_for_acme_session_signed_with_globex_key_is_refused(public_client, acme, acme_routed, globex_routed):
    body = compact(envelope(acme_routed, "message", inbound_payload()))
    assert post(public_client, body, key=globex_routed.key).status_code == 401
    assert counts(acme)["events"] == 0


# ---------------------------------------------------------------- robustness


GARBAGE = [
    b"\x00" * 64, b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, b"<xml/>", b"true", b"1e999999", b'"\\ud800"',
    b'{"id":"evt_x","event":"message","session":"s","payload":"\\u0000"}', "{\"a\":\"\u2028\"}".encode(),
]


@pytest.mark.parametrize("body", GARBAGE)
@pytest.mark.parametrize("signed", [False, True])
def test_garbage_is_never_a_500(public_client, acme_routed, body, signed):
    response = post(public_client, body, key=acme_routed.key if signed else None)
    assert response.status_code in {400, 401, 404}, response.content
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("payload", [
    None, [], "text", 7, {"id": 5}, {"id": "x", "from": ["a"]}, {"id": "", "from": ""},
    {"id": "false_1@c.us_AB", "from": "1@c.us", "body": {"nested": True}, "timestamp": "soon",
     "media": "yes", "hasMedia": "maybe", "location": {"latitude": "n"}, "_data": [], "replyTo": "x"},
    {"id": "false_1@c.us_AB", "from": "1" * 500 + "@c.us"},
    {"id": "false_1@c.us_CD", "from": "1@c.us", "timestamp": 10 ** 30, "body": "nul\u0000byte \ud800"},
])
@pytest.mark.parametrize("event", ["message", "message.ack", "message.ack.group", "session.status",
                                   "message.revoked", "message.edited", "message.reaction", "message.any"])
def test_signed_events_with_odd_payloads_are_answered_2xx(public_client, acme, acme_routed, event, payload):
    data = envelope(acme_routed, event, payload, me={"id": 5, "pushName": ["x"]})
    response = post(public_client, json.dumps(data).encode(), key=acme_routed.key)
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] in {"accepted", "ignored"}


def test_null_bytes_and_lone_surrogates_are_stored_cleanly(public_client, acme, acme_routed):
    payload = inbound_payload(text="a\u0000b \ud83d end")
    body = json.dumps(envelope(acme_routed, "message", payload)).encode()  # ASCII with \\u escapes
    assert post(public_client, body, key=acme_routed.key).json()["outcome"] == "accepted"
    with tenant_context(acme):
        assert Message.objects.get().text == "ab \ufffd end"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", ""])
def test_content_type_does_not_matter_the_signed_bytes_do(public_client, acme, acme_routed, content_type):
    body = compact(envelope(acme_routed, "message", inbound_payload()))
    assert post(public_client, body, key=acme_routed.key, content_type=content_type).status_code == 200
    assert post(public_client, body, content_type=content_type).status_code == 401


@pytest.mark.parametrize("headers", [
    {"HTTP_X_WEBHOOK_HMAC": "a" * 64_000},
    {"HTTP_X_WEBHOOK_HMAC": "\u00ff" * 200},
    {"HTTP_X_WEBHOOK_HMAC_ALGORITHM": "sha512" * 10_000},
    {"HTTP_X_WEBHOOK_TIMESTAMP": "9" * 5000, "HTTP_X_WEBHOOK_REQUEST_ID": "\r\n" * 100},
])
def test_huge_and_odd_headers_are_never_a_500(public_client, acme_routed, headers):
    body = compact(envelope(acme_routed, "message", inbound_payload()))
    response = post(public_client, body, **({"key": acme_routed.key} if "HTTP_X_WEBHOOK_HMAC" not in headers
                                             else {}), **headers)
    assert response.status_code in {200, 401}, response.content


def test_handler_bug_keeps_the_event_as_error_and_the_applier_goes_on(public_client, acme, acme_routed, monkeypatch,
                                                               caplog):
    def broken(*, session_id, payload, now=None):
        Conversation.objects.create(session_id=session_id, chat_id="half-done@c.us")  # a write, then a bug
        raise KeyError("boom")

    monkeypatch.setattr("messaging.services.inbound.inbound_message_record", broken)
    before = sample("webhook_events_total", event="message", tenant="acme", outcome="error")
    with caplog.at_level(logging.ERROR, logger="webhooks"):
        response = deliver(public_client, acme_routed, "message", inbound_payload())
    assert response.status_code == 200 and response.json()["outcome"] == "accepted"
    with tenant_context(acme):
        event = WebhookEvent.objects.get()
        assert event.outcome == "error" and "KeyError" in event.error
        assert Message.objects.count() == 0 and Conversation.objects.count() == 0  # rolled back
    assert sample("webhook_events_total", event="message", tenant="acme", outcome="error") == before + 1
    assert any("outcome=error" in r.getMessage() for r in caplog.records)
    # WAHA's retry of that event is a duplicate, not a second failure.
    body_again = deliver(public_client, acme_routed, "message", inbound_payload(), id=event.event_id)
    assert body_again.json()["outcome"] == "duplicate"


def test_database_unavailable_is_503_so_waha_retries(public_client, acme_routed, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(receive, "_insert", down)
    response = deliver(public_client, acme_routed, "message", inbound_payload())
    assert response.status_code == 503 and response.json()["code"] == "service_unavailable"


# ---------------------------------------------------------------- visibility


def test_metrics_count_events_by_type_tenant_and_outcome(public_client, acme_routed):
    labels = {"event": "message", "tenant": "acme"}
    applied = sample("webhook_events_total", **labels, outcome="applied")
    duplicate = sample("webhook_events_total", **labels, outcome="duplicate")
    body = compact(envelope(acme_routed, "message", inbound_payload()))
    post(public_client, body, key=acme_routed.key)
    post(public_client, body, key=acme_routed.key)
    assert sample("webhook_events_total", **labels, outcome="applied") == applied + 1
    assert sample("webhook_events_total", **labels, outcome="duplicate") == duplicate + 1


def test_odd_event_names_share_one_metric_label(public_client, acme_routed):
    before = sample("webhook_events_total", event="other", tenant="acme", outcome="ignored")
    deliver(public_client, acme_routed, "custom.thing-1", {})
    assert sample("webhook_events_total", event="other", tenant="acme", outcome="ignored") == before + 1


def test_log_lines_name_the_event_but_never_the_signature_or_body(public_client, acme_routed, caplog):
    secret_text = "my-very-private-message-text"
    body = compact(envelope(acme_routed, "message", inbound_payload(text=secret_text)))
    signature = sign(acme_routed.key, body)
    with caplog.at_level(logging.DEBUG):
        post(public_client, body, signature=signature)
        post(public_client, body, signature="0" * 128)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "webhook.received event=message tenant=acme" in text and "outcome=applied" in text
    assert f"session_id={acme_routed.session.id}" in text and "event_id=evt_" in text
    assert "webhook.rejected reason=signature_invalid" in text
    for secret in (signature, acme_routed.key, secret_text, "0" * 128):
        assert secret not in text


def test_webhooks_health_shows_the_last_event_time(public_client, acme_routed, client_for, acme):
    from django_redis import get_redis_connection

    get_redis_connection("default").delete(last_event.LAST_EVENT_KEY)
    last_event.last_event_local.update(at=0.0, written=0.0)
    response = public_client.get("/webhooks/health")
    assert response.status_code == 200 and response.json() == {"status": "ok", "last_event_at": None}
    deliver(public_client, acme_routed, "presence.update", {})
    body = public_client.get("/webhooks/health").json()
    assert body["status"] == "ok" and body["last_event_at"].endswith("Z")
    assert set(body) == {"status", "last_event_at"}
    assert client_for(acme).get("/webhooks/health").json()["last_event_at"] == body["last_event_at"]


def test_signature_failures_do_not_count_as_events(public_client, acme_routed):
    from django_redis import get_redis_connection

    get_redis_connection("default").delete(last_event.LAST_EVENT_KEY)
    last_event.last_event_local.update(at=0.0, written=0.0)
    body = compact(envelope(acme_routed, "presence.update", {}))
    post(public_client, body, signature="0" * 128)
    assert public_client.get("/webhooks/health").json()["last_event_at"] is None


def test_cached_route_still_checks_every_signature(public_client, acme, acme_routed):
    assert deliver(public_client, acme_routed, "presence.update", {}).status_code == 200  # route now cached
    body = compact(envelope(acme_routed, "message", inbound_payload()))
    assert post(public_client, body, signature=sign("not-the-key", body)).status_code == 401
    assert counts(acme)["messages"] == 0


def test_unknown_session_is_not_remembered_once_its_route_exists(public_client, acme, acme_routed):
    data = envelope(acme_routed, "presence.update", {})
    data["session"] = "acme_new_1234abcd"
    body = compact(data)
    assert post(public_client, body, key=acme_routed.key).status_code == 404
    SessionRoute.objects.filter(pk=acme_routed.route.pk).update(waha_session_name="acme_new_1234abcd")
    assert post(public_client, body, key=acme_routed.key).status_code == 200


# ---------------------------------------------------------------- gunicorn's entry point


def test_wsgi_entry_point_answers_webhooks_through_django_like_every_request(acme, acme_routed):
    client = WsgiClient()
    body = compact(envelope(acme_routed, "presence.update", {}))
    response = post(client, body, key=acme_routed.key, HTTP_X_REQUEST_ID="wsgi-test-0001")
    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert response["X-Request-ID"] == "wsgi-test-0001" and response["X-Content-Type-Options"] == "nosniff"
    assert response.started_by == ["django"]  # one request path: Django's handler and its middleware
    assert response["X-Frame-Options"] == "DENY"
    assert counts(acme)["events"] == 1
    other = client.get("/webhooks/health")
    assert other.status_code == 200 and other.started_by == ["django"]


def test_wsgi_entry_point_turns_an_unexpected_error_into_a_problem(acme, acme_routed, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(receive, "webhook_receive", broken)
    response = post(WsgiClient(), compact(envelope(acme_routed, "presence.update", {})), key=acme_routed.key)
    assert response.status_code == 500 and response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "server_error" and "boom" not in response.content.decode()
