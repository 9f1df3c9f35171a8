"""Dockerfile, docker-compose files and deployment docs, checked without Docker.

Docker cannot run where these tests run, so the container files are read as
data: YAML for compose, a small instruction parser for the Dockerfile. The
checks keep them consistent with the Procfile, the environment contract of
ARCHITECTURE.md, and every variable that ``config/settings.py`` and
``gunicorn.conf.py`` read. Where it matters, the environment that compose
would give a container is computed (with a small ``${VAR:-default}``
interpolator) and Django is started with it in a subprocess.

No test here touches the database.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# ARCHITECTURE.md's environment table: the names are part of the contract.
ENV_TABLE = (
    "DJANGO_ENV",
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "WAHA_BASE_URL",
    "WAHA_API_KEY",
    "WEBHOOK_BASE_URL",
    "ALLOWED_HOSTS",
    "ACCESS_TOKEN_MINUTES",
    "REFRESH_TOKEN_DAYS",
    "LOGIN_RATE",
    "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_MINUTES",
    "SEND_PACING",
    "METRICS_TOKEN",
    "LOG_LEVEL",
    "LOG_FORMAT",
)

# Variables that config/settings.py reads but that compose deliberately does not
# pass to the containers. A new setting must go into docker-compose*.yml or here.
OPTIONAL_SETTINGS = {
    "FAST_PASSWORD_HASHER": "test runs only (DJANGO_ENV=test)",
}

# The same for gunicorn.conf.py.
OPTIONAL_GUNICORN = {
    "HOST": "the image listens on all interfaces",
    "PORT": "the image, its health probe and the published port assume 8000",
    "PROMETHEUS_MULTIPROC_DIR": "set and emptied by bin/web before gunicorn starts",
}

APP_SERVICES = ("migrate", "web", "worker", "beat")
PROCFILE_SERVICES = ("web", "worker", "beat")

# WAHA.md §1: with one of these WAHA generates a new random key on every start.
WAHA_COMMON_KEYS = {
    "",
    "123",
    "321",
    "waha",
    "admin",
    "0" * 32,
    "1" * 32,
    "sha512:" + hashlib.sha512(b"0" * 32).hexdigest(),
}
# config/settings.py refuses these in production.
SETTINGS_INSECURE_WAHA_KEYS = {"", "123", "321", "waha", "admin", "sandbox-dev-key-change-me"}


# --------------------------------------------------------------------------- helpers
def _read(name: str) -> str:
    return (ROOT / name).read_text(encoding="utf-8")


def _yaml(name: str) -> dict[str, Any]:
    data = yaml.safe_load(_read(name))
    assert isinstance(data, dict), f"{name} is not a YAML mapping"
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _yaml("docker-compose.yml")


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    return _yaml("docker-compose.prod.yml")


def procfile() -> dict[str, str]:
    processes = {}
    for line in _read("Procfile").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            processes[name.strip()] = command.strip()
    return processes


class MissingVariable(Exception):
    """A ``${VAR:?message}`` whose variable is unset or empty."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose-style interpolation: ``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-d}``, ``${VAR-d}``,
    ``${VAR:?e}``, ``${VAR?e}``, ``${VAR:+r}``, ``${VAR+r}``, nested in defaults."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$":
            out.append(char)
            i += 1
            continue
        if text.startswith("$$", i):
            out.append("$")
            i += 2
            continue
        if text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if j >= len(text):
                    raise ValueError(f"unclosed ${{ in {text!r}")
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            out.append(_expand(text[i + 2 : j - 1], env))
            i = j
            continue
        match = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)", text[i:])
        if match:
            out.append(env.get(match.group(1), ""))
            i += match.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _expand(body: str, env: Mapping[str, str]) -> str:
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?$", body, re.DOTALL)
    if not match:
        raise ValueError(f"cannot interpolate ${{{body}}}")
    name, operator, argument = match.group(1), match.group(2), match.group(3) or ""
    value = env.get(name)
    is_set = value is not None and (value != "" or not (operator or "").startswith(":"))
    if operator is None:
        return value or ""
    if operator.endswith("-"):
        return value if is_set else interpolate(argument, env)
    if operator.endswith("?"):
        if not is_set:
            raise MissingVariable(f"{name}: {argument}")
        return value
    return interpolate(argument, env) if is_set else ""


