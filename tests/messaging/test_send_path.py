"""POST /messages/send: one request path, through Django's middleware and DRF's authentication,
permissions and throttles like every endpoint, with the one-statement insert in the service.
"""

from __future__ import annotations

import json
import re
import time
import types
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import rest_framework_simplejwt.tokens
from django.db import OperationalError
from django_tenants.utils import tenant_context
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

import accounts.authentication
import core.quiet
import messaging.services
import messaging.services.kick
import messaging.services.sending
from accounts.models import User
from accounts.roles import Role
from accounts.tokens import TenantAccessToken
from messaging.api import SendView
from messaging.models import Conversation, Message
from messaging.services import pacing
from sessions_waha.models import Session, SessionStatus
from tests.support import TEST_TENANTS, TenantClient, tokens_for

PLAIN = {"session": "support", "to": "+49 151 1234 5678", "text": "hi"}
CHAT_ID = "4915112345678@c.us"
SECURITY_HEADERS = ("X-Content-Type-Options", "Referrer-Policy", "Cross-Origin-Opener-Policy", "X-Frame-Options")


def send(client, body=PLAIN, **extra):
    return client.post("/messages/send", body, format="json", **extra)


def send_raw(client, data, content_type="application/json", **extra):
    return client.post("/messages/send", data=data, content_type=content_type, **extra)


def access(tenant, user) -> str:
    return str(tokens_for(tenant, user).access_token)


def caller(tenant, authorization: str | None = None, **extra) -> TenantClient:
    client = TenantClient(TEST_TENANTS[tenant.slug], **extra)
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def counts(tenant) -> tuple[int, int]:
    with tenant_context(tenant):
        return Message.objects.count(), Conversation.objects.count()


def code(response) -> str | None:
    return response.json().get("code")


def assert_refused(tenant, authorization, body=PLAIN, *, status, expected_code=None, **extra):
    """The send is refused with this status (and code), and nothing was stored."""
    before = counts(tenant)
    response = send(caller(tenant, authorization), body, **extra)
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    if expected_code is not None:
        assert code(response) == expected_code
    assert counts(tenant) == before
    return response


# ------------------------------------------------------------------ the accepted send



def record_dispatches(monkeypatch, record) -> None:
    """Hand what the dispatch kick sends to the broker for ``messaging.dispatch_session`` (a task it sends by
    name, ``messaging.services.kick.DISPATCH_SESSION``) to ``record`` instead: its options (args, countdown)."""
    from config.celery import app

    def send_task(name, **options):
        if name == messaging.services.kick.DISPATCH_SESSION:
            record(options)

    monkeypatch.setattr(app, "send_task", send_task)

def test_send_answers_202_with_the_message_as_the_detail_view_shows_it(api, acme, working_session):
    response = send(api)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and body["to"] == CHAT_ID and body["from"] == "4915100000000@c.us"
    detail = api.get(f"/messages/{body['id']}")
    assert detail.status_code == 200 and body == detail.json()
    assert counts(acme) == (1, 1)
    with tenant_context(acme):
        message = Message.objects.get()
    assert str(message.pk) == body["id"] and message.text == "hi" and message.chat_id == CHAT_ID


def test_send_carries_the_middlewares_headers_and_request_id(api, working_session):
    response = send(api, HTTP_X_REQUEST_ID="client-req-0001")
    assert response.status_code == 202
    for header in SECURITY_HEADERS:
        assert response.headers.get(header), header
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-ID"] == "client-req-0001"


def test_send_makes_its_own_request_id_for_an_unsafe_one(api, working_session):
    response = send(api, HTTP_X_REQUEST_ID="bad id\nInjected: 1")
    assert response.status_code == 202
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id) and "Injected" not in request_id


