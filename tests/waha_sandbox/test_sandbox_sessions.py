"""Session CRUD, lifecycle and session.status webhooks (WAHA.md §2, §5.5)."""

from __future__ import annotations

import re
import time

from waha_sandbox.testing import wait_until

NAME_ERROR = (
    "Session name can only contain alphanumeric characters, hyphens, and underscores "
    "(a-z, A-Z, 0-9, -, _) or be empty"
)


def test_create_defaults_to_not_started_and_drops_unknown_fields(api):
    r = api.post("/api/sessions", {"name": "s1", "bogus": 1,
                                   "config": {"metadata": {"tenant.id": "t1"}, "unknown": True,
                                              "noweb": {"markOnline": True, "extra": 1}}})
    assert r.status_code == 201
    body = r.json()
    assert body["name"] == "s1" and body["status"] == "STOPPED" and body["me"] is None
    assert body["config"] == {"metadata": {"tenant.id": "t1"}, "noweb": {"markOnline": True}}
    assert api.get("/api/sessions/s1").json()["config"] == body["config"]


def test_duplicate_name_is_422(api):
    api.create("dup", start=False)
    r = api.post("/api/sessions", {"name": "dup"})
    assert r.status_code == 422
    assert r.json() == {"message": "Session 'dup' already exists. Use PUT to update it.",
                        "error": "Unprocessable Entity", "statusCode": 422}


def test_bad_names_are_400(api):
    r = api.post("/api/sessions", {"name": "bad name!"})
    assert r.status_code == 400
    assert r.json() == {"message": [NAME_ERROR], "error": "Bad Request", "statusCode": 400}
    assert api.post("/api/sessions", {"name": "a" * 55}).status_code == 400
    assert api.post("/api/sessions", {"name": "a" * 54}).status_code == 201


def test_omitted_name_gets_ulid(api):
    r = api.post("/api/sessions", {})
    assert r.status_code == 201
    assert re.fullmatch(r"session_[0-9a-hjkmnp-tv-z]{26}", r.json()["name"])


def test_list_hides_stopped_unless_all(api):
    api.create("stopped", start=False)
    api.create("running", start=True)
    names = {s["name"] for s in api.get("/api/sessions").json()}
    assert names == {"running"}
    names = {s["name"] for s in api.get("/api/sessions?all=true").json()}
    assert names == {"running", "stopped"}


def test_get_put_delete(api):
    r = api.get("/api/sessions/ghost")
    assert r.status_code == 404
    assert r.json() == {"message": "Session not found", "error": "Not Found", "statusCode": 404}
    assert api.put("/api/sessions/ghost", {"config": {}}).status_code == 404
    api.create("p1", start=False, config={"metadata": {"a": "1"}, "debug": True})
    r = api.put("/api/sessions/p1", {"config": {"metadata": {"b": "2"}}})
    assert r.status_code == 200
    assert r.json()["config"] == {"metadata": {"b": "2"}}  # replaced, not merged
    info = api.get("/api/sessions/p1").json()
    assert info["engine"]["engine"] == "NOWEB"
    for _ in range(2):  # idempotent
        r = api.delete("/api/sessions/p1")
        assert r.status_code == 200 and r.content == b""
    assert api.get("/api/sessions/p1").status_code == 404


def test_start_twice_is_422_and_me_endpoint(api):
    api.create("m1", start=False)
    r = api.get("/api/sessions/m1/me")
    assert r.status_code == 404 and r.json()["statusCode"] == 404
    r = api.post("/api/sessions/m1/start")
    assert r.status_code == 201 and r.json()["status"] == "STARTING"
    r = api.post("/api/sessions/m1/start")
    assert r.status_code == 422
    assert r.json() == {"message": "Session 'm1' is already started.", "error": "Unprocessable Entity",
                        "statusCode": 422}
    api.wait_status("m1", "SCAN_QR_CODE")
    r = api.get("/api/sessions/m1/me")
    assert r.status_code == 200 and r.content == b""  # null -> empty body, as NestJS does
    api.post("/sandbox/sessions/m1/pair", {"phone": "+4915112345678", "pushName": "Shop"})
    me = api.get("/api/sessions/m1/me").json()
    assert me["id"] == "4915112345678@c.us" and me["pushName"] == "Shop"
    r = api.post("/api/sessions/m1/stop")
    assert r.status_code == 201 and r.json()["status"] == "STOPPED" and r.json()["me"] is None


def _statuses(receiver, name):
    return [e["json"]["payload"]["status"] for e in receiver.events(event="session.status", session=name)]


