"""The whole service as real processes, for end-to-end tests.

``e2e_stack`` (once per run) starts a private Redis server (so tests may
restart it), gunicorn, a Celery worker and Celery beat, all on the test
database and pointed at the WAHA sandbox. Tests talk to it over HTTP only.
Data lives in the ``e2e`` tenant and is committed; ``e2e`` (per test) wipes
that tenant's rows afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import requests
from django.db import OperationalError, connection
from django_tenants.utils import schema_context

from tests.sandbox_fixtures import SANDBOX_KEY
from tests.support import TEST_PASSWORD
from tests.support_processes import PROJECT_ROOT, free_port, run_web, service_env, wait_until

E2E_SLUG = "e2e"
E2E_HOST = "e2e.localhost"


class Process:
    """A restartable child process with its output in a temporary file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.name, self.command, self.env = name, command, env
        self.log = tempfile.NamedTemporaryFile(prefix=f"e2e-{name}-", suffix=".log", delete=False)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (a prefork worker's children too)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=20)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log_size(self) -> int:
        """Where the output ends now: ``output(since=log_size())`` later reads only what came after."""
        return os.path.getsize(self.log.name)

    def output(self, since: int | None = None) -> str:
        """The tail of the output, or everything written after the ``since`` mark."""
        with open(self.log.name, "rb") as handle:
            if since is not None:
                handle.seek(since)
            text = handle.read().decode(errors="replace")
        return text if since is not None else text[-6000:]


@dataclass
class Stack:
    web_url: str
    redis: Process
    worker: Process
    beat: Process
    redis_url: str
    processes: list[Process] = field(default_factory=list)
    # The worker's own metrics endpoint (WORKER_METRICS_PORT).
    worker_metrics_url: str = ""
    # The events worker (-Q events): event webhooks to tenants.
    events_worker: Process | None = None

    def start_redis(self) -> None:
        """Start Redis again after a test killed it, and wait until it answers."""
        self.redis.start()
        assert wait_until(self._redis_up, timeout=10), "redis did not come back"

    def _redis_up(self) -> bool:
        import redis

        try:
            return redis.Redis.from_url(self.redis_url).ping()
        except redis.RedisError:
            return False


@pytest.fixture(scope="session")
def e2e_stack(django_db_setup, django_db_blocker, sandbox_process) -> Iterator[Stack]:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        pytest.fail("redis-server is needed for the end-to-end tests (install Debian's redis-server)")
    redis_port = free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    redis_proc = Process(
        "redis",
        [redis_server, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        dict(os.environ),
    )
    redis_proc.start()
    web_port = free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    metrics_dir = tempfile.mkdtemp(prefix="e2e-metrics-")
    env = service_env(
        REDIS_URL=redis_url,
        WAHA_BASE_URL=sandbox_process.base_url,
        WAHA_API_KEY=SANDBOX_KEY,
        WEBHOOK_BASE_URL=web_url,
        SEND_PACING="off",
        PROMETHEUS_MULTIPROC_DIR=metrics_dir,
        MESSAGE_RETRY_BASE_SECONDS="0.3",
        MESSAGE_RETRY_MAX_SECONDS="2",
        SENDING_STUCK_SECONDS="4",
        SWEEP_SECONDS="1",
        SESSIONS_RECONCILE_SECONDS="3600",
        DISPATCH_SLICE_SECONDS="5",
        DISPATCH_LOCK_SECONDS="8",
        # Every request looks its tenant up: the dropped-connection test needs that read to meet the
        # dead connection, not a cached answer.
        TENANT_CACHE_SECONDS="0",
        CELERY_BEAT_SCHEDULE_FILE=os.path.join(metrics_dir, "beat-schedule"),
        # Web and worker share the media files (inbound copies, uploads for sending) in a directory of the run.
        MEDIA_ROOT=os.path.join(metrics_dir, "media"),
        # Every e2e test logs in once from 127.0.0.1: a fast run makes more than the default 10 a minute. The
        # login throttle itself is tested in tests/core/test_abuse.py.
        LOGIN_RATE="600/m",
        # Event webhooks: retries in seconds, a short timeout (and so a short lease), a sweep every second.
        EVENT_RETRY_SCHEDULE=",".join(["0.5"] + ["1"] * 30), EVENT_DELIVERY_TIMEOUT_SECONDS="3",
        EVENT_DELIVERY_BATCH_SIZE="8", EVENT_SWEEP_SECONDS="1", EVENT_DRAIN_SLICE_SECONDS="5",
    )
    worker_metrics_port = free_port()
    worker = Process(
        "worker",
        [
            str(PROJECT_ROOT / "bin" / "worker"),
            "--loglevel=WARNING",
            "--concurrency=2",
            "--without-mingle",
            "--without-gossip",
        ],
        {**env, "WORKER_METRICS_PORT": str(worker_metrics_port)},
    )
    events_worker = Process(
        "events-worker",
        [
            str(PROJECT_ROOT / "bin" / "worker"),
            "-Q",
            "events",
            "-n",
            "events@%h",
            "--pool",
            "threads",
            "--concurrency=4",
            "--loglevel=WARNING",
            "--without-mingle",
            "--without-gossip",
        ],
        env,
    )
    beat = Process(
        "beat",
        ["celery", "-A", "config", "beat", "--loglevel=WARNING", f"--schedule={env['CELERY_BEAT_SCHEDULE_FILE']}"],
        env,
    )
    assert wait_until(lambda: Stack._redis_up(Stack(web_url, redis_proc, worker, beat, redis_url)), timeout=10)
    with run_web(workers=2, port=web_port, env=env) as url:
        worker.start()
        events_worker.start()
        beat.start()
        stack = Stack(
            url,
            redis_proc,
            worker,
            beat,
            redis_url,
            [worker, events_worker, beat],
            worker_metrics_url=f"http://127.0.0.1:{worker_metrics_port}/metrics",
            events_worker=events_worker,
        )
        try:
            yield stack
        finally:
            for process in (beat, events_worker, worker, redis_proc):
                process.stop()


@dataclass
class E2E:
    """Per-test handle: an admin's HTTP session on the e2e tenant."""

    stack: Stack
    http: requests.Session
    admin_email: str

    def url(self, path: str) -> str:
        return self.stack.web_url + path

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.url(path), timeout=30, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.http.post(self.url(path), json=body, timeout=60, **kwargs)


E2E_TABLES = (
    "events_attempt",
    "events_delivery",
    "events_event",
    "events_endpoint",
    "webhooks_webhookevent",
    "messaging_idempotencykey",
    "messaging_mediaupload",
    "messaging_pendingack",
    "messaging_message",
    "messaging_batch",
    "messaging_conversation",
    "sessions_waha_session",
    "apikeys_apikey",
    "token_blacklist_blacklistedtoken",
    "token_blacklist_outstandingtoken",
    "accounts_user",
)


def _wipe_e2e_rows() -> None:
    with schema_context(f"t_{E2E_SLUG}"), connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [f"t_{E2E_SLUG}"])
        present = {row[0] for row in cursor.fetchall()}
        tables = [table for table in E2E_TABLES if table in present]
        # The live stack keeps reading these tables (the events sweep every second, beat, the workers), in an
        # order of its own: a TRUNCATE of them all can meet one of those reads in a deadlock, which PostgreSQL
        # breaks by failing one side. That is the wipe's to retry, not a finding.
        for attempt in range(5):
            try:
                cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
                break
            except OperationalError as exc:
                if not isinstance(exc.__cause__, psycopg.errors.DeadlockDetected) or attempt == 4:
                    raise
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM tenants_sessionroute WHERE tenant_id = (SELECT id FROM tenants_tenant WHERE slug = %s)",
            [E2E_SLUG],
        )


@pytest.fixture
def e2e(e2e_stack, django_db_blocker, sandbox_process) -> Iterator[E2E]:
    """A clean e2e tenant with a logged-in TENANT_ADMIN, a reset sandbox and a live stack."""
    from accounts.models import User
    from accounts.roles import Role

    requests.post(f"{sandbox_process.base_url}/sandbox/reset", headers={"X-Api-Key": SANDBOX_KEY}, timeout=10)
    with django_db_blocker.unblock():
        _wipe_e2e_rows()
        with schema_context(f"t_{E2E_SLUG}"):
            admin = User.objects.create_user("admin@e2e.test", TEST_PASSWORD, role=Role.TENANT_ADMIN)
    http = requests.Session()
    http.headers["X-Tenant"] = E2E_SLUG
    login = http.post(
        f"{e2e_stack.web_url}/auth/login", json={"email": admin.email, "password": TEST_PASSWORD}, timeout=30
    )
    assert login.status_code == 200, login.text
    http.headers["Authorization"] = f"Bearer {login.json()['access']}"
    try:
        yield E2E(e2e_stack, http, admin.email)
    finally:
        http.close()
        with django_db_blocker.unblock():
            _wipe_e2e_rows()
