"""Inbound media in object storage, checked against the compose files (Docker does not run here).

Compose runs MinIO and a one-shot job (``minio-init``, ``docker/minio-init.sh``) that creates the private bucket
and the gateway's own MinIO user; web and worker store inbound media there through the S3 API
(``MEDIA_STORAGE=s3``), so no volume is shared between them and production's read-only root file system is no
obstacle. Production requires every credential from the environment and accepts any S3-compatible store. The
bucket script itself runs here against a stand-in ``mc`` that records its calls.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.test_containers import (
    ROOT,
    MissingVariable,
    _yaml,
    clean_env,
    operator_env,
    service_env,
    start_django,
)

MEDIA_SERVICES = ("web", "worker")
APP_SERVICES = ("migrate", "web", "worker", "beat")
S3_BACKEND = "messaging.storage.InboundMediaS3Storage"
INIT_SCRIPT = ROOT / "docker" / "minio-init.sh"
# MinIO refuses secret keys longer than this.
MINIO_SECRET_MAX = 40


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _yaml("docker-compose.yml")


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    return _yaml("docker-compose.prod.yml")


def _release_tag(image: str, repository: str) -> str:
    name, _, tag = image.partition(":")
    assert name == repository, image
    assert re.fullmatch(r"RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z", tag), f"pin {repository} to a release"
    return tag


# --------------------------------------------------------------------------- development (docker-compose.yml)
def test_minio_is_pinned_healthy_private_to_the_network_and_persistent(compose: dict[str, Any]) -> None:
    minio = compose["services"]["minio"]
    _release_tag(minio["image"], "minio/minio")
    assert minio["command"] == ["server", "/data"]
    assert minio["healthcheck"]["test"] == ["CMD", "mc", "ready", "local"]
    assert "minio-data:/data" in minio["volumes"] and "minio-data" in compose["volumes"]
    assert "ports" not in minio  # only web publishes a port; the API serves the files


def test_the_bucket_job_runs_once_minio_is_healthy(compose: dict[str, Any]) -> None:
    job = compose["services"]["minio-init"]
    _release_tag(job["image"], "minio/mc")
    assert job["depends_on"] == {"minio": {"condition": "service_healthy"}}
    assert job["restart"] == "no"
    assert job["volumes"] == ["./docker/minio-init.sh:/docker/minio-init.sh:ro"]
    assert job["entrypoint"] == ["sh", "/docker/minio-init.sh"]
    subprocess.run(["sh", "-n", str(INIT_SCRIPT)], check=True)


@pytest.mark.parametrize(
    "host",
    [
        {},
        {
            "MEDIA_S3_BUCKET": "media",
            "MEDIA_S3_ACCESS_KEY_ID": "gw",
            "MEDIA_S3_SECRET_ACCESS_KEY": "a-secret-from-the-env-file-7c1d",
        },
    ],
)
def test_web_and_worker_store_media_in_minios_bucket(compose: dict[str, Any], host: dict[str, str]) -> None:
    job = service_env([compose], "minio-init", host)
    minio = service_env([compose], "minio", host)
    assert job["MINIO_ROOT_USER"] == minio["MINIO_ROOT_USER"]
    assert job["MINIO_ROOT_PASSWORD"] == minio["MINIO_ROOT_PASSWORD"]
    # The gateway's own user, not MinIO's administrator; a secret MinIO accepts.
    assert job["MEDIA_S3_ACCESS_KEY_ID"] != job["MINIO_ROOT_USER"]
    assert 8 <= len(job["MEDIA_S3_SECRET_ACCESS_KEY"]) <= MINIO_SECRET_MAX
    for name in APP_SERVICES:
        env = service_env([compose], name, host)
        assert env["MEDIA_STORAGE"] == "s3", name
        assert env["MEDIA_S3_ENDPOINT_URL"] == "http://minio:9000", name
        for variable in ("MEDIA_S3_BUCKET", "MEDIA_S3_ACCESS_KEY_ID", "MEDIA_S3_SECRET_ACCESS_KEY"):
            assert env[variable] == job[variable], (name, variable)
    for name in MEDIA_SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert depends["minio-init"] == {"condition": "service_completed_successfully"}, name


def test_no_volume_is_shared_for_media(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    for data in (compose, prod):
        for name in APP_SERVICES:
            volumes = data["services"][name].get("volumes") or []
            assert not [v for v in volumes if "media" in str(v)], (name, volumes)
        assert "media" not in (data.get("volumes") or {})


def test_a_make_run_env_file_does_not_move_media_out_of_minio(compose: dict[str, Any]) -> None:
    # A .env written for `make run` (local files, a MinIO on 127.0.0.1) is read by compose too.
    leaked = service_env([compose], "web", {"MEDIA_STORAGE": "local", "MEDIA_S3_ENDPOINT_URL": "http://127.0.0.1:9000"})
    assert leaked["MEDIA_STORAGE"] == "s3" and leaked["MEDIA_S3_ENDPOINT_URL"] == "http://minio:9000"


def test_the_development_stack_configures_the_s3_storage(compose: dict[str, Any]) -> None:
    media = start_django(service_env([compose], "web", {}))["INBOUND_MEDIA"]
    assert media["BACKEND"] == S3_BACKEND
    options = media["OPTIONS"]
    assert options["endpoint_url"] == "http://minio:9000" and options["addressing_style"] == "path"
    assert options["bucket_name"] == "waha-gateway-media" and options["access_key"] == "waha-gateway"
    assert options["default_acl"] is None and options["querystring_auth"] is True
    assert options["file_overwrite"] is False


# --------------------------------------------------------------------------- production (docker-compose.prod.yml)
# Which services cannot start without each credential.
PROD_CREDENTIALS = {
    "MEDIA_S3_ACCESS_KEY_ID": ("minio-init", *APP_SERVICES),
    "MEDIA_S3_SECRET_ACCESS_KEY": ("minio-init", *APP_SERVICES),
    "MINIO_ROOT_USER": ("minio", "minio-init"),
    "MINIO_ROOT_PASSWORD": ("minio", "minio-init"),
}


@pytest.mark.parametrize("missing", sorted(PROD_CREDENTIALS))
def test_prod_requires_every_storage_credential(compose: dict[str, Any], prod: dict[str, Any], missing: str) -> None:
    host = {**operator_env(), missing: ""}
    for name in PROD_CREDENTIALS[missing]:
        with pytest.raises(MissingVariable, match=missing):
            service_env([compose, prod], name, host)


def test_prod_uses_the_operators_credentials_only(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    host = operator_env()
    minio = service_env([compose, prod], "minio", host)
    job = service_env([compose, prod], "minio-init", host)
    root = {name: host[name] for name in ("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD")}
    assert {name: minio[name] for name in root} == root
    assert {name: job[name] for name in root} == root
    for name in (*APP_SERVICES, "minio-init"):
        env = service_env([compose, prod], name, host)
        assert env["MEDIA_S3_ACCESS_KEY_ID"] == host["MEDIA_S3_ACCESS_KEY_ID"], name
        assert env["MEDIA_S3_SECRET_ACCESS_KEY"] == host["MEDIA_S3_SECRET_ACCESS_KEY"], name
    assert prod["services"]["minio"]["restart"] == "unless-stopped"
    assert prod["services"]["minio"]["deploy"]["resources"]["limits"]["memory"]
    assert "ports" not in prod["services"]["minio"]


def test_prod_works_with_any_s3_compatible_store(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    """An external store instead of compose's MinIO: its endpoint, region and addressing from the env file."""
    host = {
        **operator_env(),
        "MEDIA_S3_ENDPOINT_URL": "https://s3.eu-central-1.amazonaws.com",
        "MEDIA_S3_REGION": "eu-central-1",
        "MEDIA_S3_ADDRESSING_STYLE": "virtual",
        "MEDIA_S3_BUCKET": "acme-gateway-media",
    }
    env = service_env([compose, prod], "web", host)
    result = start_django(env)
    assert result["DJANGO_ENV"] == "production"
    options = result["INBOUND_MEDIA"]["OPTIONS"]
    assert result["INBOUND_MEDIA"]["BACKEND"] == S3_BACKEND
    assert options["endpoint_url"] == "https://s3.eu-central-1.amazonaws.com"
    assert options["region_name"] == "eu-central-1" and options["addressing_style"] == "virtual"
    assert options["bucket_name"] == "acme-gateway-media"
    assert options["secret_key"] == host["MEDIA_S3_SECRET_ACCESS_KEY"]


