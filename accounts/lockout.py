"""django-axes hooks: how a login attempt is keyed, and the lockout answer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from core.problems import error_response


def lockout_username(request: HttpRequest, credentials: dict | None) -> str:
    """Lock (email, IP) pairs case-insensitively: ``A@x.test`` is ``a@x.test``."""
    value = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(value).strip().lower()


def lockout_response(request: HttpRequest, credentials: dict[str, Any] | None = None, *args: object,
                     **kwargs: object) -> HttpResponse:
    """429 ``account_locked``: problem JSON for the API, an HTML page for the console's login."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    return error_response(
        request, 429, "account_locked", title="Account locked",
        detail=f"Too many failed logins. Try again in {seconds // 60} minutes.",
        headers={"Retry-After": str(seconds)},
    )
