"""pytest fixtures that run the WAHA sandbox as a real HTTP server, and a receiver for its webhooks."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from waha_sandbox.testing import run_sandbox, wait_until

SANDBOX_KEY = "test-sandbox-key-0123456789"


class Sandbox:
    """A running sandbox plus small helpers for its control endpoints."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.base_url = handle.base_url
        self.http = requests.Session()
        self.http.headers["X-Api-Key"] = SANDBOX_KEY

    def control(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.http.request(method, self.base_url + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response

    def session(self, waha_name: str) -> dict | None:
        response = self.http.get(f"{self.base_url}/api/sessions/{waha_name}", timeout=10)
        return response.json() if response.status_code == 200 else None

    def session_names(self) -> set[str]:
        return {s["name"] for s in self.http.get(f"{self.base_url}/api/sessions?all=true", timeout=10).json()}

    def pair(self, waha_name: str, phone: str = "4915112345678") -> None:
        self.control("POST", f"/sandbox/sessions/{waha_name}/pair", json={"phone": phone})

    def faults(self, **faults) -> None:
        self.control("POST", "/sandbox/faults", json={"clear": True, **faults})


class WebhookReceiver:
    """A tiny threaded HTTP server standing in for a webhook endpoint: it records every POST byte for byte.

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
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers.items()), "body": body, "at": time.monotonic()}
                    )
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
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def plan(self, path: str, statuses: list, headers: dict | None = None) -> None:
        with self._lock:
            self._plans[path] = [(s, headers or {}) for s in statuses]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._plans.clear()

    def events(self, path: str | None = None, event: str | None = None, session: str | None = None) -> list:
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
        return wait_until(
            lambda: (lambda ev: ev if len(ev) >= count else None)(self.events(**filters)),
            timeout=timeout,
            message=f"{count} webhook(s) {filters}",
        )

    def find(self, event_id: str, timeout: float = 10.0) -> dict:
        """The first delivery of the event with this envelope id."""

        def delivered() -> dict | None:
            return next((r for r in self.events() if r["json"].get("id") == event_id), None)

        return wait_until(delivered, timeout=timeout, message=f"WAHA's delivery of {event_id}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def sandbox_process():
    with run_sandbox(api_key=SANDBOX_KEY, env={"WAHA_SANDBOX_AUTOPAIR_SECONDS": "0"}) as handle:
        yield handle


@pytest.fixture
def sandbox(sandbox_process, settings, db):
    """The sandbox, reset, and the service pointed at it (as the default WAHA server)."""
    box = Sandbox(sandbox_process)
    box.control("POST", "/sandbox/reset")
    settings.WAHA_BASE_URL = box.base_url
    settings.WAHA_API_KEY = SANDBOX_KEY
    settings.WAHA_READ_TIMEOUT = 5.0
    yield box
    box.control("DELETE", "/sandbox/faults")