def test_sends_are_counted_by_django_prometheus(api, working_session):
    from prometheus_client import REGISTRY

    def sends() -> float:
        return REGISTRY.get_sample_value("django_http_responses_total_by_status_view_method_total", {
            "status": "202", "view": "message-send", "method": "POST"}) or 0.0

    before = sends()
    assert send(api).status_code == 202
    assert sends() == before + 1


def test_session_by_id(api, acme, working_session):
    response = send(api, {**PLAIN, "session": str(working_session.pk)})
    assert response.status_code == 202 and response.json()["session"] == str(working_session.pk)


def test_x_tenant_header_route(acme, admin, client_for, working_session):
    assert send(client_for(acme, admin, via_header=True)).status_code == 202
    assert counts(acme) == (1, 1)


def test_conflicting_x_tenant_header_is_400(acme, admin, working_session):
    assert_refused(acme, f"Bearer {access(acme, admin)}", status=400, expected_code="tenant_conflict",
                   HTTP_X_TENANT="globex")


def test_surrounding_whitespace_is_stripped_by_the_serializer(api, acme, working_session):
    response = send(api, {"session": " support ", "to": " +4915112345678 ", "text": "  hi there \n"})
    assert response.status_code == 202 and response.json()["text"] == "hi there"


def test_explicit_text_type(api, working_session):
    assert send(api, {**PLAIN, "type": "text"}).status_code == 202


def test_send_kicks_the_dispatch_after_commit(api, acme, working_session, monkeypatch,
                                              django_capture_on_commit_callbacks):
    calls = []
    record_dispatches(monkeypatch, calls.append)
    messaging.services.kick._kicked.clear()
    with tenant_context(acme):
        pacing.kick_release(working_session.pk)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            response = send(api)
        assert response.status_code == 202
        assert len(callbacks) == 1
        assert calls and all(call["args"][1] == str(working_session.pk) for call in calls)
    finally:
        messaging.services.kick._kicked.clear()
        with tenant_context(acme):
            pacing.kick_release(working_session.pk)


# ------------------------------------------------------------------ one request path: rules added later hold


class _RefuseEverything(BasePermission):
    message = "Refused by a rule added later."

    def has_permission(self, request, view) -> bool:
        return False


class _OnePerTest(BaseThrottle):
    seen = 0

    def allow_request(self, request, view) -> bool:
        type(self).seen += 1
        return type(self).seen <= 1

    def wait(self) -> float:
        return 30.0


def test_a_permission_added_to_the_send_view_holds_for_every_send(api, acme, working_session, monkeypatch):
    monkeypatch.setattr(SendView, "permission_classes", [*SendView.permission_classes, _RefuseEverything])
    for body in (PLAIN, {**PLAIN, "text": "x" * 4096}, {**PLAIN, "session": str(working_session.pk)}):
        response = send(api, body)
        assert response.status_code == 403 and code(response) == "permission_denied"
    assert counts(acme) == (0, 0)


def test_a_throttle_added_to_the_send_view_holds_for_every_send(api, acme, working_session, monkeypatch):
    _OnePerTest.seen = 0
    monkeypatch.setattr(SendView, "throttle_classes", [_OnePerTest])
    assert send(api).status_code == 202
    refused = send(api)
    assert refused.status_code == 429 and code(refused) == "rate_limited"
    assert refused.headers["Retry-After"] == "30"
    assert counts(acme) == (1, 1)