def test_prod_refuses_the_development_media_secret(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    development = service_env([compose], "web", {})["MEDIA_S3_SECRET_ACCESS_KEY"]
    env = service_env([compose, prod], "web", {**operator_env(), "MEDIA_S3_SECRET_ACCESS_KEY": development})
    completed = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env({**env, "DJANGO_SETTINGS_MODULE": "config.settings"}),
    )
    assert completed.returncode != 0
    assert "MEDIA_S3_SECRET_ACCESS_KEY must be a random value" in completed.stderr


# --------------------------------------------------------------------------- docker/minio-init.sh
FAKE_MC = """#!/bin/sh
# Records each call (`admin policy create` also the policy document it reads); fails where FAIL_ON matches.
printf '%s\\n' "$*" >>"$MC_LOG"
case "$*" in
  "admin policy create "*) cat "$6" >>"$MC_LOG"; printf '\\n' >>"$MC_LOG" ;;
esac
if [ -n "$FAIL_ON" ]; then
  case "$*" in *"$FAIL_ON"*) exit 1 ;; esac
fi
exit 0
"""

INIT_ENV = {
    "MINIO_ROOT_USER": "minio-admin",
    "MINIO_ROOT_PASSWORD": "root-password-0123456789",
    "MEDIA_S3_BUCKET": "waha-gateway-media",
    "MEDIA_S3_ACCESS_KEY_ID": "waha-gateway",
    "MEDIA_S3_SECRET_ACCESS_KEY": "media-secret-0123456789abcdef",
}


