"""The two hottest endpoints, answered straight from WSGI.

``POST /webhooks/waha`` (WAHA's events, up to four per message sent) and
``POST /messages/send`` carry most of this service's traffic. Django's
middleware stack and DRF's request machinery cost them more CPU than their
own work (bench/RESULTS.md), so ``with_fast_paths`` wraps the Django
application and hands exactly those method-and-path pairs to a *route*
first. Everything else goes to Django unchanged.

A route takes the WSGI environ and returns an ``Answer``, or None to let
Django answer the request as if the fast path did not exist (the send route
does that for anything but a plain, valid, authorised text send, so every
error keeps the exact status, body and headers of the DRF view). A route that
returns None must not have written anything and must leave the body readable
(``read_body`` does).

What the middleware would have done is kept here: the request id (echoed in
``X-Request-ID``, on every log line, and handed on when Django answers),
one log line per request, the security headers of ``SecurityMiddleware`` and
``XFrameOptionsMiddleware`` (taken from them, not copied), Django's request
signals (they recycle stale database connections), and a problem response,
never a traceback, for any error.
"""

from __future__ import annotations

import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIRequest
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils.module_loading import import_string
from prometheus_client import Counter

from config.logging import request_id_var, tenant_var
from config.middleware import SAFE_REQUEST_ID
from config.problems import PROBLEM_CONTENT_TYPE, SERVER_ERROR, ServiceError, problem_body

logger = logging.getLogger("http")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# (method, path) → the route that answers it.
ROUTES = {
    ("POST", "/webhooks/waha"): "webhooks.wsgi.answer",
    ("POST", "/messages/send"): "messaging.wsgi.answer",
}


@dataclass(frozen=True)
class Answer:
    status: int
    document: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    # The route logged the request itself (with more detail than the http.request line).
    logged: bool = False

    @classmethod
    def refusal(cls, error: ServiceError) -> Answer:
        """The service's error, as the DRF views render it (``config.problems.drf_exception_handler``)."""
        return cls(error.status_code, error.problem(), headers=error.response_headers())


@dataclass(frozen=True)
class Response:
    status: str
    headers: list[tuple[str, str]]
    body: bytes


Route = Callable[[dict[str, Any]], Answer | None]

# django-prometheus' request metrics come from middleware, which these requests skip.
FAST_PATH_REQUESTS = Counter(
    "http_fast_path_requests_total",
    "Requests a fast path answered (status) or handed to Django (status 'django').", ["path", "status"])
_routes: dict[tuple[str, str], Route] = {}


def route_for(environ: Mapping[str, Any]) -> Route | None:
    if not _routes:
        _routes.update({key: import_string(path) for key, path in ROUTES.items()})
    return _routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))


def with_fast_paths(django_app: WSGIApp) -> WSGIApp:
    """Wrap the Django WSGI application: the ``ROUTES`` are tried first."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route = route_for(environ)
        response = respond(route, environ) if route is not None else None
        if response is None:
            return django_app(environ, start_response)
        start_response(response.status, response.headers)
        return [response.body]

    return application


def respond(route: Route, environ: dict[str, Any]) -> Response | None:
    """Run ``route`` with Django's request lifecycle; None when Django should answer instead."""
    incoming = environ.get("HTTP_X_REQUEST_ID", "")
    request_id = incoming if SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    id_token, tenant_token = request_id_var.set(request_id), tenant_var.set("-")
    started = time.perf_counter()
    signals.request_started.send(sender=__name__, environ=environ)
    # No "SELECT 1" probe (CONN_HEALTH_CHECKS) before a route's one statement: a dropped connection
    # fails that statement, which is idempotent and retried once on a new one (config.db_statements).
    connections[DEFAULT_DB_ALIAS].health_check_done = True
    connection.set_schema_to_public()  # as the tenant middleware starts: a route picks its tenant itself
    try:
        answer = _answer(route, environ)
        FAST_PATH_REQUESTS.labels(environ["PATH_INFO"], answer.status if answer else "django").inc()
        if answer is None:
            environ["HTTP_X_REQUEST_ID"] = request_id  # Django's log lines keep this request's id
            return None
        response = _render(answer, request_id, environ)
        if not answer.logged:
            logger.info("http.request method=%s path=%s status=%s duration_ms=%.1f", environ["REQUEST_METHOD"],
                        environ["PATH_INFO"], answer.status, (time.perf_counter() - started) * 1000,
                        extra={"tenant": tenant_var.get()})
        return response
    finally:
        signals.request_finished.send(sender=__name__)
        request_id_var.reset(id_token)
        tenant_var.reset(tenant_token)


def _answer(route: Route, environ: dict[str, Any]) -> Answer | None:
    try:
        return route(environ)
    except Exception:
        logger.exception("http.unhandled_exception path=%s", environ.get("PATH_INFO"))
        return Answer(500, problem_body(500, "server_error", **SERVER_ERROR))


# Django's own middleware add the security headers, from the settings, to a stand-in response. They depend
# only on whether the request is secure (HSTS), so each set is worked out once per process.
SECURITY = SecurityMiddleware(lambda request: HttpResponse())
_FRAME_OPTIONS = XFrameOptionsMiddleware(lambda request: HttpResponse())
_security_headers: dict[bool, list[tuple[str, str]]] = {}


def security_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    # Only HSTS needs the request, so only then is one built.
    secure = bool(settings.SECURE_HSTS_SECONDS) and WSGIRequest(environ).is_secure()
    headers = _security_headers.get(secure)
    if headers is None:
        stand_in = HttpResponse()
        before = set(stand_in.headers)
        request = WSGIRequest({**environ, "wsgi.input": io.BytesIO()})
        request.is_secure = lambda: secure  # type: ignore[method-assign]
        SECURITY.process_response(request, stand_in)
        _FRAME_OPTIONS.process_response(request, stand_in)
        headers = _security_headers[secure] = [(name, value) for name, value in stand_in.items()
                                               if name not in before]
    return headers


def _render(answer: Answer, request_id: str, environ: dict[str, Any]) -> Response:
    body = json.dumps(answer.document).encode()
    content_type = PROBLEM_CONTENT_TYPE if answer.status >= 400 else "application/json"
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))), ("X-Request-ID", request_id),
               ("Cache-Control", "no-store"), *answer.headers.items(), *security_headers(environ)]
    return Response(f"{answer.status} {HTTPStatus(answer.status).phrase}", headers, body)


def read_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """The declared body, at most ``limit`` bytes, readable again afterwards; None without a usable length."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    if not 0 <= declared <= limit:
        return None
    body = environ["wsgi.input"].read(declared)
    environ["wsgi.input"] = io.BytesIO(body)  # Django reads it again if it answers the request after all
    return body