def test_a_middleware_added_later_sees_every_send(acme, admin, working_session, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.messaging.test_send_path.RecordingMiddleware"]
    response = send(caller(acme, f"Bearer {access(acme, admin)}"))
    assert response.status_code == 202
    assert response.headers["X-Seen-By"] == "/messages/send"


class RecordingMiddleware:
    """Marks the response it saw (pytest may import this module twice, so no class state)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response["X-Seen-By"] = request.path
        return response


# ------------------------------------------------------------------ authentication


@pytest.mark.parametrize("authorization", [None, "Token x", "Bearer", "Bearer a b", "Bearer not-a-jwt", ""])
def test_missing_or_malformed_authorization_is_401(acme, working_session, authorization):
    assert_refused(acme, authorization, status=401)


def test_lowercase_bearer_scheme_is_401(acme, admin, working_session):
    assert_refused(acme, f"bearer {access(acme, admin)}", status=401, expected_code="not_authenticated")


def test_tab_between_scheme_and_token_is_accepted(acme, admin, working_session):
    assert send(caller(acme, f"Bearer\t{access(acme, admin)}")).status_code == 202


@pytest.mark.parametrize("separator", ["\xa0", "\x85", "\x1c"])
def test_non_ascii_whitespace_after_the_scheme_is_401(acme, admin, working_session, separator):
    """simplejwt splits the header as bytes, on ASCII whitespace only: "Bearer<NBSP>token" is no Bearer token."""
    assert_refused(acme, f"Bearer{separator}{access(acme, admin)}", status=401, expected_code="not_authenticated")


def test_token_signed_with_another_key_is_401(acme, admin, working_session):
    payload = jwt.decode(access(acme, admin), options={"verify_signature": False})
    forged = jwt.encode(payload, "a-wrong-signing-key-of-the-recommended-length", algorithm="HS256")
    assert_refused(acme, f"Bearer {forged}", status=401, expected_code="token_invalid")


def test_expired_access_token_is_401(acme, admin, working_session):
    with tenant_context(acme):
        token = TenantAccessToken.for_user(admin)
        token.set_exp(lifetime=-timedelta(seconds=1))
    assert_refused(acme, f"Bearer {token}", status=401, expected_code="token_invalid")


def test_other_tenants_token_is_401_even_for_the_same_user_id(acme, globex, admin, make_user, working_session):
    twin = make_user(globex, Role.TENANT_ADMIN, id=admin.pk)
    assert_refused(acme, f"Bearer {access(globex, twin)}", status=401, expected_code="token_invalid")


def test_refresh_token_is_not_an_access_token(acme, admin, working_session):
    assert_refused(acme, f"Bearer {tokens_for(acme, admin)}", status=401, expected_code="token_invalid")


def test_auditor_is_403(acme, make_user, working_session):
    auditor = make_user(acme, Role.AUDITOR)
    assert_refused(acme, f"Bearer {access(acme, auditor)}", status=403, expected_code="permission_denied")


def test_inactive_user_is_401(acme, make_user, working_session):
    manager = make_user(acme, Role.MANAGER)
    token = access(acme, manager)
    with tenant_context(acme):
        User.objects.filter(pk=manager.pk).update(is_active=False)
    assert_refused(acme, f"Bearer {token}", status=401, expected_code="token_invalid")


def test_deleted_user_is_401(acme, make_user, working_session):
    manager = make_user(acme, Role.MANAGER)
    token = access(acme, manager)
    with tenant_context(acme):
        User.objects.filter(pk=manager.pk).delete()
    assert_refused(acme, f"Bearer {token}", status=401, expected_code="token_invalid")


# ------------------------------------------------------------------ agents and conversations


def test_agent_cannot_write_into_another_agents_conversation(acme, make_user, working_session):
    owner, other = make_user(acme, Role.AGENT), make_user(acme, Role.AGENT)
    assert send(caller(acme, f"Bearer {access(acme, owner)}")).status_code == 202
    assert_refused(acme, f"Bearer {access(acme, other)}", status=403, expected_code="permission_denied")
    with tenant_context(acme):
        conversation = Conversation.objects.get()
        assert conversation.assigned_to_id == owner.pk
        assert Message.objects.count() == 1 and not Message.objects.filter(created_by=other).exists()


def test_agent_starting_a_chat_is_assigned_to_it(acme, make_user, working_session):
    agent = make_user(acme, Role.AGENT)
    response = send(caller(acme, f"Bearer {access(acme, agent)}"))
    assert response.status_code == 202
    with tenant_context(acme):
        assert Conversation.objects.get(pk=response.json()["conversation"]).assigned_to_id == agent.pk


def test_agent_takes_an_unassigned_conversation(api, acme, make_user, working_session):
    first = send(api).json()
    with tenant_context(acme):
        assert Conversation.objects.get(pk=first["conversation"]).assigned_to_id is None
    agent = make_user(acme, Role.AGENT)
    response = send(caller(acme, f"Bearer {access(acme, agent)}"))
    assert response.status_code == 202 and response.json()["conversation"] == first["conversation"]
    with tenant_context(acme):
        assert Conversation.objects.get(pk=first["conversation"]).assigned_to_id == agent.pk
    assert counts(acme) == (2, 1)


def test_admin_writing_into_an_agents_conversation_keeps_the_assignment(api, acme, make_user, working_session):
    agent = make_user(acme, Role.AGENT)
    first = send(caller(acme, f"Bearer {access(acme, agent)}")).json()
    assert send(api).status_code == 202
    with tenant_context(acme):
        assert Conversation.objects.get(pk=first["conversation"]).assigned_to_id == agent.pk


# ------------------------------------------------------------------ sessions and recipients


def test_session_not_working_is_409(acme, admin, working_session):
    with tenant_context(acme):
        Session.objects.filter(pk=working_session.pk).update(status=SessionStatus.STOPPED)
    assert_refused(acme, f"Bearer {access(acme, admin)}", status=409, expected_code="session_not_ready")


def test_unknown_session_is_400(acme, admin, working_session):
    response = assert_refused(acme, f"Bearer {access(acme, admin)}", {**PLAIN, "session": "nope"}, status=400,
                              expected_code="validation_error")
    assert "session" in response.json()["errors"]


def test_deleted_session_is_unknown(acme, admin, working_session):
    from django.utils import timezone

    with tenant_context(acme):
        Session.objects.filter(pk=working_session.pk).update(deleted_at=timezone.now())
    response = assert_refused(acme, f"Bearer {access(acme, admin)}", status=400, expected_code="validation_error")
    assert "session" in response.json()["errors"]


def test_invalid_recipient_is_400(acme, admin, working_session):
    response = assert_refused(acme, f"Bearer {access(acme, admin)}", {**PLAIN, "to": "hello"}, status=400,
                              expected_code="validation_error")
    assert "to" in response.json()["errors"]


# ------------------------------------------------------------------ bodies


def test_reply_to_is_kept(api, acme, working_session):
    response = send(api, {**PLAIN, "reply_to": "x"})
    assert response.status_code == 202 and response.json()["reply_to"] == "x"


def test_image_send(api, acme, working_session):
    body = {"session": "support", "to": "+4915112345678", "type": "image",
            "media": {"url": "https://cdn.example.com/a.jpg"}, "caption": "look"}
    response = send(api, body)
    assert response.status_code == 202
    assert response.json()["type"] == "image" and response.json()["text"] == "look"
    assert counts(acme) == (1, 1)


def test_idempotency_key_replays(api, acme, working_session):
    first = send(api, HTTP_IDEMPOTENCY_KEY="order-7")
    again = send(api, HTTP_IDEMPOTENCY_KEY="order-7")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert counts(acme) == (1, 1)


def test_empty_idempotency_key_is_400(api, acme, working_session):
    response = send(api, HTTP_IDEMPOTENCY_KEY="")
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]
    assert counts(acme) == (0, 0)


def test_origin_header_is_accepted(api, acme, working_session):
    assert send(api, HTTP_ORIGIN="https://app.example.com").status_code == 202
    assert counts(acme) == (1, 1)


def test_text_plain_body_is_415(acme, admin, working_session):
    response = send_raw(caller(acme, f"Bearer {access(acme, admin)}"), json.dumps(PLAIN), content_type="text/plain")
    assert (response.status_code, code(response)) == (415, "unsupported_media_type")
    assert counts(acme) == (0, 0)


@pytest.mark.parametrize("data, expected_status, expected_code", [
    ('{"session": "support", "to": "+4915112345678", "text": "hi"', 400, "malformed_json"),
    ('{"session": "support", "to": "+4915112345678", "text": NaN}', 400, "malformed_json"),
    ('{"session": "support", "to": "+4915112345678", "text": "hi", "x": Infinity}', 400, "malformed_json"),
    ('{"session": "support", "to": "+4915112345678", "text": "   "}', 400, "validation_error"),
    ('{"session": "support", "to": "+4915112345678", "text": "' + "x" * 4097 + '"}', 400, "validation_error"),
    ('{"session": "support", "to": "+4915112345678", "text": "a\\u0000b"}', 400, "validation_error"),
    ('{"session": "support", "to": "+4915112345678", "text": "a\\ud800b"}', 400, "validation_error"),
    ('[{"session": "support", "to": "+4915112345678", "text": "hi"}]', 400, "validation_error"),
    ('{"session": "support", "to": "+4915112345678", "text": "hi", "type": "sticker"}', 400, "validation_error"),
    ('{"session": "support", "to": "+4915112345678"}', 400, "validation_error"),
    ('{"session": "support", "to": "+4915112345678", "text": null}', 400, "validation_error"),
    ('{"session": "support", "to": "+4915112345678", "text": ["hi"]}', 400, "validation_error"),
    ('"hi"', 400, "validation_error"),
    ("", 400, "validation_error"),
])
def test_bad_bodies_are_refused_with_a_problem_and_store_nothing(acme, admin, working_session, data,
                                                                  expected_status, expected_code):
    before = counts(acme)[0]
    response = send_raw(caller(acme, f"Bearer {access(acme, admin)}"), data)
    assert (response.status_code, code(response)) == (expected_status, expected_code), response.content
    assert counts(acme)[0] == before


def test_body_over_the_configured_request_limit_is_413(acme, admin, working_session, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    assert_refused(acme, f"Bearer {access(acme, admin)}", {**PLAIN, "text": "x" * 2000}, status=413,
                   expected_code="payload_too_large")


def test_longest_text(api, acme, working_session):
    response = send(api, {**PLAIN, "text": "x" * 4096})
    assert response.status_code == 202 and len(response.json()["text"]) == 4096


def test_non_ascii_text(api, acme, working_session):
    assert send(api, {**PLAIN, "text": "Grüße 👍"}).status_code == 202
    with tenant_context(acme):
        assert Message.objects.get().text == "Grüße 👍"


# ------------------------------------------------------------------ the verified-token cache (authentication class)


def record_verifications(monkeypatch) -> list:
    """From now on, every token simplejwt verifies is recorded in the returned list."""
    verified = []
    original = TenantAccessToken.__init__

    def recording(self, *args, **kwargs):
        verified.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(TenantAccessToken, "__init__", recording)
    return verified


def test_a_verified_token_is_remembered_by_the_authentication_class(acme, admin, working_session, monkeypatch):
    token = access(acme, admin)
    client = caller(acme, f"Bearer {token}")
    assert send(client).status_code == 202
    assert ("acme", token.encode()) in accounts.authentication._verified
    verified = record_verifications(monkeypatch)
    assert send(client).status_code == 202
    assert verified == []  # the second send did not verify the signature again


@pytest.fixture
def token_cache_clock(monkeypatch):
    """The verified-token cache on a clock the test moves (epoch seconds, starting now)."""
    clock = types.SimpleNamespace(now=time.time())
    monkeypatch.setattr(accounts.authentication, "_verified",
                        accounts.authentication.verified_token_cache(timer=lambda: clock.now))
    return clock


def test_cached_token_stops_working_when_it_expires(acme, admin, working_session, monkeypatch, token_cache_clock):
    token = access(acme, admin)
    client = caller(acme, f"Bearer {token}")
    assert send(client).status_code == 202
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    later = expires + 5
    token_cache_clock.now = later
    monkeypatch.setattr(rest_framework_simplejwt.tokens, "aware_utcnow",
                        lambda: datetime.fromtimestamp(later, tz=UTC))
    response = send(client)
    assert response.status_code == 401 and code(response) == "token_invalid"
    assert counts(acme) == (1, 1)


def test_cached_token_expiry_is_checked_by_the_cache_itself(acme, admin, working_session, monkeypatch,
                                                            token_cache_clock):
    """Only the cache's clock moves past the expiry: a cache hit must not vouch for the token any more."""
    token = access(acme, admin)
    client = caller(acme, f"Bearer {token}")
    assert send(client).status_code == 202
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    token_cache_clock.now = expires + 1
    verified = record_verifications(monkeypatch)
    send(client)
    assert verified, "an expired cache entry was trusted without verifying the token again"


def test_user_deactivated_after_a_send_is_refused(acme, make_user, working_session):
    manager = make_user(acme, Role.MANAGER)
    client = caller(acme, f"Bearer {access(acme, manager)}")
    assert send(client).status_code == 202
    with tenant_context(acme):
        User.objects.filter(pk=manager.pk).update(is_active=False)
    response = send(client)
    assert response.status_code == 401 and code(response) == "token_invalid"
    assert counts(acme) == (1, 1)


def test_user_demoted_after_a_send_is_refused(acme, make_user, working_session):
    manager = make_user(acme, Role.MANAGER)
    client = caller(acme, f"Bearer {access(acme, manager)}")
    assert send(client).status_code == 202
    with tenant_context(acme):
        User.objects.filter(pk=manager.pk).update(role=Role.AUDITOR)
    response = send(client)
    assert response.status_code == 403 and code(response) == "permission_denied"
    assert counts(acme) == (1, 1)


def test_cached_token_is_not_valid_on_another_tenant(acme, globex, admin, make_user, working_session):
    token = access(acme, admin)
    assert send(caller(acme, f"Bearer {token}")).status_code == 202
    make_user(globex, Role.TENANT_ADMIN, id=admin.pk)
    assert send(caller(globex, f"Bearer {token}")).status_code == 401


# ------------------------------------------------------------------ dispatch kick quiet window


@pytest.fixture
def kicks(acme, working_session, monkeypatch):
    """Records dispatch enqueues and Redis kick claims; a controllable monotonic clock."""
    state = types.SimpleNamespace(enqueued=[], claims=[], now=1000.0)
    record_dispatches(monkeypatch, state.enqueued.append)
    real_claim = pacing.kick_claim

    def claim(session_id, *args, **kwargs):
        state.claims.append(str(session_id))
        return real_claim(session_id, *args, **kwargs)

    monkeypatch.setattr(pacing, "kick_claim", claim)
    window = core.quiet.QuietWindow(messaging.services.kick.KICK_QUIET_SECONDS, timer=lambda: state.now)
    monkeypatch.setattr(messaging.services.kick, "_kicked", window)
    with tenant_context(acme):
        pacing.kick_release(working_session.pk)
    yield state
    with tenant_context(acme):
        pacing.kick_release(working_session.pk)


def test_first_kick_enqueues_now_and_a_look_again(acme, working_session, kicks):
    with tenant_context(acme):
        messaging.services.kick.dispatch_kick(session_id=working_session.pk)
        schema = acme.schema_name
    args = (schema, str(working_session.pk))
    assert kicks.claims == [str(working_session.pk)]
    assert kicks.enqueued == [
        {"args": args, "retry": False},
        {"args": args, "countdown": messaging.services.kick.KICK_LOOK_AGAIN_SECONDS, "retry": False},
    ]


def test_second_kick_within_the_quiet_window_does_nothing(acme, working_session, kicks):
    with tenant_context(acme):
        messaging.services.kick.dispatch_kick(session_id=working_session.pk)
        kicks.enqueued.clear()
        kicks.claims.clear()
        kicks.now += messaging.services.kick.KICK_QUIET_SECONDS / 2
        messaging.services.kick.dispatch_kick(session_id=working_session.pk)
    assert kicks.enqueued == [] and kicks.claims == []


def test_kick_after_the_quiet_window_kicks_again(acme, working_session, kicks):
    with tenant_context(acme):
        messaging.services.kick.dispatch_kick(session_id=working_session.pk)
        kicks.enqueued.clear()
        kicks.claims.clear()
        kicks.now += messaging.services.kick.KICK_QUIET_SECONDS + 0.01
        messaging.services.kick.dispatch_kick(session_id=working_session.pk)
        schema = acme.schema_name
    # The Redis claim is still held (no dispatch ran), so only the look-again is scheduled.
    assert kicks.claims == [str(working_session.pk)]
    assert kicks.enqueued == [{"args": (schema, str(working_session.pk)),
                               "countdown": messaging.services.kick.KICK_LOOK_AGAIN_SECONDS, "retry": False}]


def test_kick_after_the_window_and_a_released_claim_dispatches_at_once(acme, working_session, kicks):
    with tenant_context(acme):
        messaging.services.kick.dispatch_kick(session_id=working_session.pk)
        pacing.kick_release(working_session.pk)  # what the dispatch task does first
        kicks.enqueued.clear()
        kicks.now += messaging.services.kick.KICK_QUIET_SECONDS + 0.01
        messaging.services.kick.dispatch_kick(session_id=working_session.pk)
    assert [("countdown" in call) for call in kicks.enqueued] == [False, True]


def test_quiet_window_is_per_session(acme, working_session, kicks):
    other = "01890000-0000-7000-8000-000000000001"
    with tenant_context(acme):
        pacing.kick_release(other)
        try:
            messaging.services.kick.dispatch_kick(session_id=working_session.pk)
            kicks.enqueued.clear()
            messaging.services.kick.dispatch_kick(session_id=other)
        finally:
            pacing.kick_release(other)
    assert len(kicks.enqueued) == 2 and all(call["args"][1] == other for call in kicks.enqueued)


def test_broker_failure_does_not_raise_nor_start_the_quiet_window(acme, working_session, kicks, monkeypatch):
    def broken(kwargs):
        raise ConnectionError("broker down")

    record_dispatches(monkeypatch, broken)
    with tenant_context(acme):
        messaging.services.kick.dispatch_kick(session_id=working_session.pk)
        assert not messaging.services.kick._kicked.quiet((acme.schema_name, str(working_session.pk)))


# ------------------------------------------------------------------ failures


def test_unexpected_error_is_a_500_problem(api, acme, working_session, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("boom-secret-detail")

    monkeypatch.setattr(messaging.services.sending, "message_send", explode)
    response = send(api, HTTP_X_REQUEST_ID="failing-req-01")
    assert response.status_code == 500
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["X-Request-ID"] == "failing-req-01"
    body = response.json()
    assert body["code"] == "server_error" and body["status"] == 500
    text = response.content.decode()
    assert "Traceback" not in text and "boom-secret-detail" not in text and "RuntimeError" not in text


def test_database_unavailable_is_a_503(api, acme, working_session, monkeypatch):
    import messaging.services.send_sql

    calls = []

    def unavailable(sql, params, **kwargs):
        calls.append(params)
        raise OperationalError("connection lost")

    monkeypatch.setattr(messaging.services.send_sql.db_statements, "fetch_one_retrying", unavailable)
    response = send(api)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert code(response) == "service_unavailable"
    assert len(calls) == 1
    for header in SECURITY_HEADERS:
        assert response.headers.get(header), header
    assert counts(acme) == (0, 0)
