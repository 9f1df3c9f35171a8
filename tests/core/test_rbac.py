"""Every role against every endpoint and every method, from one table.

``MATRIX`` mirrors the roles table of the API contract (docs/API_GUIDE.md). Later
features add their endpoints to the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from accounts.roles import Role
from tests.support import TEST_PASSWORD, TEST_TENANTS

pytestmark = pytest.mark.security

ADMIN, MANAGER, AGENT, AUDITOR = Role.TENANT_ADMIN, Role.MANAGER, Role.AGENT, Role.AUDITOR
EVERY_ROLE = frozenset(Role)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Any well-formed id: routing, authentication and method checks all come before the lookup.
NO_SESSION = "00000000-0000-4000-8000-000000000000"
MESSAGING_PATHS = ("/messages", "/conversations")


@dataclass(frozen=True)
class Rule:
    method: str
    path: str  # "{target}" is replaced by a fresh AGENT user of the tenant
    allowed: frozenset
    ok_status: int
    body: Callable[[Any], dict] | None = None
    public: bool = False  # no token needed
    tags: tuple = field(default=())


def _login_body(ctx):
    return {"email": ctx.actor.email, "password": TEST_PASSWORD}


def _refresh_body(ctx):
    return {"refresh": ctx.refresh}


MATRIX: list[Rule] = [
    Rule("POST", "/auth/login", EVERY_ROLE, 200, _login_body, public=True),
    Rule("POST", "/auth/refresh", EVERY_ROLE, 200, _refresh_body, public=True),
    Rule("POST", "/auth/logout", EVERY_ROLE, 204, _refresh_body, public=True),
    Rule("GET", "/auth/profile", EVERY_ROLE, 200),
    Rule("GET", "/users", frozenset({ADMIN, MANAGER, AUDITOR}), 200),
    Rule("POST", "/users", frozenset({ADMIN}), 201,
         lambda ctx: {"email": "rbac.new@acme.test", "password": "Sturdy-Passphrase-42", "role": "AGENT"}),
    Rule("GET", "/users/{target}", frozenset({ADMIN, MANAGER, AUDITOR}), 200),
    Rule("PUT", "/users/{target}", frozenset({ADMIN}), 200, lambda ctx: {"first_name": "Put"}),
    Rule("PATCH", "/users/{target}", frozenset({ADMIN}), 200, lambda ctx: {"last_name": "Patch"}),
    Rule("DELETE", "/users/{target}", frozenset({ADMIN}), 204),
    Rule("GET", "/waha/sessions", EVERY_ROLE, 200),
    Rule("POST", "/waha/sessions", frozenset({ADMIN}), 201, lambda ctx: {"name": "rbac-new"}),
    Rule("GET", "/waha/sessions/{session}", EVERY_ROLE, 200),
    Rule("DELETE", "/waha/sessions/{session}", frozenset({ADMIN}), 204),
    Rule("GET", "/waha/sessions/{session}/qr", frozenset({ADMIN}), 200),
    Rule("POST", "/waha/sessions/{session}/stop", frozenset({ADMIN}), 200),
    Rule("POST", "/messages/send", frozenset({ADMIN, MANAGER, AGENT}), 202,
         lambda ctx: {"session": "rbac", "to": "+4915100000077", "text": "hi"}),
    Rule("POST", "/messages/bulk", frozenset({ADMIN, MANAGER}), 202,
         lambda ctx: {"session": "rbac", "text": "hi", "recipients": [{"to": "+4915100000078"}]}),
    Rule("GET", "/messages/batches/{batch}", frozenset({ADMIN, MANAGER, AUDITOR}), 200),
    Rule("GET", "/messages", EVERY_ROLE, 200),
    Rule("GET", "/messages/{message}", EVERY_ROLE, 200),
    Rule("GET", "/messages/stats", frozenset({ADMIN, MANAGER, AUDITOR}), 200),
    Rule("POST", "/messages/{message}/retry", frozenset({ADMIN, MANAGER, AGENT}), 202),
    # Every role may read a message's media (an agent: of their chats); this message has none: 404, not 403.
    Rule("GET", "/messages/{message}/media", EVERY_ROLE, 404),
    Rule("GET", "/conversations", EVERY_ROLE, 200),
    Rule("GET", "/conversations/{conversation}", EVERY_ROLE, 200),
    Rule("PATCH", "/conversations/{conversation}", frozenset({ADMIN, MANAGER}), 200,
         lambda ctx: {"assigned_to": None}),
    Rule("GET", "/api-keys", frozenset({ADMIN, AUDITOR}), 200),
    Rule("POST", "/api-keys", frozenset({ADMIN}), 201, lambda ctx: {"name": "rbac", "role": "AUDITOR"}),
    Rule("GET", "/api-keys/{api_key}", frozenset({ADMIN, AUDITOR}), 200),
    Rule("DELETE", "/api-keys/{api_key}", frozenset({ADMIN}), 204),
]
# An API key acts with its role, except on these: /auth/* is for users (401), and users and API keys are
# managed by users only (403), whatever the key's role.
KEY_ROLES = (MANAGER, AUDITOR)
USERS_ONLY_401 = ("/auth/",)
USERS_ONLY_403 = ("/users", "/api-keys")

PATHS = sorted({rule.path for rule in MATRIX})
UNLISTED = [(method, path) for path in PATHS for method in METHODS
            if not any(r.path == path and r.method == method for r in MATRIX)]


@dataclass
class Context:
    actor: Any
    target: Any
    refresh: str
    session: Any = None
    message: Any = None
    api_key: Any = None

    def path(self, template: str) -> str:
        message = self.message
        return template.format(
            target=self.target.pk, session=self.session.pk if self.session else NO_SESSION,
            api_key=self.api_key.pk if self.api_key else NO_SESSION,
            message=message.pk if message else NO_SESSION,
            conversation=message.conversation_id if message else NO_SESSION,
            batch=message.batch_id if message else NO_SESSION,
        )


def _session_waiting_for_qr(request, acme):
    """A real session in the sandbox, in SCAN_QR_CODE (needs the sandbox fixture)."""
    from django_tenants.utils import tenant_context

    from sessions_waha.services import session_create, session_refresh
    from waha_sandbox.testing import wait_until

    sandbox = request.getfixturevalue("sandbox")
    with tenant_context(acme):
        session = session_create(name="rbac")
        wait_until(lambda: (sandbox.session(session.waha_name) or {}).get("status") == "SCAN_QR_CODE", timeout=5)
        return session_refresh(session=session)


def _failed_message_of(request, acme, actor):
    """A WORKING session 'rbac' and a failed message in a batch, in a chat the actor may see."""
    from django_tenants.utils import tenant_context

    from messaging.models import Batch, Conversation, Message
    from sessions_waha.services import session_create, session_refresh

    sandbox = request.getfixturevalue("sandbox")
    with tenant_context(acme):
        session = session_create(name="rbac")
        sandbox.pair(session.waha_name)
        session = session_refresh(session=session)
        conversation = Conversation.objects.create(session=session, chat_id="4915100000070@c.us",
                                                   assigned_to=actor if actor.role == AGENT else None)
        batch = Batch.objects.create(session=session, total=1)
        return Message.objects.create(session=session, conversation=conversation, batch=batch, direction="outbound",
                                      chat_id=conversation.chat_id, text="x", status="failed")


@pytest.fixture
def context_for(request, acme, make_user):
    from tests.support import api_key_for, tokens_for

    def _ctx(role, template=""):
        actor = make_user(acme, role)
        session = _session_waiting_for_qr(request, acme) if "{session}" in template else None
        message = _failed_message_of(request, acme, actor) if template.startswith(MESSAGING_PATHS) else None
        api_key = api_key_for(acme, make_user(acme, ADMIN))[0] if "{api_key}" in template else None
        return Context(actor=actor, target=make_user(acme, AGENT), refresh=str(tokens_for(acme, actor)),
                       session=session, message=message, api_key=api_key)

    return _ctx


def _call(client, rule_or_method, path, body=None):
    return getattr(client, rule_or_method.lower())(path, body or {}, format="json")


@pytest.mark.parametrize("role", sorted(EVERY_ROLE))
@pytest.mark.parametrize("rule", MATRIX, ids=lambda r: f"{r.method} {r.path}")
def test_role_matrix(rule, role, acme, client_for, context_for, request):
    if rule.path.startswith(("/waha/", *MESSAGING_PATHS)):
        request.getfixturevalue("sandbox")
    ctx = context_for(role, rule.path)
    path = ctx.path(rule.path)
    client = client_for(acme) if rule.public else client_for(acme, ctx.actor)
    response = _call(client, rule.method, path, rule.body(ctx) if rule.body else None)
    expected = rule.ok_status if role in rule.allowed else 403
    assert response.status_code == expected, response.content
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize("role", KEY_ROLES)
@pytest.mark.parametrize("rule", MATRIX, ids=lambda r: f"{r.method} {r.path}")
def test_api_key_matrix(rule, role, acme, make_user, context_for, request):
    """The same table for a backend's API key of each role it may have."""
    from tests.support import TenantClient, api_key_for

    if rule.path.startswith(("/waha/", *MESSAGING_PATHS)):
        request.getfixturevalue("sandbox")
    ctx = context_for(role, rule.path)
    _, key = api_key_for(acme, make_user(acme, ADMIN), role=role)
    client = TenantClient(TEST_TENANTS["acme"]).api_key(key)
    response = _call(client, rule.method, ctx.path(rule.path), rule.body(ctx) if rule.body else None)
    if rule.path.startswith(USERS_ONLY_401):
        expected, expected_code = 401, "api_key_not_accepted"
    elif rule.path.startswith(USERS_ONLY_403) or role not in rule.allowed:
        expected, expected_code = 403, "permission_denied"
    else:
        expected, expected_code = rule.ok_status, None
    assert response.status_code == expected, response.content
    if expected_code:
        assert response.json()["code"] == expected_code


@pytest.mark.parametrize("rule", [r for r in MATRIX if not r.public], ids=lambda r: f"{r.method} {r.path}")
def test_every_protected_endpoint_needs_a_token(rule, acme, client_for, context_for):
    path = context_for(AGENT).path(rule.path)
    response = _call(client_for(acme), rule.method, path)
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("role", sorted(EVERY_ROLE))
@pytest.mark.parametrize("method, path", UNLISTED, ids=lambda v: str(v))
def test_unlisted_methods_are_405_for_everyone(method, path, role, acme, client_for, context_for):
    ctx = context_for(role)
    response = _call(client_for(acme, ctx.actor), method, ctx.path(path))
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_auditor_never_changes_anything(acme, client_for, context_for):
    """Every unsafe method of the table is 403 for an auditor (except the auth endpoints)."""
    unsafe = [r for r in MATRIX if r.method != "GET" and not r.path.startswith(("/auth/", "/waha/", *MESSAGING_PATHS))]
    ctx = context_for(AUDITOR)
    client = client_for(acme, ctx.actor)
    for rule in unsafe:
        body = rule.body(ctx) if rule.body else None
        response = _call(client, rule.method, ctx.path(rule.path), body)
        assert response.status_code == 403, rule
