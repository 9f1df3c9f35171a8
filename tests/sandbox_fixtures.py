"""pytest fixtures that run the WAHA sandbox as a real HTTP server."""

from __future__ import annotations

import pytest
import requests

from waha_sandbox.testing import run_sandbox

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
