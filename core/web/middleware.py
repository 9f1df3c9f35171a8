"""Cross-cutting HTTP middleware: request ids, body limits, last-resort errors."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse

from core.logging import request_id_var, tenant_var
from core.problems import error_response, server_error_view

logger = logging.getLogger("http")

# A caller's id is echoed back only when it cannot smuggle anything into logs.
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")


class IdentifiedRequest(HttpRequest):
    """A request as this middleware passes it on (for type checking: Django builds plain HttpRequests)."""

    request_id: str


class RequestIdMiddleware:
    """Tag each request with an id (``X-Request-ID``), log one line per request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: IdentifiedRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        id_token = request_id_var.set(request_id)
        tenant_token = tenant_var.set("-")
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.info(
                "http.request method=%s path=%s status=%s duration_ms=%.1f",
                request.method, request.path, response.status_code, (time.perf_counter() - started) * 1000,
                extra={"tenant": tenant_var.get()},
            )
            return response
        finally:
            request_id_var.reset(id_token)
            tenant_var.reset(tenant_token)


class ProblemExceptionMiddleware:
    """Answer any exception that escaped a view with a problem, never a traceback."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig):
            return error_response(request, 413, "payload_too_large", title="Request body too large")
        if isinstance(exception, Http404):
            return error_response(request, 404, "not_found")
        if isinstance(exception, PermissionDenied):
            return error_response(request, 403, "permission_denied")
        if isinstance(exception, (SuspiciousOperation, BadRequest)):
            logger.warning("http.bad_request path=%s error=%s", request.path, type(exception).__name__)
            return error_response(request, 400, "bad_request")
        logger.exception("http.unhandled_exception path=%s error=%s", request.path, type(exception).__name__)
        return server_error_view(request)


# Endpoints whose body may carry a media file for sending (messaging/services/uploads.py): POST /media takes the file as
# multipart, and a send or bulk send may carry it inline as base64. Every other path keeps MAX_REQUEST_BODY_BYTES.
MULTIPART_FILE_PATHS = frozenset({"/media"})
BASE64_FILE_PATHS = frozenset({"/messages/send", "/messages/bulk"})
# Room for a multipart body's boundaries and part headers around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


def base64_length(size: int) -> int:
    """How many characters ``size`` bytes take as padded base64."""
    return 4 * -(-size // 3)


def request_body_limit(path: str) -> int:
    """The largest body (bytes) this path accepts: the general limit, or a media file's worth for the media paths."""
    if path in MULTIPART_FILE_PATHS:
        return settings.MEDIA_MAX_BYTES + MULTIPART_OVERHEAD_BYTES
    if path in BASE64_FILE_PATHS:
        return settings.MAX_REQUEST_BODY_BYTES + base64_length(settings.MEDIA_MAX_BYTES)
    return settings.MAX_REQUEST_BODY_BYTES


class BodySizeLimitMiddleware:
    """Refuse a declared body over the path's limit before anything reads it (413)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = request_body_limit(request.path_info)
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(request, 400, "bad_request", detail="Content-Length is not a number.")
        if limit is not None and declared > limit:
            return error_response(
                request, 413, "payload_too_large", title="Request body too large",
                detail=f"The request body is {declared} bytes; the limit is {limit} bytes.",
            )
        return self.get_response(request)
