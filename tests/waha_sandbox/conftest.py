"""Fixtures for the waha_sandbox tests: one sandbox subprocess and a webhook receiver (one per run, cleared per test).

No database is used; these tests only talk HTTP to a real subprocess.
"""

from __future__ import annotations

import pytest
import requests

from tests.sandbox_fixtures import WebhookReceiver
from waha_sandbox.testing import run_sandbox, wait_until

API_KEY = "test-key-123"


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
        return wait_until(
            lambda: (lambda s: s if s["inFlight"] == 0 else None)(self.get("/sandbox/webhooks").json()),
            timeout=timeout,
            message="webhook deliveries settled",
        )

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
    rec = WebhookReceiver()
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
