"""``POST /messages/send`` from WSGI, for the plain case (see ``config.fast_paths``).

Through Django and DRF a send cost ~10 ms of CPU, most of it middleware,
DRF's request and serializer machinery, the ORM's user lookup and eight
ORM statements (bench/RESULTS.md, "Accepted sends"). This route answers the
case that is nearly all of the traffic: a text message, a Bearer token of
this tenant's, a sender whose role may send, a WORKING session, and no
``Idempotency-Key``. It runs the same checks with the same code, where that
code is cheap (tenant routing, simplejwt's token class, the send service and
its one statement, the message serializer), and answers 202.

Anything else is answered by Django, as if this route did not exist: a
browser's CORS request, a plain-HTTP request to be redirected, another body
shape, a missing or bad token, a refused send (the statement then inserted
nothing). Errors therefore keep the DRF view's exact status, body and
headers, and its order of checks (authentication, role, then validation).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.db import connection
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from accounts.tokens import access_token_user_id
from config.fast_paths import SECURITY, Answer, read_body
from config.logging import tenant_var
from config.problems import ServiceError, ServiceUnavailable
from messaging import services
from messaging.models import MessageType
from messaging.serializers import TEXT_MAX, MessageSerializer
from tenants.middleware import request_tenant
from tenants.models import Tenant

# A text send is at most 4,096 characters: a larger body is not the plain case.
MAX_BODY_BYTES = 64 * 1024
# The plain case's fields and their limits, as SendSerializer has them (after stripping whitespace).
TEXT_SEND_FIELDS = {"session": 64, "to": 100, "text": TEXT_MAX}
_serializer = MessageSerializer()


def answer(environ: dict[str, Any]) -> Answer | None:
    """202 with the queued message, or None: Django answers."""
    if environ.get("HTTP_ORIGIN") or environ.get("HTTP_IDEMPOTENCY_KEY") is not None:
        return None  # CORS headers, idempotent replays: the full view's business
    request = WSGIRequest(environ)
    if SECURITY.process_request(request) is not None or not _json_utf8(request):
        return None  # an HTTPS redirect, or a body the JSON parser would refuse or decode otherwise
    body = read_body(environ, min(MAX_BODY_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or MAX_BODY_BYTES))
    fields = _text_send(body) if body is not None else None
    tenant = request_tenant(request)
    if fields is None or not isinstance(tenant, Tenant):
        return None
    connection.set_tenant(tenant)
    tenant_var.set(tenant.slug)
    sender_id = _token_user_id(environ.get(jwt_settings.AUTH_HEADER_NAME, ""))
    if sender_id is None:
        return None
    session, to, text = fields
    try:
        message, _ = services.message_send(sender_id=sender_id, session_reference=session, to=to,
                                           content=services.MessageContent(type=MessageType.TEXT, text=text))
    except ServiceUnavailable as exc:
        # Not handed to Django: the statement may have been stored before the connection broke.
        return Answer.refusal(exc)
    except ServiceError:
        return None  # refused: nothing was written, and the view says why
    return Answer(202, _serializer.to_representation(message))


def _json_utf8(request: WSGIRequest) -> bool:
    charset = request.content_params.get("charset", "utf-8").lower()
    return request.content_type == "application/json" and charset in {"utf-8", "utf8"}


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: DRF's parser refuses them too


def _text_send(body: bytes) -> tuple[str, str, str] | None:
    """(session, to, text) of a body SendSerializer accepts as a text message; None for any other body."""
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not data.keys() <= {*TEXT_SEND_FIELDS, "type"}:
        return None
    if data.get("type", MessageType.TEXT) != MessageType.TEXT:
        return None
    values = []
    for name, max_length in TEXT_SEND_FIELDS.items():
        value = data.get(name)
        if not isinstance(value, str):
            return None
        value = value.strip()
        if not 0 < len(value) <= max_length or "\x00" in value or not _encodable(value):
            return None
        values.append(value)
    return values[0], values[1], values[2]


def _encodable(value: str) -> bool:
    """No lone surrogates (a JSON "\\ud800" escape): DRF refuses them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _token_user_id(header: str) -> uuid.UUID | None:
    """The user id of a valid access token of this tenant (simplejwt checks signature, expiry, type, tenant)."""
    try:
        # Split as simplejwt does: bytes, on ASCII whitespace only (str.split would also split on NBSP).
        parts = header.encode("iso-8859-1").split()
    except UnicodeEncodeError:
        return None
    if len(parts) != 2 or parts[0].decode() not in jwt_settings.AUTH_HEADER_TYPES:
        return None
    user_id = access_token_user_id(parts[1].decode("iso-8859-1"))
    try:
        return uuid.UUID(user_id) if user_id is not None else None
    except ValueError:
        return None