def test_lifecycle_webhooks(api, receiver):
    hook = {"url": receiver.url("/hook"), "events": ["session.status"]}
    api.create("life", config={"webhooks": [hook]})
    api.wait_status("life", "SCAN_QR_CODE")
    api.post("/sandbox/sessions/life/pair", {})
    receiver.wait_events(3, event="session.status", session="life")
    events = sorted(receiver.events(event="session.status", session="life"), key=lambda e: e["json"]["timestamp"])
    assert [e["json"]["payload"]["status"] for e in events] == ["STARTING", "SCAN_QR_CODE", "WORKING"]
    last = events[-1]["json"]
    assert last["payload"]["data"] is None
    assert [p["status"] for p in last["payload"]["statuses"]] == ["STARTING", "SCAN_QR_CODE", "WORKING"]
    assert last["me"]["id"].endswith("@c.us")
    assert all(e["json"]["me"] is None for e in events[:-1])
    assert "metadata" not in last  # never set -> omitted

    # Pairing survives stop/start: STARTING goes straight to WORKING.
    receiver.clear()
    api.post("/api/sessions/life/stop")
    api.post("/api/sessions/life/start")
    api.wait_status("life", "WORKING")
    receiver.wait_events(3, event="session.status")
    assert sorted(_statuses(receiver, "life")) == sorted(["STOPPED", "STARTING", "WORKING"])

    # Logout wipes pairing and restarts into a new QR.
    receiver.clear()
    api.post("/api/sessions/life/logout")
    api.wait_status("life", "SCAN_QR_CODE")
    receiver.wait_events(3, event="session.status")
    assert sorted(_statuses(receiver, "life")) == sorted(["STOPPED", "STARTING", "SCAN_QR_CODE"])


def test_qr_rotation_autopair_and_failed(api, receiver):
    api.post("/sandbox/config", {"qr_rotate_seconds": 0.15, "autopair_seconds": 0.6})
    hook = {"url": receiver.url("/hook"), "events": ["session.status"]}
    api.create("rot", config={"webhooks": [hook]})
    first = wait_until(lambda: api.get("/api/rot/auth/qr?format=raw").json().get("value"), message="qr")
    wait_until(lambda: api.get("/api/rot/auth/qr?format=raw").json().get("value") != first, message="rotation")
    api.wait_status("rot", "WORKING", timeout=3)
    # Deliveries are concurrent and unordered: wait for the WORKING one itself.
    statuses = wait_until(lambda: (lambda st: st if "WORKING" in st else None)(_statuses(receiver, "rot")),
                          message="WORKING webhook")
    assert statuses.count("SCAN_QR_CODE") >= 2  # re-emitted on every rotation
    assert statuses.count("WORKING") == 1

    receiver.clear()
    r = api.post("/sandbox/sessions/rot/fail", {})
    assert r.status_code == 201 and r.json()["status"] == "FAILED"
    receiver.wait_events(1, event="session.status")
    api.post("/api/sessions/rot/restart")
    api.wait_status("rot", "WORKING")  # still paired, so restart recovers


def test_qr_formats(api):
    api.create("q1")
    r = api.get("/api/q1/auth/qr")  # waits through the short STARTING phase
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "image/png"
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert api.status("q1") == "SCAN_QR_CODE"
    j = api.get("/api/q1/auth/qr?format=image", headers={"Accept": "application/json"}).json()
    import base64

    assert j["mimetype"] == "image/png" and base64.b64decode(j["data"])[:4] == b"\x89PNG"
    assert api.get("/api/q1/auth/qr?format=raw").json()["value"]
    r = api.post("/api/q1/auth/request-code", {"phoneNumber": "12132132130", "method": None})
    assert r.status_code == 201 and re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", r.json()["code"])


def test_qr_outside_scan_is_fast_422(api):
    api.working("q2")
    t0 = time.monotonic()
    r = api.get("/api/q2/auth/qr")
    assert time.monotonic() - t0 < 1.5
    assert r.status_code == 422
    assert r.json() == {"error": "Session status is not as expected. Try again later or restart the session",
                        "session": "q2", "status": "WORKING", "expected": ["SCAN_QR_CODE"]}


def test_deprecated_body_endpoints(api):
    r = api.post("/api/sessions/start", {"name": "old", "config": {"metadata": {"k": "v"}}})
    assert r.status_code == 201 and r.json() == {"name": "old", "status": "STARTING",
                                                  "config": {"metadata": {"k": "v"}}}
    assert api.post("/api/sessions/start", {"name": "old"}).status_code == 422
    r = api.post("/api/sessions/stop", {"name": "old", "logout": False})
    assert r.status_code == 201 and r.content == b"" and api.status("old") == "STOPPED"
    r = api.post("/api/sessions/logout", {"name": "old"})
    assert r.status_code == 201 and api.get("/api/sessions/old").status_code == 404
