"""Helpers for tests that need a running sandbox in a subprocess.

Example::

    from waha_sandbox.testing import run_sandbox

    with run_sandbox() as sb:
        requests.post(sb.url("/api/sessions"), json={"name": "t1", "start": True}, headers=sb.headers)
        sb.control("/sandbox/sessions/t1/pair")

Only the standard library is used here, so any test suite can import it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

DEFAULT_TEST_KEY = "sandbox-test-key"
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a currently unused TCP port on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class SandboxHandle:
    """A running sandbox: where it listens, its key and the subprocess."""

    host: str
    port: int
    api_key: str
    process: subprocess.Popen
    env: dict = field(default_factory=dict)
    log_file: IO[bytes] | None = None

    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        if self.log_file is None:
            return ""
        self.log_file.flush()
        self.log_file.seek(0)
        return self.log_file.read().decode(errors="replace")

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def headers(self) -> dict:
        return {"X-Api-Key": self.api_key}

    def url(self, path: str) -> str:
        return self.base_url + path

    def control(self, path: str, body: Any = None, method: str | None = None, timeout: float = 10.0) -> Any:
        """Call a sandbox (or API) endpoint with the key; returns the decoded JSON (or None)."""
        data = None if body is None and method in (None, "GET", "DELETE") else json.dumps(body or {}).encode()
        method = method or ("GET" if data is None else "POST")
        req = urllib.request.Request(self.url(path), data=data, method=method,  # noqa: S310 - our http URL
                                     headers={**self.headers, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path} -> {exc.code}: {exc.read()[:500]!r}") from exc
        return json.loads(raw) if raw else None

    def reset(self) -> None:
        self.control("/sandbox/reset", {})


def _alive(base_url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(base_url + "/ping", timeout=timeout) as resp:  # noqa: S310
            return resp.status == 200
    except OSError:
        return False


@contextmanager
def run_sandbox(
    port: int | None = None,
    api_key: str = DEFAULT_TEST_KEY,
    env: dict | None = None,
    *,
    engine: str | None = None,
    host: str = "127.0.0.1",
    python: str | None = None,
    inherit_env: bool = False,
    startup_timeout: float = 15.0,
    extra_args: list[str] | None = None,
) -> Iterator[SandboxHandle]:
    """Start ``python -m waha_sandbox`` on ``host:port`` and stop it on exit.

    ``env`` is layered over a copy of ``os.environ``; unless ``inherit_env`` is true,
    inherited ``WAHA_*``/``WHATSAPP_*`` variables are dropped first so a developer's
    own settings cannot leak into the test server.  Tests get fast defaults: auto-pair
    disabled, ``WAHA_BASE_URL`` pointing at the chosen port.  Yields a
    :class:`SandboxHandle`.
    """
    port = port or free_port(host)
    child_env = dict(os.environ)
    if not inherit_env:
        for name in list(child_env):
            if name.startswith(("WAHA_", "WHATSAPP_")):
                del child_env[name]
    child_env.setdefault("WAHA_SANDBOX_AUTOPAIR_SECONDS", "0")
    child_env["WAHA_BASE_URL"] = f"http://{host}:{port}"
    child_env.update(env or {})
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_PROJECT_ROOT), child_env.get("PYTHONPATH")]))
    cmd = [python or sys.executable, "-m", "waha_sandbox", "--host", host, "--port", str(port),
           "--api-key", api_key]
    if engine:
        cmd += ["--engine", engine]
    cmd += extra_args or []
    # Output goes to a temporary file, never a pipe: a full pipe would block the server.
    log_file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally block below
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        cmd, env=child_env, cwd=str(_PROJECT_ROOT), stdout=log_file, stderr=subprocess.STDOUT
    )
    handle = SandboxHandle(host=host, port=port, api_key=api_key, process=proc, env=child_env, log_file=log_file)
    try:
        deadline = time.monotonic() + startup_timeout
        while not _alive(handle.base_url):
            if proc.poll() is not None:
                raise RuntimeError(f"waha_sandbox exited with {proc.returncode}: {handle.output()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"waha_sandbox did not answer /ping within {startup_timeout}s")
            time.sleep(0.05)
        yield handle
    finally:
        stop_process(proc)
        log_file.close()


def stop_process(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """Terminate the sandbox subprocess (SIGTERM, then SIGKILL after ``timeout``)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.02,
               message: str = "condition") -> T:
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
