"""Every error is RFC 9457 problem JSON with a stable code; never a traceback."""

import logging

import pytest

from accounts.roles import Role
from tests.support import TenantClient

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS and body["status"] == status and body["code"] == code
    return body


def test_validation_error_names_fields(admin_client):
    body = assert_problem(admin_client.post("/users", {"email": "bad"}, format="json"), 400, "validation_error")
    assert {"email", "password", "role"} <= set(body["errors"])


def test_malformed_json_is_400(admin_client):
    response = admin_client.generic("POST", "/users", '{"email": ', content_type="application/json")
    assert_problem(response, 400, "malformed_json")


def test_json_that_is_not_an_object_is_400(admin_client):
    response = admin_client.generic("POST", "/users", "[1, 2]", content_type="application/json")
    assert_problem(response, 400, "validation_error")


def test_wrong_content_type_is_415(admin_client):
    response = admin_client.generic("POST", "/users", "email=a@b.c", content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415, "unsupported_media_type")


def test_missing_token_is_401(acme, client_for):
    response = client_for(acme).get("/users")
    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_forbidden_role_is_403(acme, make_user, client_for):
    assert_problem(client_for(acme, make_user(acme, Role.AGENT)).get("/users"), 403, "permission_denied")


@pytest.mark.parametrize("host", ["localhost", "acme.localhost"])
def test_unknown_url_is_404_on_every_host(db, host):
    assert_problem(TenantClient(host).get("/no/such/thing"), 404, "not_found")


def test_unknown_id_is_404(admin_client):
    assert_problem(admin_client.get("/users/00000000-0000-0000-0000-000000000000"), 404, "not_found")


def test_wrong_method_is_405(admin_client):
    assert_problem(admin_client.delete("/users"), 405, "method_not_allowed")


def test_oversized_body_is_413_before_parsing(admin_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = admin_client.post("/users", {"email": "a@b.c", "password": "x" * 4096, "role": "AGENT"}, format="json")
    assert_problem(response, 413, "payload_too_large")


def test_unknown_tenant_is_404_problem(db):
    assert_problem(TenantClient(HTTP_X_TENANT="nobody-here").get("/health/nope"), 404, "tenant_not_found")


def test_unhandled_exception_is_500_problem_without_traceback(admin_client, monkeypatch, caplog):
    from accounts import selectors

    def explode():
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(selectors, "user_list", explode)
    with caplog.at_level(logging.ERROR, logger="http"):
        response = admin_client.get("/users", HTTP_X_REQUEST_ID="req-12345678")
    body = assert_problem(response, 500, "server_error")
    assert "secret internal detail" not in response.content.decode() and "Traceback" not in response.content.decode()
    assert response["X-Request-ID"] == "req-12345678"
    record = next(r for r in caplog.records if r.name == "http")
    assert record.request_id == "req-12345678" and record.exc_info
    assert "X-Request-ID" in body["detail"]


def test_request_id_is_generated_and_returned(db):
    response = TenantClient().get("/health")
    assert len(response["X-Request-ID"]) == 32


def test_unsafe_request_id_is_replaced(db):
    response = TenantClient().get("/health", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert response["X-Request-ID"] != "bad id\nwith newline"


def test_security_headers_are_set(db):
    response = TenantClient().get("/health")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_cors_allows_only_configured_origins(acme, client_for, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    allowed = client_for(acme).options(
        "/auth/login", HTTP_ORIGIN="https://app.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    denied = client_for(acme).options(
        "/auth/login", HTTP_ORIGIN="https://evil.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "Access-Control-Allow-Origin" not in denied
