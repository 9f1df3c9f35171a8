"""A webhook receiver process for the tests: records every request, answers as it is told.

``python tests/events/receiver.py PORT`` serves on 127.0.0.1:PORT.
``POST /_control {"status": 500, "delay": 0, "count": null}`` sets the answer (``count``: for that many
requests, then 200 again); ``GET /_requests`` returns every request recorded (path, headers, body);
``DELETE /_requests`` forgets them. Everything else is a webhook request.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()
_requests: list[dict] = []
_control = {"status": 200, "delay": 0.0, "count": None, "body": "ok"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        with _lock:
            body = json.dumps(_requests).encode()
        self._answer(200, body, "application/json")

    def do_DELETE(self) -> None:
        with _lock:
            _requests.clear()
        self._answer(204, b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/_control":
            with _lock:
                _control.update({"status": 200, "delay": 0.0, "count": None, "body": "ok"}, **json.loads(body))
            self._answer(204, b"")
            return
        with _lock:
            status, delay, answer = _control["status"], _control["delay"], _control["body"]
            if _control["count"] is not None:
                _control["count"] -= 1
                if _control["count"] <= 0:
                    _control.update(status=200, delay=0.0, count=None)
        record = {
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body.decode("utf-8", errors="replace"),
            "at": time.time(),
            "answered": None,
        }
        with _lock:
            _requests.append(record)  # on arrival: a test can see a request in flight
        if delay:
            time.sleep(delay)  # a slow receiver on purpose: the behaviour under test (answer after `delay`)
        record["answered"] = status
        self._answer(status, answer.encode())


if __name__ == "__main__":
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
