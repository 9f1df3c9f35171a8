"""Revocation holds at once in every gunicorn worker, whatever each one has remembered."""

from __future__ import annotations

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
