from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django_tenants.utils import tenant_context

from accounts.roles import Role
from events.models import Endpoint
from events.services import secret_new
from sessions_waha.models import Session
from tenants import waha_pool
from tests.support_processes import free_port, wait_until


@pytest.fixture
def make_endpoint(db):
    """``make_endpoint(acme, url=..., events=[...])``: an endpoint stored directly (no URL checks)."""

    def _make(tenant, *, url: str = "http://127.0.0.1:9/hook", events: list[str] | None = None, **fields) -> Endpoint:
        with tenant_context(tenant):
            return Endpoint.objects.create(url=url, events=events or ["*"], secret=secret_new(), **fields)

    return _make


@pytest.fixture
def plain_session(acme):
    """An acme session row (no WAHA behind it)."""
    server = waha_pool.waha_server_default()
    with tenant_context(acme):
        return Session.objects.create(
            name="events", waha_name=f"acme_events_{secrets.token_hex(4)}", waha_server=server, phone="+4915100000000"
        )


@pytest.fixture
def admin(acme, make_user):
    return make_user(acme, Role.TENANT_ADMIN)


class Receiver:
    """A receiver process (tests/events/receiver.py) on its own port; restartable on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> Receiver:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("receiver.py")), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert wait_until(self._up, timeout=10), "the receiver did not start"
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def _up(self) -> bool:
        try:
            return requests.get(self.url + "/_requests", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def answer(self, status: int = 200, *, delay: float = 0.0, count: int | None = None, body: str = "ok") -> None:
        requests.post(
            self.url + "/_control", json={"status": status, "delay": delay, "count": count, "body": body}, timeout=5
        ).raise_for_status()

    def requests(self, path: str | None = None) -> list[dict]:
        got = requests.get(self.url + "/_requests", timeout=5).json()
        return [r for r in got if path is None or r["path"] == path]

    def hook(self, path: str = "/hook") -> str:
        return self.url + path


@pytest.fixture
def receiver():
    handle = Receiver().start()
    yield handle
    handle.stop()
