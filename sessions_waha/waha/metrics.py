"""Prometheus metrics of calls to WAHA.

Labels are the client operation (``send_text``, ``session_create``...) and the outcome,
never the raw path: paths carry session names and would grow without bound.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram

__all__ = ["OUTCOMES", "REQUEST_DURATION", "REQUEST_ERRORS", "observe"]

# "invalid": a 2xx WAHA answer the client could not use, or a download over its cap.
OUTCOMES = ("ok", "rejected", "timeout", "unreachable", "invalid")

# Sends and auth/qr can legitimately block ~15 s inside WAHA (WAHA.md §9.2), so the
# buckets reach past that.
_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0)


def _registered(name: str) -> Any:
    # A re-import (Django autoreload, importlib.reload in tests) must reuse the collector
    # instead of failing with "Duplicated timeseries".
    return getattr(REGISTRY, "_names_to_collectors", {}).get(name)


def _histogram() -> Histogram:
    existing = _registered("waha_request_duration_seconds")
    if existing is not None:
        return existing
    return Histogram(
        "waha_request_duration_seconds",
        "Duration of HTTP calls to WAHA",
        ("operation", "outcome"),
        buckets=_BUCKETS,
    )


def _counter() -> Counter:
    existing = _registered("waha_request_errors_total")
    if existing is not None:
        return existing
    return Counter(
        "waha_request_errors_total",
        "HTTP calls to WAHA that did not succeed",
        ("operation", "outcome"),
    )


REQUEST_DURATION = _histogram()
REQUEST_ERRORS = _counter()


def observe(operation: str, outcome: str, seconds: float) -> None:
    """Record one call; anything but ``ok`` also counts as an error."""
    REQUEST_DURATION.labels(operation=operation, outcome=outcome).observe(seconds)
    if outcome != "ok":
        REQUEST_ERRORS.labels(operation=operation, outcome=outcome).inc()
