"""Revocation holds at once in every gunicorn worker, whatever each one has remembered."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "Rotated-After-Leak-2026"


def test_password_change_ends_old_tokens_in_every_worker_at_once(e2e):
    headers = {"X-Tenant": e2e.http.headers["X-Tenant"], "Authorization": e2e.http.headers["Authorization"],
               "Connection": "close"}

    def profile_status() -> int:
        # A new connection each time, so that the requests spread over both gunicorn workers.
        return requests.get(e2e.url("/auth/profile"), headers=headers, timeout=30).status_code

    assert {profile_status() for _ in range(20)} == {200}  # both workers verified and remembered the token
    me = e2e.get("/auth/profile").json()
    changed = e2e.http.patch(e2e.url(f"/users/{me['id']}"), json={"password": NEW_PASSWORD}, timeout=30)
    assert changed.status_code == 200, changed.text
    assert {profile_status() for _ in range(20)} == {401}
    login = requests.post(e2e.url("/auth/login"), json={"email": e2e.admin_email, "password": NEW_PASSWORD},
                          headers={"X-Tenant": headers["X-Tenant"]}, timeout=30)
    assert login.status_code == 200


def test_revoked_api_key_is_refused_by_every_worker_within_a_second(e2e):
    created = e2e.post("/api-keys", {"name": "backend", "role": "AUDITOR"})
    assert created.status_code == 201, created.text
    key = created.json()
    headers = {"X-Tenant": e2e.http.headers["X-Tenant"], "X-Api-Key": key["key"], "Connection": "close"}

    def messages_status() -> int:
        # A new connection each time, so that the requests spread over both gunicorn workers.
        return requests.get(e2e.url("/messages"), headers=headers, timeout=30).status_code

    assert {messages_status() for _ in range(20)} == {200}  # both workers accepted (and could remember) the key
    revoked = e2e.http.delete(e2e.url(f"/api-keys/{key['id']}"), timeout=30)
    assert revoked.status_code == 204
    revoked_at = time.monotonic()
    first_refusal = messages_status()
    assert time.monotonic() - revoked_at < 1.0
    assert first_refusal == 401
    assert {messages_status() for _ in range(20)} == {401}
