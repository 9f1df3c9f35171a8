"""Auth (WAHA.md §1), health and server endpoints (§7)."""

from __future__ import annotations

import hashlib

import requests

from waha_sandbox.testing import run_sandbox

UNAUTHORIZED = {"message": "Unauthorized", "statusCode": 401}


def test_missing_and_wrong_key_give_exact_401(api):
    for headers in ({}, {"X-Api-Key": "wrong"}):
        r = requests.get(api.url("/api/sessions"), headers=headers, timeout=5)
        assert r.status_code == 401
        assert r.json() == UNAUTHORIZED


def test_header_and_query_key_and_header_wins(api):
    key = api.handle.api_key
    assert requests.get(api.url("/api/sessions"), headers={"X-Api-Key": key}, timeout=5).status_code == 200
    assert requests.get(api.url(f"/api/sessions?x-api-key={key}"), timeout=5).status_code == 200
    # Both present: the header decides, whatever the query says.
    r = requests.get(api.url(f"/api/sessions?x-api-key={key}"), headers={"X-Api-Key": "nope"}, timeout=5)
    assert r.status_code == 401
    r = requests.get(api.url("/api/sessions?x-api-key=nope"), headers={"X-Api-Key": key}, timeout=5)
    assert r.status_code == 200


def test_ping_is_open_and_everything_else_protected(api):
    r = requests.get(api.url("/ping"), timeout=5)
    assert r.status_code == 200 and r.json() == {"message": "pong"}
    for path in ("/health", "/api/server/version", "/api/files/default/x.jpeg", "/sandbox/messages"):
        r = requests.get(api.url(path), timeout=5)
        assert r.status_code == 401, path
        assert r.json() == UNAUTHORIZED


def test_health_version_and_status(api):
    r = api.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    version = api.get("/api/server/version").json()
    assert list(version) == ["version", "engine", "tier", "browser", "platform", "worker"]
    assert version["engine"] == "NOWEB" and version["worker"] == {"id": None}
    status = api.get("/api/server/status").json()
    assert status["uptime"] >= 0 and status["startTimestamp"] > 0 and status["worker"] == {"id": ""}
    api.post("/sandbox/faults", {"unhealthy": True})
    r = api.get("/health")
    assert r.status_code == 503 and r.json()["status"] == "error"


def test_sha512_key_form_and_cli_engine():
    plain = "plain-secret-key-42"
    hashed = "sha512:" + hashlib.sha512(plain.encode()).hexdigest()
    with run_sandbox(api_key=hashed, engine="GOWS") as sb:
        ok = requests.get(sb.url("/api/server/version"), headers={"X-Api-Key": plain}, timeout=5)
        assert ok.status_code == 200
        assert ok.json()["engine"] == "GOWS"
        # The hash itself is not a valid key: clients always send the plain key.
        bad = requests.get(sb.url("/api/server/version"), headers={"X-Api-Key": hashed}, timeout=5)
        assert bad.status_code == 401
        assert "plain-secret-key-42" not in sb.output() and hashed not in sb.output()


def test_unknown_route_is_nest_404(api):
    r = api.get("/api/does-not-exist")
    assert r.status_code == 404
    assert r.json() == {"message": "Cannot GET /api/does-not-exist", "error": "Not Found", "statusCode": 404}


def test_api_key_exclude_path():
    with run_sandbox(env={"WHATSAPP_API_KEY_EXCLUDE_PATH": "health,api/files/(.*)"}) as sb:
        assert requests.get(sb.url("/health"), timeout=5).status_code == 200
        assert requests.get(sb.url("/api/files/s/x.jpeg"), timeout=5).status_code == 404
        assert requests.get(sb.url("/api/sessions"), timeout=5).status_code == 401
