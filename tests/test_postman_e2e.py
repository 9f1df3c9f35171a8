"""The Postman collection passes against the live service: newman runs it end to end.

The real processes (gunicorn, Celery worker and beat, the WAHA sandbox) run as
in the other end-to-end tests. The ``e2e`` tenant gets what the collection
expects of the demo data: a TENANT_ADMIN and an AUDITOR with known passwords
and a WORKING session ``main`` (paired through the sandbox's control
endpoint). newman (pinned in the Makefile, installed by ``make newman`` when
missing) then runs ``postman/`` with the environment pointed at the stack, and
every request and assertion must pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis
import requests
from django_tenants.utils import schema_context

from tests.e2e_fixtures import E2E_SLUG
from tests.sandbox_fixtures import SANDBOX_KEY
from tests.support import TEST_PASSWORD
from tests.support_processes import PROJECT_ROOT, wait_until

pytestmark = pytest.mark.e2e

COLLECTION = PROJECT_ROOT / "postman" / "waha-gateway.postman_collection.json"
ENVIRONMENT = PROJECT_ROOT / "postman" / "local.postman_environment.json"
NEWMAN = PROJECT_ROOT / ".tools" / "newman" / "node_modules" / ".bin" / "newman"
AUDITOR_EMAIL = "auditor@e2e.test"
INSTALL_TIMEOUT_SECONDS = 300
RUN_TIMEOUT_SECONDS = 240


def newman_binary() -> Path:
    """The pinned newman of the Makefile, installed from npm on first use."""
    if not NEWMAN.exists():
        if shutil.which("npm") is None or shutil.which("make") is None:
            pytest.fail("the Postman test needs make and npm (Node.js 18 or newer) to install newman")
        installed = subprocess.run(["make", "--no-print-directory", "newman"], cwd=PROJECT_ROOT, capture_output=True,
                                   text=True, timeout=INSTALL_TIMEOUT_SECONDS)
        assert installed.returncode == 0 and NEWMAN.exists(), installed.stdout + installed.stderr
    return NEWMAN


def clear_login_limits(stack, django_db_blocker) -> None:
    """Login is rate limited per client IP and locked per email: start and leave with clean counters."""
    from axes.models import AccessAttempt, AccessFailureLog

    client = redis.Redis.from_url(stack.redis_url)
    for key in client.scan_iter("rl:*"):
        client.delete(key)
    with django_db_blocker.unblock(), schema_context(f"t_{E2E_SLUG}"):
        AccessAttempt.objects.all().delete()
        AccessFailureLog.objects.all().delete()


@pytest.fixture
def postman_tenant(e2e, sandbox_process, django_db_blocker):
    """The e2e tenant as the collection expects it: an auditor and a WORKING session 'main'."""
    from accounts.models import User
    from accounts.roles import Role

    with django_db_blocker.unblock(), schema_context(f"t_{E2E_SLUG}"):
        User.objects.create_user(AUDITOR_EMAIL, TEST_PASSWORD, role=Role.AUDITOR)
    created = e2e.post("/waha/sessions", {"name": "main"})
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    sandbox = requests.Session()
    sandbox.headers["X-Api-Key"] = SANDBOX_KEY
    (waha_name,) = [s["name"] for s in sandbox.get(f"{sandbox_process.base_url}/api/sessions?all=true",
                                                   timeout=10).json()]
    assert wait_until(lambda: sandbox.get(f"{sandbox_process.base_url}/api/sessions/{waha_name}",
                                          timeout=10).json()["status"] == "SCAN_QR_CODE", timeout=10)
    paired = sandbox.post(f"{sandbox_process.base_url}/sandbox/sessions/{waha_name}/pair",
                          json={"phone": "4915100000000"}, timeout=10)
    assert paired.status_code == 201, paired.text
    assert wait_until(lambda: e2e.get(f"/waha/sessions/{session_id}").json()["status"] == "WORKING", timeout=20)
    clear_login_limits(e2e.stack, django_db_blocker)
    try:
        yield e2e
    finally:
        sandbox.close()
        clear_login_limits(e2e.stack, django_db_blocker)


def failures_of(report: dict) -> list[str]:
    lines = []
    for failure in report.get("run", {}).get("failures", []):
        error = failure.get("error", {})
        where = failure.get("source", {}).get("name") or failure.get("parent", {}).get("name") or "?"
        lines.append(f"{where}: {error.get('test') or error.get('name')}: {error.get('message')}")
    return lines


def test_postman_collection_passes_against_the_live_service(postman_tenant):
    newman = newman_binary()
    env_vars = {
        "baseUrl": postman_tenant.stack.web_url, "tenant": E2E_SLUG,
        "email": postman_tenant.admin_email, "password": TEST_PASSWORD,
        "auditorEmail": AUDITOR_EMAIL, "auditorPassword": TEST_PASSWORD,
        "sessionName": "main", "sessionWaitSeconds": "30", "metricsToken": os.environ.get("METRICS_TOKEN", ""),
    }
    with tempfile.TemporaryDirectory(prefix="newman-") as workdir:
        report_path = Path(workdir) / "report.json"
        command = [str(newman), "run", str(COLLECTION), "--environment", str(ENVIRONMENT),
                   "--timeout-request", "30000", "--timeout", str((RUN_TIMEOUT_SECONDS - 20) * 1000),
                   "--reporters", "cli,json", "--reporter-json-export", str(report_path), "--color", "off",
                   "--disable-unicode"]
        for key, value in env_vars.items():
            command += ["--env-var", f"{key}={value}"]
        completed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS)
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
    output = completed.stdout + completed.stderr
    stats = report.get("run", {}).get("stats", {})
    summary = {name: (stats.get(name, {}).get("total"), stats.get(name, {}).get("failed"))
               for name in ("requests", "assertions", "testScripts", "prerequestScripts")}
    print(f"newman (total, failed): {summary}")
    failures = failures_of(report)
    assert report, output[-8000:]
    assert completed.returncode == 0 and not failures, "\n".join(failures) + "\n\n" + output[-12000:]
    # Every request of the collection ran (the wait loop may add a few), and each had assertions.
    assert summary["requests"][0] >= 80 and summary["assertions"][0] >= 250, summary
