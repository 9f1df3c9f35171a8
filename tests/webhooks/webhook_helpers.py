"""Helpers for the webhook tests: routed sessions, signed envelopes, counts per schema."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass

from django_tenants.utils import tenant_context

from messaging.models import Conversation, Message, PendingAck
from sessions_waha.models import Session
from tenants import waha_pool
from tenants.models import SessionRoute
from webhooks.models import WebhookEvent

_counter = itertools.count(1)


@dataclass
class Routed:
    """A tenant's session with its route and webhook key, as session_create leaves them."""

    tenant: object
    session: Session
    route: SessionRoute

    @property
    def name(self) -> str:
        return self.route.waha_session_name

    @property
    def key(self) -> str:
        return self.route.hmac_key


def routed_session(tenant, name: str = "support", *, phone: str = "") -> Routed:
    """A session and its route without WAHA (the receiver never calls WAHA)."""
    server = waha_pool.waha_server_default()
    with tenant_context(tenant):
        session = Session.objects.create(name=name, waha_name=f"{tenant.slug}_{name}_{secrets.token_hex(4)}",
                                         waha_server=server, phone=phone)
        route = waha_pool.session_route_add(server=server, waha_session_name=session.waha_name, tenant=tenant,
                                            session_id=session.id, hmac_key=secrets.token_hex(32))
    return Routed(tenant=tenant, session=session, route=route)


def event_id() -> str:
    return f"evt_01test{next(_counter):020d}".lower()


def envelope(routed: Routed, event: str, payload, *, id: str | None = None, timestamp: int | None = None,
             me: dict | None = None, metadata: dict | None = None) -> dict:
    body = {"id": id or event_id(), "timestamp": timestamp or int(time.time() * 1000), "event": event,
            "session": routed.name}
    if metadata is None:
        metadata = {"tenant": routed.tenant.slug, "session_id": str(routed.session.id)}
    body["metadata"] = metadata
    body.update({"me": me, "payload": payload, "engine": "NOWEB",
                 "environment": {"version": "2026.7.1", "engine": "NOWEB", "tier": "PLUS", "browser": None,
                                 "platform": "linux/x64", "worker": {"id": None}}})
    return body


def compact(data) -> bytes:
    """What WAHA sends: JSON.stringify, no spaces."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def post(client, body: bytes, *, key: str | None = None, signature: str | None = None,
         content_type: str = "application/json", apply: bool = True, **extra):
    """POST a webhook; an accepted event is then applied, as the worker would (``apply=False``: left stored)."""
    headers = dict(extra)
    if signature is None and key is not None:
        signature = sign(key, body)
    if signature is not None:
        headers["HTTP_X_WEBHOOK_HMAC"] = signature
        headers.setdefault("HTTP_X_WEBHOOK_HMAC_ALGORITHM", "sha512")
    response = client.generic("POST", "/webhooks/waha", body, content_type=content_type, **headers)
    if apply and response.status_code == 200 and response.json().get("outcome") == "accepted":
        events_apply_everywhere()
    return response


def events_apply_everywhere() -> int:
    """What the Celery applier does after an accepted event, in every tenant (these tests run no worker)."""
    from django_tenants.utils import get_public_schema_name

    from core.logging import tenant_var
    from tenants.models import Tenant
    from webhooks.services import applier

    applied = 0
    for tenant in Tenant.objects.exclude(schema_name=get_public_schema_name()):
        token = tenant_var.set(tenant.slug)
        try:
            with tenant_context(tenant):
                applied += applier.pending_events_apply()
        finally:
            tenant_var.reset(token)
    return applied


def deliver(client, routed: Routed, event: str, payload, *, apply: bool = True, **kwargs):
    """Sign and post one event for ``routed`` the way WAHA does (and apply it, unless ``apply=False``)."""
    return post(client, compact(envelope(routed, event, payload, **kwargs)), key=routed.key, apply=apply)


def inbound_payload(*, wa_id: str | None = None, sender: str = "15550002222@c.us", text: str = "Hello!",
                    push_name: str | None = "Ana", group: str | None = None, media: dict | None = None,
                    timestamp: int | None = None, **extra) -> dict:
    wa_id = wa_id or f"3EB0{secrets.token_hex(8).upper()}"
    chat = group or sender
    message_id = f"false_{chat}_{wa_id}" + (f"_{sender}" if group else "")
    payload = {"id": message_id, "timestamp": timestamp or int(time.time()), "from": chat, "fromMe": False,
               "source": "app", "body": text, "to": "15550001111@c.us", "participant": sender if group else None,
               "hasMedia": media is not None, "media": media, "ack": 2, "ackName": "DEVICE", "location": None,
               "vCards": [], "replyTo": None,
               "_data": {"key": {"remoteJid": chat, "fromMe": False, "id": wa_id}, "pushName": push_name}}
    payload.update(extra)
    return payload


# --------------------------------------------------------------------------- the sandbox's real deliveries


def replay(client, delivery: dict):
    """Post a captured delivery again: the same bytes and WAHA's own headers."""
    headers = {name.lower(): value for name, value in delivery["headers"].items()}
    extra = {f"HTTP_{name.upper().replace('-', '_')}": headers[name]
             for name in ("x-webhook-hmac", "x-webhook-hmac-algorithm", "x-webhook-request-id",
                          "x-webhook-timestamp", "user-agent") if name in headers}
    assert "HTTP_X_WEBHOOK_HMAC" in extra, "the sandbox must sign its webhooks"
    response = client.generic("POST", delivery["path"], delivery["body"], content_type=headers["content-type"], **extra)
    if response.status_code == 200 and response.json()["outcome"] == "accepted":
        events_apply_everywhere()  # what the Celery applier does next (no worker runs here)
    return response


