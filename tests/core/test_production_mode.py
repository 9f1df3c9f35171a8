"""DJANGO_ENV=production refuses unsafe settings; check --deploy is clean."""

import os
import subprocess
import sys

import pytest

from tests.support_processes import PROJECT_ROOT

SECURE_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "p9#Jx2!vQ7@LmZ4$wT8&kR1^bN6*hY3(cF5)gD0_sA-eU+iO=oP",
    "ALLOWED_HOSTS": "api.example.com,.example.com",
    "WAHA_API_KEY": "a-real-and-long-waha-api-key-4f1c",
    "METRICS_TOKEN": "metrics-token-for-prod-check",
    "DEBUG": "false",
}


def run_manage(*args, env_overrides):
    env = {key: value for key, value in os.environ.items() if key not in SECURE_ENV}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_in_production_mode():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=SECURE_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("override, reason", [
    ({"SECRET_KEY": ""}, "SECRET_KEY"),
    ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ({"DEBUG": "true"}, "DEBUG"),
    ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
    ({"WAHA_API_KEY": "waha"}, "WAHA_API_KEY"),
])
def test_production_refuses_to_start_with_insecure_settings(override, reason):
    env = {**SECURE_ENV, **override}
    if override.get("SECRET_KEY") == "":
        env.pop("SECRET_KEY")
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr and reason in result.stderr
