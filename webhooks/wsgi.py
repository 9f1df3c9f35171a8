"""``POST /webhooks/waha`` straight from WSGI to the receiver service.

WAHA's events are most of this service's traffic (a message sent brings up to
three acks), and the receiver needs none of what Django's middleware stack
does for people: sessions, CSRF, authentication, CORS, axes, tenant routing
by host. Going through it cost more CPU than verifying, storing and applying
the event (bench/RESULTS.md, "Webhook ingest"). ``webhook_fast_path`` wraps
the Django application and answers exactly that one method and path itself;
everything else, including ``GET /webhooks/waha`` (405) and the OpenAPI view,
goes to Django unchanged.

The contract is the same as the DRF view's (``webhooks.api``), because both
call ``webhooks.services.webhook_receive`` and render its errors with
``config.problems``; the tests run the same cases through both. What the
middleware would have added is kept here: the request id (echoed in
``X-Request-ID`` and on every log line), a log line for every request,
``nosniff``, Django's request signals (they recycle stale database
connections), and a problem response, never a traceback, for any error.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core import signals
from django.db import DEFAULT_DB_ALIAS, connections

from config.logging import request_id_var, tenant_var
from config.middleware import SAFE_REQUEST_ID
from config.problems import PROBLEM_CONTENT_TYPE, ServiceError, problem_body

logger = logging.getLogger("http")

WEBHOOK_PATH = "/webhooks/waha"
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def webhook_fast_path(django_app: WSGIApp) -> WSGIApp:
    """Wrap the Django WSGI application: ``POST /webhooks/waha`` is answered by ``receive``."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "POST" and environ.get("PATH_INFO") == WEBHOOK_PATH:
            return receive(environ, start_response)
        return django_app(environ, start_response)

    return application


def receive(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    """One webhook delivery, with Django's request lifecycle but not its middleware."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    request_id = incoming if SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    id_token, tenant_token = request_id_var.set(request_id), tenant_var.set("-")
    started = time.perf_counter()
    signals.request_started.send(sender=__name__, environ=environ)
    # No "SELECT 1" probe (CONN_HEALTH_CHECKS) before the one insert: a dropped connection fails
    # that idempotent insert, which is retried once on a new one (webhooks.services._insert).
    connections[DEFAULT_DB_ALIAS].health_check_done = True
    try:
        status, payload, headers = _answer(environ)
        body = json.dumps(payload).encode()
        content_type = "application/json" if status == 200 else PROBLEM_CONTENT_TYPE
        start_response(f"{status} {HTTPStatus(status).phrase}", [
            ("Content-Type", content_type), ("Content-Length", str(len(body))), ("X-Request-ID", request_id),
            ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store"), *headers.items()])
        if status != 200:  # a 200 is logged by the receiver itself (webhook.received, with its duration)
            logger.info("http.request method=POST path=%s status=%s duration_ms=%.1f", WEBHOOK_PATH, status,
                        (time.perf_counter() - started) * 1000, extra={"tenant": tenant_var.get()})
        return [body]
    finally:
        signals.request_finished.send(sender=__name__)
        request_id_var.reset(id_token)
        tenant_var.reset(tenant_token)


def _answer(environ: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, JSON document, extra headers) for one delivery; never raises."""
    from webhooks import services

    try:
        services.body_size_check(declared=environ.get("CONTENT_LENGTH"))
        body = _read_body(environ)
        services.body_size_check(declared=None, body_length=len(body))
        receipt = services.webhook_receive(body=body, signature=environ.get("HTTP_X_WEBHOOK_HMAC"),
                                           algorithm=environ.get("HTTP_X_WEBHOOK_HMAC_ALGORITHM"))
    except ServiceError as exc:
        return exc.status_code, problem_body(exc.status_code, exc.code, title=exc.title, detail=exc.detail,
                                             errors=exc.errors), dict(getattr(exc, "headers", None) or {})
    except Exception:
        logger.exception("http.unhandled_exception path=%s", WEBHOOK_PATH)
        return 500, problem_body(500, "server_error", title="Internal server error",
                                 detail="An unexpected error occurred. Quote the X-Request-ID when reporting it."), {}
    return 200, {"status": "ok", "event_id": receipt.event_id, "outcome": receipt.outcome}, {}


def _read_body(environ: dict[str, Any]) -> bytes:
    """The body, read no further than one byte past the limit (chunked bodies have no Content-Length)."""
    stream = environ["wsgi.input"]
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = environ.get("CONTENT_LENGTH")
    if declared:
        return stream.read(int(declared))
    return stream.read(limit + 1)
