"""/metrics: guarded, and correct across several gunicorn workers."""

import re

import pytest
import requests

from tests.support import TenantClient
from tests.support_processes import run_web

TOKEN = "metrics-test-token-0123456789"


def _health_requests_total(text: str) -> float:
    pattern = re.compile(
        r"^django_http_responses_total_by_status_view_method_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$"
    )
    total = 0.0
    for line in text.splitlines():
        match = pattern.match(line)
        if match and 'view="health"' in match["labels"] and 'status="200"' in match["labels"]:
            total += float(match["value"])
    return total


def test_metrics_requires_the_bearer_token_when_configured(db, settings):
    settings.METRICS_TOKEN = TOKEN
    assert TenantClient().get("/metrics").status_code == 401
    assert TenantClient().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = TenantClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200 and b"django_http_requests" in response.content
    # Database metrics survive django-tenants' backend wrapping django-prometheus' one.
    assert b"django_db_execute_total" in response.content


def test_metrics_ip_allow_list(db, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.9.9.9"]
    assert TenantClient(REMOTE_ADDR="10.9.9.9").get("/metrics").status_code == 200
    assert TenantClient(REMOTE_ADDR="10.9.9.8").get("/metrics").status_code == 401


@pytest.mark.e2e
def test_metrics_aggregate_all_gunicorn_workers():
    calls = 60
    with run_web(workers=3, env={"METRICS_TOKEN": TOKEN}) as base_url:
        with requests.Session() as session:
            for _ in range(calls):
                session.get(base_url + "/health", headers={"Connection": "close"}, timeout=5)
        readings = []
        for _ in range(5):
            text = requests.get(base_url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).text
            readings.append(_health_requests_total(text))
    # The startup probe of run_web adds a few /health calls of its own.
    assert all(reading >= calls for reading in readings), readings
    assert len(set(readings)) == 1, readings
