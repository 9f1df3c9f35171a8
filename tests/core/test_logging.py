"""One line per event, JSON or console by LOG_FORMAT, each with the request id."""

import json
import os
import subprocess
import sys

from tests.support_processes import PROJECT_ROOT

SNIPPET = (
    "import logging\n"
    "from core.logging import request_id_var\n"
    "request_id_var.set('req-abc12345')\n"
    "logging.getLogger('messaging').warning('message.failed message_id=%s', 'm1')\n"
)


def run_with(log_format: str) -> str:
    env = {**os.environ, "DJANGO_ENV": "development", "LOG_FORMAT": log_format, "LOG_LEVEL": "info"}
    result = subprocess.run([sys.executable, "manage.py", "shell", "-c", SNIPPET], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    return result.stdout


def test_json_log_lines_carry_the_request_id():
    line = next(line for line in run_with("json").splitlines() if "message.failed" in line)
    record = json.loads(line)
    assert record["request_id"] == "req-abc12345" and record["level"] == "WARNING"
    assert record["message"] == "message.failed message_id=m1" and record["logger"] == "messaging"


def test_console_log_lines_carry_the_request_id():
    line = next(line for line in run_with("console").splitlines() if "message.failed" in line)
    assert "request_id=req-abc12345" in line and "message_id=m1" in line
