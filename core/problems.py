"""RFC 9457 problem details: the one place where errors become responses.

Services raise ``ServiceError`` subclasses; DRF raises its own exceptions;
Django raises 404s and body-size errors. Each is mapped here to
``application/problem+json`` with a stable snake_case ``code`` that clients
can branch on. Views never build error responses by hand.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback
from rest_framework_simplejwt import exceptions as jwt_exceptions

logger = logging.getLogger("config.problems")

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://docs.waha-gateway.dev/problems/"


class ServiceError(Exception):
    """A business-rule failure that maps to one HTTP status and code."""

    status_code = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors

    def problem(self) -> dict[str, Any]:
        """The problem document of this error."""
        return problem_body(self.status_code, self.code, title=self.title, detail=self.detail, errors=self.errors)

    def response_headers(self) -> dict[str, str]:
        return dict(getattr(self, "headers", None) or {})


class InvalidInput(ServiceError):
    code = "validation_error"
    title = "Invalid input"


class Conflict(ServiceError):
    status_code = 409
    code = "conflict"
    title = "Conflict"


class NotFound(ServiceError):
    status_code = 404
    code = "not_found"
    title = "Not found"


class ServiceUnavailable(ServiceError):
    status_code = 503
    code = "service_unavailable"
    title = "Service unavailable"


def problem_body(status: int, code: str, *, title: str | None = None, detail: str | None = None,
                 errors: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the problem document for ``status`` and ``code``."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail or title or HTTPStatus(status).phrase,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    return body


def problem_response(status: int, code: str, *, title: str | None = None, detail: str | None = None,
                     errors: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> JsonResponse:
    """A plain Django problem response, for code outside DRF views."""
    response = JsonResponse(
        problem_body(status, code, title=title, detail=detail, errors=errors),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(request: HttpRequest, status: int, code: str, *, title: str | None = None,
                   detail: str | None = None, headers: dict[str, str] | None = None) -> HttpResponse:
    """Problem JSON for the API; an HTML page for the admin console (a browser reads it)."""
    from core.console.errors import console_error_page, is_console_request

    if is_console_request(request):
        return console_error_page(request, status, code, title=title, detail=detail, headers=headers)
    return problem_response(status, code, title=title, detail=detail, headers=headers)


# DRF's own codes, renamed to the contract's vocabulary.
_DRF_CODES = {
    "invalid": "validation_error",
    "parse_error": "malformed_json",
    "authentication_failed": "authentication_failed",
    "not_authenticated": "not_authenticated",
    "permission_denied": "permission_denied",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "not_acceptable": "not_acceptable",
    "unsupported_media_type": "unsupported_media_type",
    "throttled": "rate_limited",
    # simplejwt: every flavour of a bad token is one code for clients.
    "token_not_valid": "token_invalid",
    "user_not_found": "token_invalid",
    "user_inactive": "token_invalid",
    "bad_authorization_header": "token_invalid",
    "no_active_account": "invalid_credentials",
}


def _flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Field → messages; a nested object's fields are named with dots (``media.url``, ``recipients.2.to``)."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                flat.update(_flatten_errors(value, name))
            elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        flat.update(_flatten_errors(item, f"{name}.{index}"))
                    elif item:
                        flat[f"{name}.{index}"] = [str(part) for part in (item if isinstance(item, list) else [item])]
            else:
                flat[name] = [str(item) for item in (value if isinstance(value, list) else [value])]
        return flat
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {"non_field_errors": [str(detail)]}


def _drf_problem(exc: drf_exceptions.APIException) -> tuple[dict[str, Any], dict[str, str]]:
    headers: dict[str, str] = {}
    if isinstance(exc, drf_exceptions.ValidationError):
        body = problem_body(400, "validation_error", title="Invalid input",
                            detail="The request body or parameters are invalid.", errors=_flatten_errors(exc.detail))
        return body, headers
    codes = exc.get_codes()
    code_entry = codes.get("code") if isinstance(codes, dict) else None
    raw_code = codes if isinstance(codes, str) else code_entry if isinstance(code_entry, str) else exc.default_code
    if isinstance(exc, jwt_exceptions.InvalidToken):
        raw_code = "token_not_valid"
    code = _DRF_CODES.get(raw_code, raw_code)
    detail: object = exc.detail
    if isinstance(detail, dict):
        detail = detail.get("detail", exc.default_detail)
    body = problem_body(exc.status_code, code, detail=str(detail))
    wait = getattr(exc, "wait", None) if isinstance(exc, drf_exceptions.Throttled) else None  # not in DRF's stubs
    if wait is not None:
        headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    if exc.status_code == 401:
        # A refused API key names its own scheme; every other 401 asks for a user's token.
        scheme = "Api-Key" if code == "api_key_invalid" else "Bearer"
        headers["WWW-Authenticate"] = f'{scheme} realm="api"'
    return body, headers


def drf_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every API error as problem JSON."""
    if isinstance(exc, ServiceError):
        body, headers = exc.problem(), exc.response_headers()
    elif isinstance(exc, Http404):
        body, headers = problem_body(404, "not_found", detail="Not found."), {}
    elif isinstance(exc, PermissionDenied):
        body, headers = problem_body(403, "permission_denied"), {}
    elif isinstance(exc, RequestDataTooBig):
        body, headers = _too_large_body(), {}
    elif isinstance(exc, DjangoValidationError):
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        body = problem_body(400, "validation_error", title="Invalid input", errors=errors)
        headers = {}
    elif isinstance(exc, drf_exceptions.APIException):
        body, headers = _drf_problem(exc)
    else:
        return None  # unhandled: ProblemExceptionMiddleware logs it and answers 500
    set_rollback()
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def _too_large_body() -> dict[str, Any]:
    return problem_body(413, "payload_too_large", title="Request body too large",
                        detail="The request body exceeds the size this endpoint accepts.")


# ---------------------------------------------------------------- Django views


@csrf_exempt  # answers every method alike: a CSRF check would turn a POST to an unknown path into a 403
def not_found_view(request: HttpRequest, exception: Exception | None = None, **kwargs: Any) -> HttpResponse:
    """Unknown URL, on any host."""
    return error_response(request, 404, "not_found", detail="No such endpoint or object.")


@csrf_exempt
def tenant_not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-tenants' DEFAULT_NOT_FOUND_TENANT_VIEW and the X-Tenant miss."""
    return error_response(request, 404, "tenant_not_found", title="Unknown tenant",
                          detail="No tenant matches this host or X-Tenant header.")


def bad_request_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 400, "bad_request")


def permission_denied_view(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 403, "permission_denied")


SERVER_ERROR_TITLE = "Internal server error"
SERVER_ERROR_DETAIL = "An unexpected error occurred. Quote the X-Request-ID when reporting it."


def server_error_view(request: HttpRequest) -> HttpResponse:
    return error_response(request, 500, "server_error", title=SERVER_ERROR_TITLE, detail=SERVER_ERROR_DETAIL)


def csrf_failure_view(request: HttpRequest, reason: str = "") -> HttpResponse:
    return error_response(request, 403, "csrf_failed", title="CSRF verification failed", detail=reason or None)
