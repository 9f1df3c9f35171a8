"""Fixtures for the waha_sandbox tests: one sandbox subprocess and a webhook receiver.

No database is used; these tests only talk HTTP to a real subprocess.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from waha_sandbox.testing import run_sandbox, wait_until

API_KEY = "test-key-123"


class Receiver:
    """A tiny threaded HTTP server that records every POST it gets.

    ``plan(path, [500, 500])`` makes the next requests to ``path`` answer with those
    statuses (then 200 again); ``headers`` may add response headers per status.
    """

    def __init__(self):
        self.requests: list[dict] = []
        self._plans: dict[str, list] = defaultdict(list)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                                              "body": body, "at": time.monotonic()})
                    plan = receiver._plans[self.path]
                    status, extra = plan.pop(0) if plan else (200, {})
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def plan(self, path: str, statuses: list, headers: dict | None = None) -> None:
        with self._lock:
            self._plans[path] = [(s, headers or {}) for s in statuses]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._plans.clear()

    def events(self, path: str | None = None, event: str | None = None, session: str | None = None) -> list:
        import json

        with self._lock:
            items = list(self.requests)
        out = []
        for r in items:
            if path is not None and r["path"] != path:
                continue
            data = json.loads(r["body"])
            if event is not None and data.get("event") != event:
                continue
            if session is not None and data.get("session") != session:
                continue
            out.append({**r, "json": data})
        return out

    def wait_events(self, count: int, timeout: float = 5.0, **filters) -> list:
        return wait_until(lambda: (lambda ev: ev if len(ev) >= count else None)(self.events(**filters)),
                          timeout=timeout, message=f"{count} webhook(s) {filters}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Api:
    """requests wrapper bound to the sandbox base URL and key."""

    def __init__(self, handle):
        self.handle = handle
        self.http = requests.Session()
        self.http.headers["X-Api-Key"] = handle.api_key

    def url(self, path: str) -> str:
        return self.handle.url(path)

    def get(self, path, **kw):
        return self.http.get(self.url(path), timeout=kw.pop("timeout", 10), **kw)

    def post(self, path, json=None, **kw):
        return self.http.post(self.url(path), json=json, timeout=kw.pop("timeout", 10), **kw)

    def put(self, path, json=None, **kw):
        return self.http.put(self.url(path), json=json, timeout=kw.pop("timeout", 10), **kw)

    def delete(self, path, **kw):
        return self.http.delete(self.url(path), timeout=kw.pop("timeout", 10), **kw)

    # convenience -------------------------------------------------------------------------
    def create(self, name: str, start: bool = True, config: dict | None = None) -> dict:
        body = {"name": name, "start": start}
        if config is not None:
            body["config"] = config
        r = self.post("/api/sessions", body)
        assert r.status_code == 201, r.text
        return r.json()

    def status(self, name: str) -> str:
        return self.get(f"/api/sessions/{name}").json()["status"]

    def wait_status(self, name: str, status: str, timeout: float = 5.0) -> None:
        wait_until(lambda: self.status(name) == status, timeout=timeout, message=f"{name} -> {status}")

    def deliveries_settled(self, timeout: float = 5.0) -> dict:
        """Wait until every webhook delivery the sandbox has started has ended (delivered or dropped).

        Events are emitted, and their deliveries started, before the request that caused them
        answers; so once this returns, the receiver holds every delivery of those events.
        """
        return wait_until(lambda: (lambda s: s if s["inFlight"] == 0 else None)(self.get("/sandbox/webhooks").json()),
                          timeout=timeout, message="webhook deliveries settled")

    def emitted(self, session: str, event: str | None = None) -> list[dict]:
        """The envelopes the sandbox emitted for a session (whether or not any hook took them)."""
        query = f"/sandbox/events?session={session}" + (f"&event={event}" if event else "")
        return self.get(query).json()["events"]

    def working(self, name: str, config: dict | None = None, phone: str | None = None) -> dict:
        """Create a session and pair it; returns its ``me``."""
        self.create(name, config=config)
        self.wait_status(name, "SCAN_QR_CODE")
        r = self.post(f"/sandbox/sessions/{name}/pair", {"phone": phone} if phone else {})
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "WORKING"
        return r.json()["me"]


@pytest.fixture(scope="session")
def sandbox_proc():
    env = {"WAHA_SANDBOX_ACK_DELAYS_MS": "10,20,30", "WAHA_SANDBOX_STARTING_SECONDS": "0.05"}
    with run_sandbox(api_key=API_KEY, env=env) as handle:
        yield handle


@pytest.fixture
def api(sandbox_proc):
    """A clean sandbox (reset before each test) plus an HTTP client for it."""
    client = Api(sandbox_proc)
    r = client.post("/sandbox/reset", {})
    assert r.status_code == 200
    yield client
    client.http.close()


@pytest.fixture(scope="session")
def _receiver():
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture
def receiver(_receiver):
    _receiver.clear()
    yield _receiver
    _receiver.clear()


@pytest.fixture(autouse=True)
def _public_schema_and_clean_limits():
    """Shadow the repo-wide autouse fixture of the same name (schema reset + cache clear).

    These tests never touch the database or the cache, so they should not need
    Postgres or Redis to be up just because the root conftest wants them.
    """
    yield
