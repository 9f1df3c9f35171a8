"""``/metrics``: django-prometheus' export, behind a bearer token or an IP allow-list."""

from __future__ import annotations

import hmac
import os

import prometheus_client
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import multiprocess
from prometheus_client.registry import Collector

from core.problems import problem_response
from core.web.client_ip import client_ip


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
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Counters of every gunicorn and Celery process, plus figures read at scrape time.
        registry = prometheus_client.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in scrape_time_collectors():
            registry.register(collector)
    else:
        registry = prometheus_client.REGISTRY
    return HttpResponse(prometheus_client.generate_latest(registry), content_type=prometheus_client.CONTENT_TYPE_LATEST)


def worker_metrics_registry() -> prometheus_client.CollectorRegistry:
    """What a worker's own metrics endpoint shows: every process of this worker (its pool children write
    to ``PROMETHEUS_MULTIPROC_DIR``), or this process alone without that directory. The figures read from
    the database at scrape time are web's to show, once."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return prometheus_client.REGISTRY
    registry = prometheus_client.CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


def worker_metrics_serve(*, port: int, address: str = "0.0.0.0") -> None:  # noqa: S104  # nosec B104 - inside its network
    """Serve the worker's metrics over HTTP (a daemon thread) for Prometheus to scrape.

    A worker on another host than web cannot share web's multiprocess directory, so web's ``/metrics``
    would never show its counters (sends, retries, WAHA calls). Compose runs it on the worker's port
    ``WORKER_METRICS_PORT``, reachable only inside the compose network.
    """
    prometheus_client.start_http_server(port, addr=address, registry=worker_metrics_registry())


# Figures the apps read from the database when /metrics is scraped (queue depth, pending webhook events).
_scrape_time_collectors: list[Collector] = []


def scrape_time_collector_register(collector: Collector) -> None:
    """Show ``collector`` on /metrics, once per process whatever the mode (its class is registered once).

    Each app registers its own in ``AppConfig.ready()``: core imports no app. Without
    ``PROMETHEUS_MULTIPROC_DIR`` it is in the default registry; with it, web's /metrics adds it to the totals
    of every process, and a worker's own endpoint leaves it to web.
    """
    if any(type(known) is type(collector) for known in _scrape_time_collectors):
        return
    _scrape_time_collectors.append(collector)
    prometheus_client.REGISTRY.register(collector)


def scrape_time_collectors() -> list[Collector]:
    return list(_scrape_time_collectors)
