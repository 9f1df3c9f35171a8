"""Probes: /health, /health/db, /ready; the real gunicorn with a broken database."""

import pytest
import requests
from django.core.cache import caches

from tests.support import TenantClient
from tests.support_processes import run_web


def test_health_is_ok(db):
    response = TenantClient().get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_health_db_is_ok(db):
    assert TenantClient().get("/health/db").json() == {"status": "ok"}


def test_ready_reports_every_check(db):
    response = TenantClient().get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["checks"] == {"database": "ok", "cache": "ok", "broker": "ok", "migrations": "ok"}
    assert body["waha"] in {"ok", "unreachable"} or body["waha"].startswith("http_")


def test_ready_names_the_failing_cache_and_broker(db, settings, monkeypatch):
    from config.celery import app

    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}}
    caches["default"].close()
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = TenantClient().get("/ready")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "failing", "broker": "failing",
                                         "migrations": "ok"}


def test_probes_answer_on_tenant_hosts_too(acme):
    assert TenantClient("acme.localhost").get("/health").status_code == 200


@pytest.mark.e2e
def test_gunicorn_with_database_down_keeps_liveness_and_fails_readiness():
    with run_web(workers=1, env={"DATABASE_URL": "postgres://postgres@127.0.0.1:1/none"}) as base_url:
        assert requests.get(base_url + "/health", timeout=5).status_code == 200
        db_probe = requests.get(base_url + "/health/db", timeout=10)
        assert db_probe.status_code == 503
        ready = requests.get(base_url + "/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["checks"]["database"] == "failing"
