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


# Inbound media in object storage (MEDIA_STORAGE=s3), as docker-compose.prod.yml configures it.
S3_MEDIA = {"MEDIA_STORAGE": "s3", "MEDIA_S3_BUCKET": "waha-gateway-media", "MEDIA_S3_ENDPOINT_URL": "http://minio:9000",
            "MEDIA_S3_ACCESS_KEY_ID": "waha-gateway", "MEDIA_S3_SECRET_ACCESS_KEY": "Vb3#kq9!Lz7@Wp2$Xr5%Tm8^"}


def test_production_starts_with_media_in_object_storage():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides={**SECURE_ENV, **S3_MEDIA})
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("override, reasons", [
    ({"MEDIA_S3_ACCESS_KEY_ID": "", "MEDIA_S3_SECRET_ACCESS_KEY": ""},
     ["MEDIA_S3_ACCESS_KEY_ID must be set", "MEDIA_S3_SECRET_ACCESS_KEY must be a random value"]),
    # docker-compose.yml's development secret, and MinIO's own default password.
    ({"MEDIA_S3_SECRET_ACCESS_KEY": "compose-dev-media-secret-8d2f6b1e9c4a70"},
     ["MEDIA_S3_SECRET_ACCESS_KEY must be a random value"]),
    ({"MEDIA_S3_SECRET_ACCESS_KEY": "minioadmin"}, ["MEDIA_S3_SECRET_ACCESS_KEY must be a random value"]),
])
def test_production_refuses_object_storage_without_real_credentials(override, reasons):
    result = run_manage("check", env_overrides={**SECURE_ENV, **S3_MEDIA, **override})
    assert result.returncode != 0
    assert "Refusing to start in production" in result.stderr
    for reason in reasons:
        assert reason in result.stderr, reason


@pytest.mark.parametrize("override, reason", [
    ({"MEDIA_S3_BUCKET": ""}, "MEDIA_S3_BUCKET must name the bucket"),
    ({"MEDIA_S3_SECRET_ACCESS_KEY": ""}, "MEDIA_S3_ACCESS_KEY_ID and MEDIA_S3_SECRET_ACCESS_KEY are set together"),
    ({"MEDIA_S3_ADDRESSING_STYLE": "dns"}, "MEDIA_S3_ADDRESSING_STYLE must be auto, path or virtual"),
    ({"MEDIA_STORAGE": "nfs"}, "MEDIA_STORAGE must be local or s3"),
])
def test_object_storage_misconfiguration_is_named_in_any_mode(override, reason):
    env = {**S3_MEDIA, **override, "DJANGO_ENV": "development"}
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0 and reason in result.stderr, result.stderr[-2000:]
