"""Start the service's real processes (gunicorn) for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from django.conf import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def wait_until(predicate, *, timeout: float = 15.0, interval: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` passes (False): a wait for an event, bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)  # between polls of the event, never in place of it; the deadline bounds the wait
    return False


def service_env(**overrides: str) -> dict[str, str]:
    """Environment for a service process of the test run (test database, venv first on PATH)."""
    env = {**os.environ, "DJANGO_ENV": "test", "DATABASE_URL": test_database_url(), "LOG_LEVEL": "warning"}
    env["PATH"] = f"{PROJECT_ROOT / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env.update(overrides)
    return env


@contextmanager
def run_web(*, workers: int = 2, env: dict[str, str] | None = None, port: int | None = None) -> Iterator[str]:
    """Run ``bin/web`` (gunicorn) against the test database; yield its base URL."""
    port = port or free_port()
    child_env = {
        **service_env(),
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "WEB_CONCURRENCY": str(workers),
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="metrics-test-"),
        **(env or {}),
    }
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [str(PROJECT_ROOT / "bin" / "web")], cwd=PROJECT_ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT
    )
    base_url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(base_url + "/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        if not wait_until(up, timeout=30):
            log.seek(0)
            raise RuntimeError("gunicorn did not start:\n" + log.read().decode(errors="replace")[-4000:])
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