def inject(sandbox, capture, session: Session, **body) -> tuple[dict, dict]:
    """A message arriving at the sandbox's phone: returns the sandbox's answer and the captured ``message`` webhook."""
    answer = sandbox.control("POST", f"/sandbox/sessions/{session.waha_name}/messages", json=body).json()
    return answer, capture.find(answer["events"][0])


def stored(tenant, waha_id: str) -> Message:
    """The inbound message of this WAHA id, as the fetch service wants it (session and server loaded)."""
    with tenant_context(tenant):
        return Message.objects.select_related("session__waha_server").get(waha_message_id=waha_id)


def counts(tenant) -> dict[str, int]:
    with tenant_context(tenant):
        return {"events": WebhookEvent.objects.count(), "messages": Message.objects.count(),
                "conversations": Conversation.objects.count(), "pending_acks": PendingAck.objects.count()}


class WsgiResponse:
    """What the tests read of a response: status, headers, body."""

    def __init__(self, status: str, headers: list[tuple[str, str]], content: bytes) -> None:
        self.status_code = int(status.split(" ", 1)[0])
        self.headers = {name.lower(): value for name, value in headers}
        self.content = content

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def __contains__(self, name: str) -> bool:
        return name.lower() in self.headers

    def json(self):
        return json.loads(self.content)


class WsgiClient:
    """Requests through ``config.wsgi.application``, as gunicorn makes them.

    Every request reaches Django's handler there, as any other. Like Django's test client, it keeps the
    request signals from closing the test's database connection.
    """

    def generic(self, method: str, path: str, data: bytes = b"", content_type: str = "application/json", **extra):
        import io

        from django.core import signals
        from django.db import close_old_connections

        from config.wsgi import application

        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "testserver",
                   "SERVER_PORT": "80", "HTTP_HOST": "testserver", "SERVER_PROTOCOL": "HTTP/1.1",
                   "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
                   "wsgi.errors": io.StringIO(), "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(data)),
                   **extra}
        started: dict = {}

        def start_response(status, headers, exc_info=None):
            started.update(status=status, headers=headers)

        senders: list[str] = []

        def started_by(sender, **kwargs):
            senders.append(sender if isinstance(sender, str) else "django")

        signals.request_started.disconnect(close_old_connections)
        signals.request_finished.disconnect(close_old_connections)
        signals.request_started.connect(started_by)
        try:
            result = application(environ, start_response)
            content = b"".join(result)
            if hasattr(result, "close"):
                result.close()
        finally:
            signals.request_started.disconnect(started_by)
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)
        response = WsgiResponse(started["status"], started["headers"], content)
        # Who started the request: "django" (its handler), once per request.
        response.started_by = senders
        return response

    def get(self, path: str, **extra):
        return self.generic("GET", path, b"", **extra)


def stored_outcome(tenant, response) -> str:
    """What applying the event of this (200) response did, as stored on the event."""
    with tenant_context(tenant):
        return WebhookEvent.objects.get(event_id=response.json()["event_id"]).outcome