def service_env(files: list[dict[str, Any]], service: str, host: Mapping[str, str]) -> dict[str, str]:
    """The environment compose gives ``service``: files merged in order, then interpolated.

    ``host`` is compose's own environment (shell and .env). A key without a value is
    passed through from ``host`` when set there, else left out.
    """
    merged: dict[str, Any] = {}
    for data in files:
        environment = data.get("services", {}).get(service, {}).get("environment") or {}
        assert isinstance(environment, dict), f"{service}: write environment as a mapping (it is merged by key)"
        merged.update(environment)
    result = {}
    for key, value in merged.items():
        if value is None:
            if key in host:
                result[key] = host[key]
        else:
            result[key] = interpolate(str(value), host)
    return result


def command_argv(command: Any) -> list[str]:
    """A compose or Procfile command as argv, ``$$`` read as ``$`` and ``sh -c "exec ..."`` unwrapped."""
    if isinstance(command, list):
        argv = [str(part).replace("$$", "$") for part in command]
    else:
        argv = shlex.split(str(command).replace("$$", "$"))
    if len(argv) == 3 and argv[0] in {"sh", "/bin/sh", "bash", "/bin/bash"} and argv[1] == "-c":
        argv = shlex.split(argv[2])
        if argv and argv[0] == "exec":
            argv = argv[1:]
    return argv


def settings_env_names() -> set[str]:
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", _read("config/settings.py")))


def gunicorn_env_names() -> set[str]:
    return set(re.findall(r"os\.environ(?:\.get\(|\[)\s*[\"']([A-Z][A-Z0-9_]*)[\"']", _read("gunicorn.conf.py")))


