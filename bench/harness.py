"""Shared plumbing for the benchmarks: a scratch database and the service's real processes.

Everything runs on loopback: the WAHA sandbox, gunicorn, a Celery worker and
PostgreSQL/Redis on 127.0.0.1. Nothing here is used by the test suite.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
SANDBOX_KEY = "bench-sandbox-key-0123456789"
PASSWORD = "Bench-Password-2026"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(database: str, redis_db: int, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_ENV": "development", "DEBUG": "false", "LOG_LEVEL": "warning",
           "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
           "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}", "SEND_PACING": "off",
           "WAHA_API_KEY": SANDBOX_KEY, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}"}
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=1800)
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def django_shell(env: dict[str, str], code: str) -> str:
    return manage(env, "shell", "-c", code)


class Service:
    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def stack(*, database: str, redis_db: int = 9, web_workers: int = 2, worker: bool = True,
          worker_concurrency: int = 2, auto_ack: bool = False, extra_env: dict[str, str] | None = None):
    """Scratch database (migrated), sandbox, gunicorn and optionally a Celery worker."""
    sandbox_port, web_port = free_port(), free_port()
    sandbox_url, web_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{web_port}"
    env = env_for(database, redis_db, WAHA_BASE_URL=sandbox_url, WEBHOOK_BASE_URL=web_url, PORT=str(web_port),
                  HOST="127.0.0.1", WEB_CONCURRENCY=str(web_workers),
                  PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="bench-metrics-"), **(extra_env or {}))
    subprocess.run([PYTHON, "bin/ensure_database.py"], cwd=ROOT, env=env, check=True, capture_output=True)
    manage(env, "migrate_schemas", "--executor=standard")
    subprocess.run(["redis-cli", "-n", str(redis_db), "flushdb"], check=True, capture_output=True)
    services = [Service("sandbox", [PYTHON, "-m", "waha_sandbox", "--port", str(sandbox_port), "--api-key",
                                    SANDBOX_KEY], {**env, "WAHA_SANDBOX_AUTOPAIR_SECONDS": "0",
                                                   "WAHA_SANDBOX_AUTO_ACKS": "1" if auto_ack else "0"})]
    try:
        wait_http(sandbox_url + "/ping")
        services.append(Service("web", [str(ROOT / "bin" / "web")], env))
        wait_http(web_url + "/health")
        if worker:
            services.append(Service("worker", [str(ROOT / "bin" / "worker"), "--loglevel=WARNING",
                                               f"--concurrency={worker_concurrency}", "--without-mingle",
                                               "--without-gossip"], env))
        yield {"env": env, "web": web_url, "sandbox": sandbox_url}
    finally:
        for service in reversed(services):
            service.stop()


def tenant_with_sessions(env: dict[str, str], sandbox_url: str, sessions: int = 1, slug: str = "bench") -> list[str]:
    """Provision the bench tenant (idempotent), an admin and ``sessions`` WORKING sessions; return their names."""
    code = f"""
from django_tenants.utils import tenant_context
from tenants.models import Tenant
from tenants.services import TenantSpec, tenant_provision
from sessions_waha.models import Session
from sessions_waha.services import session_create, session_refresh
import requests
tenant = Tenant.objects.filter(slug={slug!r}).first() or tenant_provision(TenantSpec(
    {slug!r}, "Bench", "{slug}.localhost", "admin@{slug}.test", {PASSWORD!r}))
names = []
from tenants.models import SessionRoute, WahaServer
SessionRoute.objects.filter(tenant=tenant).delete()
WahaServer.objects.update(session_capacity=1000)
with tenant_context(tenant):
    Session.objects.all().update(deleted_at=__import__('django.utils.timezone', fromlist=['now']).now())
    for index in range({sessions}):
        session = session_create(name=f"s{{index}}-" + __import__('secrets').token_hex(3))
        requests.post({sandbox_url!r} + f"/sandbox/sessions/{{session.waha_name}}/pair", json={{}},
                      headers={{"X-Api-Key": {SANDBOX_KEY!r}}}, timeout=10)
        session = session_refresh(session=session)
        assert session.status == "WORKING", session.status
        names.append(session.name)
print("NAMES=" + ",".join(names))
"""
    output = django_shell(env, code)
    line = next(line for line in output.splitlines() if line.startswith("NAMES="))
    return line.split("=", 1)[1].split(",")


def login(web_url: str, slug: str = "bench") -> str:
    response = requests.post(web_url + "/auth/login", json={"email": f"admin@{slug}.test", "password": PASSWORD},
                             headers={"X-Tenant": slug}, timeout=30)
    response.raise_for_status()
    return response.json()["access"]


def wrk(url: str, *, connections: int, seconds: int, script: str | None = None,
        headers: dict[str, str] | None = None) -> dict[str, float]:
    """Run wrk; return requests/s and latency percentiles in ms."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script]
    output = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60).stdout
    result: dict[str, float] = {}
    for line in output.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            result["rps"] = float(parts[1])
        elif len(parts) == 2 and parts[0] in {"50%", "90%", "99%"}:
            result[f"p{parts[0][:-1]}_ms"] = _ms(parts[1])
        elif "Non-2xx" in line:
            result["non_2xx"] = float(parts[-1])
    return result


def _ms(value: str) -> float:
    for suffix, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def report(name: str, data: dict) -> None:
    print(json.dumps({"benchmark": name, **data}, indent=2, default=str))
    sys.stdout.flush()
