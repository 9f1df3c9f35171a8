"""The client address used for lockouts and rate limits.

``X-Forwarded-For`` is only believed when the operator says how many proxies
sit in front of the service (``TRUSTED_PROXY_COUNT``); otherwise any client
could pick its own address and dodge every per-IP limit.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """Return the address of the client that sent ``request``."""
    proxies = settings.TRUSTED_PROXY_COUNT
    remote_addr = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104 - a placeholder, not a bind  # nosec B104
    if proxies <= 0:
        return remote_addr
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    # Each trusted proxy appends the address it received the request from, so
    # the client is the entry just before the ones our own proxies added.
    if len(forwarded) >= proxies:
        return forwarded[-proxies]
    return remote_addr


def ratelimit_client_ip(group: str, request: HttpRequest) -> str:
    """django-ratelimit key function (it passes the group first)."""
    return client_ip(request)
