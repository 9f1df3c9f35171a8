"""Fixtures of the webhook tests: routed sessions in acme and globex, a webhook capture server."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.webhooks.webhook_helpers import routed_session


@pytest.fixture
def acme_routed(acme):
    return routed_session(acme, "support")


@pytest.fixture
def globex_routed(globex):
    return routed_session(globex, "support")


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Each test copies media into its own directory."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "inbound_media": {
        "BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "media")}}}


class Capture:
    """A local HTTP server standing in for our web process: it records WAHA's webhooks byte for byte."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with capture.lock:
                    capture.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def find(self, event_id: str, timeout: float = 10.0) -> dict:
        """The first delivery of the event with this envelope id."""
        import json

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for request in self.requests:
                    if json.loads(request["body"]).get("id") == event_id:
                        return request
            time.sleep(0.02)
        raise AssertionError(f"WAHA never delivered {event_id}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def capture():
    server = Capture()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _fresh_route_cache():
    from webhooks.services import receive

    receive.route_cache_clear()
    yield
    receive.route_cache_clear()
