"""The schema is the truth: Schemathesis against the live service finds no server error and no schema violation.

The real processes (gunicorn, Celery, the WAHA sandbox) run as in the other
end-to-end tests; a TENANT_ADMIN of the ``e2e`` tenant logs in, and
Schemathesis generates requests from ``/api/schema`` for every operation,
runs every check on the answers, and must report zero failures.

The run is stateless (the examples, coverage and fuzzing phases) and bounded:
a few examples per operation and a wall-clock limit. Schemathesis reuses ids
from earlier answers, so ``tests/schemathesis_hooks.py`` keeps it from
changing the logged-in admin itself (password, deactivation, role: the token
would die and the rest of the run would test nothing), and accepts a 400 to a
valid-by-schema body only when the fields it names depend on data the schema
cannot know (an existing session, password rules), each with its reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import redis
from django_tenants.utils import schema_context

from tests.e2e_fixtures import E2E_SLUG
from tests.support_processes import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.security]

MAX_EXAMPLES = 6
TIME_LIMIT_SECONDS = 240


def run_schemathesis(base_url: str, token: str, user_id: str,
                     workdir: Path) -> tuple[subprocess.CompletedProcess, list[dict]]:
    events = workdir / "events.ndjson"
    # One worker: Hypothesis describes strategies with ast.parse, which is not thread-safe on CPython 3.11
    # ("AST constructor recursion depth mismatch" with two).
    command = [
        str(PROJECT_ROOT / ".venv" / "bin" / "schemathesis"), "run",
        f"{base_url}/api/schema?format=json", "--url", base_url,
        "--header", "X-Tenant: e2e", "--header", f"Authorization: Bearer {token}",
        "--checks", "all", "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES), "--seed", "20261124", "--workers", "1",
        "--request-timeout", "30", "--generation-database", "none", "--no-shrink",
        "--report", "ndjson", "--report-ndjson-path", str(events), "--no-color",
        "--suppress-health-check", "all", "--warnings", "off",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(PROJECT_ROOT),
           "SCHEMATHESIS_RUN_AS_USER_ID": user_id}
    completed = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                               timeout=TIME_LIMIT_SECONDS)
    lines = [json.loads(line) for line in events.read_text().splitlines() if line.strip()] if events.exists() else []
    return completed, lines


@pytest.fixture
def forget_logins(e2e, django_db_blocker):
    """The run posts to /auth/login freely: clear its rate-limit counters and axes' failures afterwards,
    or the next end-to-end test's login from the same address would be a 429."""
    yield
    from axes.models import AccessAttempt, AccessFailureLog

    client = redis.Redis.from_url(e2e.stack.redis_url)
    for key in client.scan_iter("rl:*"):
        client.delete(key)
    with django_db_blocker.unblock(), schema_context(f"t_{E2E_SLUG}"):
        AccessAttempt.objects.all().delete()
        AccessFailureLog.objects.all().delete()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(e2e, forget_logins):
    token = e2e.http.headers["Authorization"].split(" ", 1)[1]
    user_id = e2e.get("/auth/profile").json()["id"]
    with tempfile.TemporaryDirectory(prefix="schemathesis-") as workdir:
        completed, events = run_schemathesis(e2e.stack.web_url, token, user_id, Path(workdir))
    output = completed.stdout + completed.stderr
    print(output[-20000:])
    assert events, output[-8000:]
    assert completed.returncode == 0, output[-20000:]
    # The run was made as the admin from start to end: its token still works.
    assert e2e.get("/auth/profile").status_code == 200
