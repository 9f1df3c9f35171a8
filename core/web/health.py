"""Liveness, database and readiness probes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from celery import current_app
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django_redis import get_redis_connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes

from core.tenancy import tenant_connection

logger = logging.getLogger("health")

_HEALTH_SCHEMA = inline_serializer("Health", {"status": serializers.CharField()})
_READY_SCHEMA = inline_serializer("Readiness", {
    "status": serializers.CharField(),
    "checks": serializers.DictField(child=serializers.CharField()),
})


Probe = TypeVar("Probe", bound=Callable[..., Any])


def _probe(func: Probe) -> Probe:
    """Probes are open, unauthenticated and never throttled."""
    return authentication_classes([])(permission_classes([])(throttle_classes([])(func)))


def _database_ok() -> bool:
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means "not ok"
        logger.warning("health.database_unreachable", exc_info=True)
        return False


def _cache_ok() -> bool:
    try:
        return bool(get_redis_connection("default").ping())
    except Exception:  # noqa: BLE001
        logger.warning("health.cache_unreachable", exc_info=True)
        return False


def _broker_ok() -> bool:
    # The project's Celery app (config/celery.py, loaded with the settings) is Celery's current app.
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        logger.warning("health.broker_unreachable", exc_info=True)
        return False


def _migrations_applied() -> bool:
    # The public schema is checked here; tenant schemas are migrated by the
    # same migrate_schemas run that migrates public.
    try:
        tenant_connection().set_schema_to_public()
        executor = MigrationExecutor(connection)
        return not executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:  # noqa: BLE001
        logger.warning("health.migrations_unknown", exc_info=True)
        return False


def _waha_reachable() -> str:
    import requests

    try:
        response = requests.get(settings.WAHA_BASE_URL.rstrip("/") + "/ping", timeout=(1, 2))
        return "ok" if response.ok else f"http_{response.status_code}"
    except requests.RequestException:
        return "unreachable"


@extend_schema(tags=["health"], summary="Liveness: the process serves", responses={200: _HEALTH_SCHEMA}, auth=[])
@api_view(["GET"])
@_probe
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@extend_schema(tags=["health"], summary="PostgreSQL answers", responses={200: _HEALTH_SCHEMA, 503: _HEALTH_SCHEMA},
               auth=[])
@api_view(["GET"])
@_probe
def health_db(request: HttpRequest) -> JsonResponse:
    ok = _database_ok()
    return JsonResponse({"status": "ok" if ok else "unavailable"}, status=200 if ok else 503)


@extend_schema(
    tags=["health"], summary="Readiness: database, cache, broker and migrations",
    description="503 names each failing check. WAHA reachability is reported but not required.",
    responses={200: _READY_SCHEMA, 503: _READY_SCHEMA}, auth=[],
)
@api_view(["GET"])
@_probe
def ready(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Any] = {
        "database": _database_ok(),
        "cache": _cache_ok(),
        "broker": _broker_ok(),
    }
    checks["migrations"] = checks["database"] and _migrations_applied()
    required_ok = all(checks.values())
    body = {
        "status": "ok" if required_ok else "unavailable",
        "checks": {name: "ok" if ok else "failing" for name, ok in checks.items()},
        "waha": _waha_reachable(),
    }
    return JsonResponse(body, status=200 if required_ok else 503)