def run_init(tmp_path: Path, fail_on: str = "") -> tuple[int, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "mc").write_text(FAKE_MC)
    (bin_dir / "mc").chmod(0o755)
    log = tmp_path / "mc.log"
    log.write_text("")
    completed = subprocess.run(
        ["sh", str(INIT_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=30,
        env={
            **INIT_ENV,
            "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
            "MC_LOG": str(log),
            "FAIL_ON": fail_on,
            "TMPDIR": str(tmp_path),
        },
    )
    return completed.returncode, log.read_text().splitlines()


def test_the_bucket_script_makes_a_private_bucket_and_a_user_limited_to_it(tmp_path: Path) -> None:
    # `detach` fails on a first run (nothing attached yet), as real mc does; the script goes on.
    returncode, calls = run_init(tmp_path, fail_on="admin policy detach")
    assert returncode == 0, calls
    assert calls[0] == "alias set gateway-minio http://minio:9000 minio-admin root-password-0123456789"
    assert "mb --ignore-existing gateway-minio/waha-gateway-media" in calls
    assert "anonymous set none gateway-minio/waha-gateway-media" in calls
    assert "admin user add gateway-minio waha-gateway media-secret-0123456789abcdef" in calls
    assert calls[-1] == "admin policy attach gateway-minio waha-gateway-media --user waha-gateway"
    policy = json.loads(calls[calls.index(next(c for c in calls if c.startswith("admin policy create"))) + 1])
    resources = {resource for statement in policy["Statement"] for resource in statement["Resource"]}
    assert resources == {"arn:aws:s3:::waha-gateway-media", "arn:aws:s3:::waha-gateway-media/*"}
    actions = {action for statement in policy["Statement"] for action in statement["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject", "s3:PutObject", "s3:DeleteObject"}


def test_the_bucket_script_runs_again_and_stops_at_a_real_failure(tmp_path: Path) -> None:
    first, _ = run_init(tmp_path)
    again, calls = run_init(tmp_path)
    assert first == again == 0 and calls[-1].startswith("admin policy attach")
    # Any other failure stops the job, so that web and worker (service_completed_successfully) never start.
    for step in ("mb --ignore-existing", "admin user add", "admin policy attach"):
        returncode, calls = run_init(tmp_path, fail_on=step)
        assert returncode != 0 and calls[-1].startswith(step), step


def test_the_bucket_job_is_given_every_variable_the_script_reads(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    # The script runs under `set -u`: a variable the job's environment lacks would stop it.
    read = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", INIT_SCRIPT.read_text())) - {"TMPDIR"}
    assert read == set(INIT_ENV)
    assert read <= set(service_env([compose], "minio-init", {}))
    assert read <= set(service_env([compose, prod], "minio-init", operator_env()))
