"""``/metrics``: django-prometheus' export, behind a bearer token or an IP allow-list."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView

from config.client_ip import client_ip
from config.problems import problem_response


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    allowed_ips = settings.METRICS_ALLOWED_IPS
    if not token and not allowed_ips:
        return True  # development default: open
    if allowed_ips and client_ip(request) in allowed_ips:
        return True
    presented = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(presented.encode(), f"Bearer {token}".encode())


def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, aggregated over all gunicorn workers in multiprocess mode."""
    if not _allowed(request):
        return problem_response(401, "not_authenticated", detail="A valid metrics bearer token is required.",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return ExportToDjangoView(request)
