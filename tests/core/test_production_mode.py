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
    "METRICS_TOKEN": "metrics-token-for-prod-check-7b1e9d",
    "JWT_SIGNING_KEY": "Zq8@pL3!vN6#tR1$wK9%yB4^mC7&hF2*jD5(gS0)xA-eU+iO=o",
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
    ({"WAHA_API_KEY": "waha2"}, "WAHA_API_KEY"),
    ({"WAHA_API_KEY": "sandbox-dev-key-change-me"}, "WAHA_API_KEY"),
    ({"WAHA_API_KEY": "a" * 40}, "WAHA_API_KEY"),
    ({"JWT_SIGNING_KEY": "secret"}, "JWT_SIGNING_KEY"),
    ({"JWT_SIGNING_KEY": "0123456789abcdef0123456789abcdef"}, "JWT_SIGNING_KEY"),
    ({"METRICS_TOKEN": "x"}, "METRICS_TOKEN"),
    ({"METRICS_TOKEN": "metrics-token-for-prod-check"}, "METRICS_TOKEN"),
])
def test_production_refuses_to_start_with_insecure_settings(override, reason):
    env = {**SECURE_ENV, **override}
    if override.get("SECRET_KEY") == "":
        env.pop("SECRET_KEY")
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr and reason in result.stderr


def test_every_weak_secret_is_named_at_once():
    env = {**SECURE_ENV, "JWT_SIGNING_KEY": "secret", "METRICS_TOKEN": "x", "WAHA_API_KEY": "waha2"}
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0
    for name in ("JWT_SIGNING_KEY", "METRICS_TOKEN", "WAHA_API_KEY"):
        assert f"{name} must be a random value" in result.stderr, name


def test_unset_jwt_signing_key_falls_back_to_the_checked_secret_key():
    env = {key: value for key, value in SECURE_ENV.items() if key != "JWT_SIGNING_KEY"}
    result = run_manage("check", env_overrides=env)
    assert result.returncode == 0, result.stderr
