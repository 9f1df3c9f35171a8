"""Error pages of the admin console: HTML for a browser, where the API answers problem JSON.

``core.problems`` and ``ProblemExceptionMiddleware`` ask ``is_console_request`` before
answering; a request under ``/admin/`` gets ``console_error_page`` (the console's look,
its navigation when the user may use the console, and the request id to quote).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.html import format_html

logger = logging.getLogger("core.console.errors")

CONSOLE_PREFIX = "/admin"

# What an operator reads for each problem code (the API's details are written for developers).
CONSOLE_TEXT = {
    "not_found": ("Page not found", "There is no such page or object in this console."),
    "tenant_not_found": ("Unknown tenant", "No tenant uses this address. Check the host name in the address bar."),
    "permission_denied": ("Not allowed", "Your role does not allow this page or action."),
    "csrf_failed": (
        "Form expired",
        "The form could not be verified (its security token is missing or old). "
        "Go back, reload the page and submit it again.",
    ),
    "bad_request": ("Bad request", "The browser sent a request this console cannot read."),
    "payload_too_large": ("Request too large", "What was sent is larger than the console accepts."),
    "server_error": (
        "Something went wrong",
        "An unexpected error occurred. Quote the request id below when reporting it.",
    ),
}


def is_console_request(request: HttpRequest) -> bool:
    path = request.path_info
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def _site_context(request: HttpRequest, status: int) -> dict:
    """The console's navigation when it is safe to build: a 5xx may come from a broken database."""
    plain = {
        "site_header": "WhatsApp Gateway console",
        "site_title": "WhatsApp Gateway",
        "site_url": None,
        "has_permission": False,
        "is_popup": False,
        "is_nav_sidebar_enabled": False,
    }
    if status >= 500 or not hasattr(request, "user"):
        return plain
    from django.contrib import admin

    return {**admin.site.each_context(request), "is_nav_sidebar_enabled": False}


def console_error_page(
    request: HttpRequest,
    status: int,
    code: str,
    *,
    title: str | None = None,
    detail: str | None = None,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    """An HTML error page in the console's layout (a bare page when even that fails).

    Codes of ``CONSOLE_TEXT`` get its wording; others (``account_locked``) keep the caller's.
    """
    if code in CONSOLE_TEXT:
        title, detail = CONSOLE_TEXT[code]
    title, detail = title or f"Error {status}", detail or ""
    context = {"title": title, "detail": detail, "status": status, "request_id": getattr(request, "request_id", "")}
    try:
        html = render_to_string(
            "admin/console_error.html", {**_site_context(request, status), **context}, request=request
        )
    except Exception:  # noqa: BLE001 - the page of last resort must not fail in turn
        logger.warning("console.error_page_fallback status=%s", status, exc_info=True)
        html = format_html(
            "<!doctype html><html lang='en'><head><title>{}</title></head><body><h1>{}</h1>"
            "<p>{}</p><p><a href='/admin/'>Back to the console</a></p></body></html>",
            title,
            title,
            detail,
        )
    response = HttpResponse(html, status=status, content_type="text/html; charset=utf-8")
    for name, value in (headers or {}).items():
        response[name] = value
    return response