def script_env_names() -> set[str]:
    """Variables that the scripts in docker/ read."""
    names = set(re.findall(r"os\.environ\.get\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']", _read("docker/healthcheck.py")))
    names.update(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", _read("docker/migrate.sh")))
    return names


def compose_env_names(*files: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for data in files:
        for service in (data.get("services") or {}).values():
            environment = service.get("environment") or {}
            names.update(environment if isinstance(environment, dict) else (e.split("=")[0] for e in environment))
    return names


def compose_variables(*names: str) -> set[str]:
    """Variables that the compose files interpolate (``${VAR...}``, not ``$${VAR}``)."""
    found: set[str] = set()
    for name in names:
        for line in _read(name).splitlines():
            if not line.lstrip().startswith("#"):
                found.update(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", line))
    return found


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in _read("Dockerfile").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, arguments = full.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
    assert not pending, "Dockerfile ends inside a continuation line"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list), f"use the exec (JSON) form: {arguments}"
    return value


def collectstatic_build_env() -> dict[str, str]:
    """The inline VAR=value assignments of the RUN step that runs collectstatic."""
    runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN" and "collectstatic" in args]
    assert len(runs) == 1, "exactly one RUN step should run collectstatic"
    words = shlex.split(runs[0])
    env = {}
    for word in words:
        match = re.fullmatch(r"([A-Z_][A-Z0-9_]*)=(.*)", word)
        if not match:
            break
        env[match.group(1)] = match.group(2)
    return env


def healthcheck_module():
    spec = importlib.util.spec_from_file_location("docker_healthcheck", ROOT / "docker" / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """A minimal process environment (none of pytest's DJANGO_ENV=test and friends)."""
    base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "SYSTEMROOT") if key in os.environ}
    return {**base, **extra}


DJANGO_PROBE = r"""
import json, sys
import django
from django.conf import settings
django.setup()
from django.test import Client
result = {
    "DJANGO_ENV": settings.DJANGO_ENV,
    "DEBUG": settings.DEBUG,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "SECURE_SSL_REDIRECT": getattr(settings, "SECURE_SSL_REDIRECT", False),
    "SECURE_PROXY_SSL_HEADER": settings.SECURE_PROXY_SSL_HEADER,
    "TRUSTED_PROXY_COUNT": settings.TRUSTED_PROXY_COUNT,
    "LOG_FORMAT": settings.LOG_FORMAT,
    "STATICFILES_BACKEND": settings.STORAGES["staticfiles"]["BACKEND"],
    "INBOUND_MEDIA": settings.STORAGES["inbound_media"],
    "health": {},
}
client = Client()
for host in sys.argv[1:]:
    result["health"][host] = client.get("/health", HTTP_HOST=host).status_code
print("RESULT:" + json.dumps(result))
"""


def start_django(env: Mapping[str, str], *hosts: str) -> dict[str, Any]:
    """Import the settings with ``env`` in a fresh interpreter and GET /health on each host."""
    completed = subprocess.run(
        [sys.executable, "-c", DJANGO_PROBE, *hosts],
        cwd=ROOT,
        env=clean_env({**env, "DJANGO_SETTINGS_MODULE": "config.settings"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT:")]
    assert lines, completed.stdout[-2000:]
    return json.loads(lines[-1].removeprefix("RESULT:"))


def operator_env() -> dict[str, str]:
    """What an operator puts in the production env file: the required values only."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "gateway.example.com",
        "WAHA_API_KEY": secrets.token_hex(24),
        "METRICS_TOKEN": secrets.token_hex(16),
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "MINIO_ROOT_USER": "minio-admin",
        "MINIO_ROOT_PASSWORD": secrets.token_hex(16),
        "MEDIA_S3_ACCESS_KEY_ID": "waha-gateway",
        "MEDIA_S3_SECRET_ACCESS_KEY": secrets.token_hex(16),
    }


# --------------------------------------------------------------------------- the interpolator itself
def test_interpolate_follows_compose_rules() -> None:
    env = {"SET": "value", "EMPTY": ""}
    assert interpolate("${SET:-d}/${UNSET:-d}/${EMPTY:-d}/${EMPTY-d}", env) == "value/d/d/"
    assert interpolate("a$${SET}b $SET", env) == "a${SET}b value"
    assert interpolate("${UNSET:-x${SET}y}", env) == "xvaluey"
    assert interpolate("${SET:+yes}${UNSET:+no}", env) == "yes"
    with pytest.raises(MissingVariable):
        interpolate("${EMPTY:?required}", env)
    assert interpolate("${EMPTY?required}", env) == ""


# --------------------------------------------------------------------------- compose: structure
def test_all_three_files_parse(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    assert isinstance(compose["services"], dict)
    assert isinstance(prod["services"], dict)
    assert dockerfile_instructions()


def test_compose_has_every_service(compose: dict[str, Any]) -> None:
    services = set(compose["services"])
    assert {"postgres", "redis", "waha", "migrate", "web", "worker", "beat"} <= services
    # The real WAHA image runs in compose; the sandbox is for make run and tests.
    assert "sandbox" not in services


def test_prod_override_adds_no_services(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    assert set(prod["services"]) <= set(compose["services"])


@pytest.mark.parametrize("name", PROCFILE_SERVICES)
def test_process_command_is_the_procfiles(compose: dict[str, Any], prod: dict[str, Any], name: str) -> None:
    expected = shlex.split(procfile()[name])
    assert command_argv(compose["services"][name]["command"]) == expected
    # The override must not change what runs.
    assert "command" not in prod["services"].get(name, {})


def test_backing_images(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["postgres"]["image"].split(":") == ["postgres", "15"]
    assert services["redis"]["image"].split(":") == ["redis", "7"]
    assert services["waha"]["image"].split(":")[0] == "devlikeapro/waha"


def test_app_services_share_the_anchor(compose: dict[str, Any]) -> None:
    anchor = compose["x-app"]
    assert anchor["build"]["context"] == "."
    for name in APP_SERVICES:
        service = compose["services"][name]
        assert service["build"] == anchor["build"], name
        assert service["image"] == anchor["image"], name


def test_app_anchor_environment_has_the_env_table(compose: dict[str, Any]) -> None:
    environment = compose["x-app"]["environment"]
    missing = [name for name in ENV_TABLE if name not in environment]
    assert not missing, f"add to x-app.environment in docker-compose.yml: {missing}"
    for name in APP_SERVICES:
        service_environment = compose["services"][name]["environment"]
        assert set(ENV_TABLE) <= set(service_environment), name


def test_development_values(compose: dict[str, Any]) -> None:
    env = service_env([compose], "web", {})
    assert env["DJANGO_ENV"] == "development"
    assert env["WEBHOOK_BASE_URL"] == "http://web:8000"
    assert env["WAHA_BASE_URL"] == "http://waha:3000"
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    # A .env written for `make run` points at 127.0.0.1: compose must not pick that up.
    leaked = service_env(
        [compose],
        "web",
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "WAHA_BASE_URL": "http://127.0.0.1:3001",
            "WEBHOOK_BASE_URL": "http://127.0.0.1:8000",
        },
    )
    for name in ("DATABASE_URL", "REDIS_URL", "WAHA_BASE_URL", "WEBHOOK_BASE_URL"):
        assert leaked[name] == env[name], name


def test_every_setting_is_wired(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    read_by_settings = settings_env_names()
    assert set(ENV_TABLE) <= read_by_settings, "the regex no longer finds the settings' env reads"
    in_compose = compose_env_names(compose, prod) | set(compose["x-app"]["environment"])
    missing = sorted(read_by_settings - in_compose - set(OPTIONAL_SETTINGS))
    assert not missing, (
        f"config/settings.py reads {missing}: pass them in docker-compose*.yml (a key without a value passes "
        "the variable through when set) or add them to OPTIONAL_SETTINGS with a reason"
    )


def test_every_gunicorn_variable_is_wired(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    read_by_gunicorn = gunicorn_env_names()
    assert {"WEB_CONCURRENCY", "PORT"} <= read_by_gunicorn
    missing = sorted(read_by_gunicorn - compose_env_names(compose, prod) - set(OPTIONAL_GUNICORN))
    assert not missing, f"gunicorn.conf.py reads {missing}: pass them in compose or list them in OPTIONAL_GUNICORN"


def test_app_services_wait_for_migrations(compose: dict[str, Any]) -> None:
    for name in PROCFILE_SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    migrate = compose["services"]["migrate"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert migrate.get("restart", "no") == "no"


def test_migrate_job_runs_migrate_schemas_and_optional_seed(compose: dict[str, Any]) -> None:
    argv = command_argv(compose["services"]["migrate"]["command"])
    script = ROOT / argv[-1]
    assert argv[0] in {"sh", "/bin/sh"} and script.is_file(), argv
    text = script.read_text(encoding="utf-8")
    assert "manage.py migrate_schemas" in text
    assert "manage.py seed_demo" in text and "SEED_DEMO" in text
    subprocess.run(["sh", "-n", str(script)], check=True)
    environment = compose["services"]["migrate"]["environment"]
    assert "SEED_DEMO" in environment and "MIGRATE_EXECUTOR" in environment


def _healthcheck_test(service: dict[str, Any]) -> list[str]:
    healthcheck = service.get("healthcheck") or {}
    assert not healthcheck.get("disable"), "healthcheck disabled"
    test = healthcheck.get("test")
    assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"}, test
    return test


def test_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert "pg_isready" in " ".join(_healthcheck_test(services["postgres"]))
    assert _healthcheck_test(services["redis"])[1:] == ["redis-cli", "ping"]
    assert "/ping" in " ".join(_healthcheck_test(services["waha"]))
    web = _healthcheck_test(services["web"])
    assert web[-1].endswith("docker/healthcheck.py") and (ROOT / "docker" / "healthcheck.py").is_file()
    assert "inspect ping" in " ".join(_healthcheck_test(services["worker"]))
    # beat serves nothing; the image's web probe must not run there.
    assert services["beat"]["healthcheck"].get("disable") is True


def test_waha_service(compose: dict[str, Any]) -> None:
    waha = compose["services"]["waha"]
    environment = waha["environment"]
    assert environment["WHATSAPP_DEFAULT_ENGINE"] == "NOWEB"
    # Media URLs in webhooks are built from WAHA_BASE_URL: the address the app uses.
    app_env = service_env([compose], "web", {})
    assert interpolate(environment["WAHA_BASE_URL"], {}) == app_env["WAHA_BASE_URL"]
    assert "WHATSAPP_FILES_LIFETIME" in environment
    assert any(str(volume).endswith(":/app/.sessions") for volume in waha["volumes"])
    assert "ports" not in waha


@pytest.mark.parametrize("host", [{}, {"WAHA_API_KEY": ""}])
def test_waha_api_key_is_non_trivial_and_shared(compose: dict[str, Any], host: dict[str, str]) -> None:
    key = service_env([compose], "waha", host)["WAHA_API_KEY"]
    assert key not in WAHA_COMMON_KEYS
    assert key not in SETTINGS_INSECURE_WAHA_KEYS
    assert len(key) >= 16
    for name in APP_SERVICES:
        assert service_env([compose], name, host)["WAHA_API_KEY"] == key, name


def test_only_web_publishes_a_port(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    # Compose merges `ports` lists, so an override cannot take a published port
    # back: PostgreSQL, Redis and WAHA must publish nothing in the base file.
    for name in ("postgres", "redis", "waha", "migrate", "worker", "beat"):
        assert "ports" not in compose["services"][name], name
    for name, service in prod["services"].items():
        assert "ports" not in service, name
    (port,) = compose["services"]["web"]["ports"]
    assert interpolate(port, {}) == "127.0.0.1:8000:8000"


# --------------------------------------------------------------------------- compose: production
def test_prod_requires_secrets(prod: dict[str, Any]) -> None:
    environment = prod["x-prod-env"]
    for name in ("SECRET_KEY", "WAHA_API_KEY", "METRICS_TOKEN", "ALLOWED_HOSTS"):
        assert f"${{{name}:?" in environment[name], f"{name} must be required with ${{{name}:?message}}"
        with pytest.raises(MissingVariable):
            interpolate(environment[name], {name: ""})
    assert "${POSTGRES_PASSWORD:?" in prod["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_prod_environment(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    host = operator_env()
    for name in APP_SERVICES:
        env = service_env([compose, prod], name, host)
        assert env["DJANGO_ENV"] == "production", name
        assert env["DEBUG"].lower() in {"false", "0", "off", "no"}, name
        assert env["LOG_FORMAT"] == "json", name
        assert env["SECRET_KEY"] == host["SECRET_KEY"], name
        assert env["WAHA_API_KEY"] == host["WAHA_API_KEY"], name
        assert "*" not in env["ALLOWED_HOSTS"].split(","), name
        assert "TRUSTED_PROXY_COUNT" in env, name
    assert service_env([compose, prod], "waha", host)["WAHA_API_KEY"] == host["WAHA_API_KEY"]
    assert service_env([compose, prod], "migrate", host)["SEED_DEMO"] == "0"


def test_prod_hardening(prod: dict[str, Any]) -> None:
    for name in PROCFILE_SERVICES:
        service = prod["services"][name]
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name
        assert service["restart"] in {"unless-stopped", "always"}, name
        limits = service["deploy"]["resources"]["limits"]
        assert limits.get("memory") and limits.get("cpus"), name
    for name in ("postgres", "redis", "waha"):
        service = prod["services"][name]
        assert service["restart"] in {"unless-stopped", "always"}, name
        assert service["deploy"]["resources"]["limits"].get("memory"), name
    assert prod["services"]["migrate"]["restart"] == "no"
    # beat keeps its schedule file under /app/var, which the read-only root cannot hold.
    assert any(str(volume).endswith(":/app/var") for volume in prod["services"]["beat"]["volumes"])


def test_prod_environment_starts_django(compose: dict[str, Any], prod: dict[str, Any]) -> None:
    """The production settings accept compose's environment; the health probe's Host is allowed."""
    env = service_env([compose, prod], "web", operator_env())
    probe_host = healthcheck_module().probe_host(env["ALLOWED_HOSTS"])
    result = start_django(env, probe_host, "web:8000", "not-allowed.example")
    assert result["DJANGO_ENV"] == "production"
    assert result["DEBUG"] is False
    assert result["LOG_FORMAT"] == "json"
    assert result["STATICFILES_BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    # WAHA posts webhooks to http://web:8000: that host must be allowed and not redirected to HTTPS.
    assert "web" in result["ALLOWED_HOSTS"]
    assert result["SECURE_SSL_REDIRECT"] is False
    # Behind the proxy, X-Forwarded-Proto is believed.
    assert result["TRUSTED_PROXY_COUNT"] >= 1
    assert result["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert result["health"] == {probe_host: 200, "web:8000": 200, "not-allowed.example": 400}


def test_development_environment_starts_django(compose: dict[str, Any]) -> None:
    env = service_env([compose], "web", {})
    probe_host = healthcheck_module().probe_host(env["ALLOWED_HOSTS"])
    result = start_django(env, probe_host)
    assert result["DJANGO_ENV"] == "development"
    assert result["health"] == {probe_host: 200}


# --------------------------------------------------------------------------- Dockerfile
def test_dockerfile_stages() -> None:
    images = [args.split()[0] for keyword, args in dockerfile_instructions() if keyword == "FROM"]
    assert len(images) >= 2, "multi-stage: a builder and a slim final image"
    assert all(image == "python:3.11-slim" for image in images), images
    final = final_stage()
    copies = [args for keyword, args in final if keyword == "COPY" and args.startswith("--from=")]
    assert copies, "the final stage should copy the installed packages from the builder"
    # No compilers in the final image.
    assert not any("build-essential" in args for keyword, args in final if keyword == "RUN")


def test_dockerfile_runs_as_non_root() -> None:
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users, "the final stage needs a USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user == "10001"
    assert any("--uid 10001" in args for keyword, args in final_stage() if keyword == "RUN")


def test_dockerfile_environment() -> None:
    env_text = " ".join(args for keyword, args in final_stage() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env_text
    assert "PYTHONUNBUFFERED=1" in env_text
    # compose (or the orchestrator) decides the environment, not the image.
    for keyword, args in dockerfile_instructions():
        if keyword in {"ENV", "ARG"}:
            assert "DJANGO_ENV" not in args and "SECRET_KEY" not in args, (keyword, args)


def test_dockerfile_healthcheck_and_command() -> None:
    final = final_stage()
    (healthcheck,) = [args for keyword, args in final if keyword == "HEALTHCHECK"]
    _, _, command = healthcheck.partition("CMD ")
    assert exec_form(command)[-1] == "/app/docker/healthcheck.py"
    (cmd,) = [args for keyword, args in final if keyword == "CMD"]
    assert exec_form(cmd) == shlex.split(procfile()["web"])
    assert not [args for keyword, args in final if keyword == "ENTRYPOINT"]
    workdirs = [args for keyword, args in final if keyword == "WORKDIR"]
    assert workdirs[-1] == "/app"


def test_collectstatic_build_values_pass_the_production_checks() -> None:
    env = collectstatic_build_env()
    assert env["DJANGO_ENV"] == "production"
    assert len(env["SECRET_KEY"]) >= 50 and len(set(env["SECRET_KEY"])) >= 5
    assert env["ALLOWED_HOSTS"] == "build.invalid"
    assert env["WAHA_API_KEY"] not in SETTINGS_INSECURE_WAHA_KEYS


def test_collectstatic_build_step_works() -> None:
    """The build's collectstatic, with its inline values, in production mode (dry run: nothing written)."""
    env = collectstatic_build_env()
    completed = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--dry-run", "-v", "0"],
        cwd=ROOT,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]


def test_dockerignore() -> None:
    patterns = {line.strip() for line in _read(".dockerignore").splitlines() if line.strip() and line[0] != "#"}
    for required in (".venv", ".git", ".env", "var", "staticfiles", ".pytest_cache", ".ruff_cache", "**/__pycache__"):
        assert required in patterns, required
    # What the image needs must not be ignored.
    for needed in ("manage.py", "config", "requirements", "bin", "docker", "gunicorn.conf.py", "Procfile", "templates"):
        assert needed not in patterns and f"/{needed}" not in patterns, needed


# --------------------------------------------------------------------------- the health probe script
def test_probe_host_picks_an_allowed_name() -> None:
    probe_host = healthcheck_module().probe_host
    assert probe_host("gateway.example.com,web") == "gateway.example.com"
    assert probe_host(" *, .example.com") == "example.com"
    assert probe_host("*") == "localhost"
    assert probe_host("") == "localhost"


class _Recorder(http.server.BaseHTTPRequestHandler):
    status = 200
    hosts: list[str] = []

    def do_GET(self) -> None:
        type(self).hosts.append(f"{self.headers.get('Host')} {self.path}")
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub_server() -> Iterator[tuple[int, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"hosts": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def _run_probe(port: int, allowed_hosts: str) -> int:
    return subprocess.run(
        [sys.executable, str(ROOT / "docker" / "healthcheck.py")],
        env=clean_env({"PORT": str(port), "ALLOWED_HOSTS": allowed_hosts, "HEALTHCHECK_TIMEOUT": "5"}),
        capture_output=True,
        timeout=30,
    ).returncode


def test_probe_script_healthy(stub_server: tuple[int, type[_Recorder]]) -> None:
    port, handler = stub_server
    assert _run_probe(port, "gateway.example.com,web") == 0
    assert handler.hosts == ["gateway.example.com /health"]


def test_probe_script_unhealthy(stub_server: tuple[int, type[_Recorder]]) -> None:
    port, handler = stub_server
    handler.status = 503
    assert _run_probe(port, "*") == 1


def test_probe_script_nothing_listening() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert _run_probe(port, "*") == 1


# --------------------------------------------------------------------------- docs
def test_deployment_docs_cover_every_variable() -> None:
    docs = _read("docs/DEPLOYMENT_GUIDE.md")
    names = (
        set(ENV_TABLE)
        | settings_env_names()
        | gunicorn_env_names()
        | script_env_names()
        | compose_variables("docker-compose.yml", "docker-compose.prod.yml")
    )
    missing = sorted(name for name in names if f"`{name}`" not in docs)
    assert not missing, f"docs/DEPLOYMENT_GUIDE.md does not mention {missing}"


def test_deployment_docs_cover_the_operational_topics() -> None:
    docs = _read("docs/DEPLOYMENT_GUIDE.md")
    for phrase in (
        "docker compose -f docker-compose.yml -f docker-compose.prod.yml",
        "session pooling",
        "migrate_schemas --executor=multiprocessing",
        "SECURE_PROXY_SSL_HEADER",
        "collectstatic",
        "/waha/sessions/{id}/qr",
        "pg_dump",
    ):
        assert phrase in docs, phrase


def test_the_development_override_publishes_wahas_dashboard_on_this_machine_only():
    """`docker compose up` reads docker-compose.override.yml: WAHA's dashboard at localhost:3001, login from the
    environment. Production names its files, so it never loads the override, and turns the dashboard off."""
    override = yaml.safe_load(_read("docker-compose.override.yml"))
    waha = override["services"]["waha"]
    assert waha["ports"] == ["127.0.0.1:${WAHA_DASHBOARD_PORT:-3001}:3000"]
    environment = waha["environment"]
    assert environment["WAHA_DASHBOARD_ENABLED"] == "true"
    assert environment["WAHA_DASHBOARD_USERNAME"].startswith("${WAHA_DASHBOARD_USERNAME")
    assert environment["WAHA_DASHBOARD_PASSWORD"].startswith("${WAHA_DASHBOARD_PASSWORD")
    assert set(override["services"]) == {"waha"}  # nothing else changes in development
    prod = yaml.safe_load(_read("docker-compose.prod.yml"))["services"]["waha"]
    assert prod["environment"]["WAHA_DASHBOARD_ENABLED"] == "false" and "ports" not in prod
    base = yaml.safe_load(_read("docker-compose.yml"))["services"]["waha"]
    assert "ports" not in base  # compose appends ports across files: production must inherit none
