"""The documentation names every environment variable, endpoint and make target the code has.

Each test reads the code mechanically and fails with the names a document is missing, so a new setting, view or
target cannot be merged undocumented. The rules:

Environment variables
    *Read by the service*: the ``env.<cast>("NAME")`` and ``env("NAME")`` calls of ``config/settings.py``
    (parsed with ``ast``), every ``os.environ`` / ``os.getenv`` read in the service's own Python code (not tests,
    benchmarks or the sandbox), the ``${NAME}`` / ``$NAME`` reads of ``Procfile``, ``bin/*`` and ``docker/*.sh``
    and the ``$${NAME}`` reads in the Makefile's recipes. *Read by compose*: every ``${NAME}`` in the two compose
    files (``$${...}`` is the container's own shell). Each of them must be the name of a row (a backticked name in
    the first cell of a table row) in the "Configuration" section of docs/DEPLOYMENT_GUIDE.md, and each row there
    must name a variable that something reads. ``.env.example`` lists (set or commented out) only variables the
    service reads. ``docker-compose.yml`` hands every setting to the app containers (the prod override adds the
    production-only ones). The sandbox's variables (``waha_sandbox/``) are documented in its own README's table.
Endpoints
    Every operation of the OpenAPI schema, generated from each URLconf that ``/api/schema`` serves
    (``SPECTACULAR_SETTINGS["SERVE_URLCONF"]``), appears in docs/API_GUIDE.md as ``METHOD /path``; path
    parameters match whatever their name (``/users/{user_id}`` is documented as ``/users/{id}``). Every other
    route of those URLconfs (``/metrics``, ``/api/schema``, ...) appears there as a path; the admin console and the
    catch-all 404 are not API endpoints.
Make targets
    Every target with a rule in the Makefile (file targets such as ``$(BIN)/python`` are not targets a user types)
    appears in README.md as ``make <target>``: the README is what a user reads, ``make help`` is a short reminder.
    The variables a user sets on the command line (``NAME ?= default``, and ``$(NAME)`` used but never assigned)
    appear in README.md too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT_GUIDE = ROOT / "docs" / "DEPLOYMENT_GUIDE.md"
API_GUIDE = ROOT / "docs" / "API_GUIDE.md"
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_FILES = (ROOT / "docker-compose.yml", ROOT / "docker-compose.prod.yml", ROOT / "docker-compose.override.yml")

# Set by the operating system or the container runtime, not by an operator of this service.
SYSTEM_VARIABLES = {
    "PATH",  # the shell's search path (the Makefile puts .venv/bin in front)
    "TMPDIR",  # where bin/web puts its default Prometheus directory
    "HOSTNAME",  # the worker's health check addresses celery@$HOSTNAME
    "HOME",
}
# Settings that only apply under DJANGO_ENV=production: the prod override hands them on, the base file need not.
PRODUCTION_ONLY_SETTINGS = {"SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_PRELOAD"}
# Service addresses the development compose file fixes to its own services (a .env written for `make run` points at
# 127.0.0.1, which inside a container is the container itself); CELERY_BROKER_URL would otherwise override REDIS_URL.
# Only the prod override hands them on when they are set.
PROD_ONLY_ADDRESSES = {"CELERY_BROKER_URL"}
# Settings that only tests use (documented, but never given to a container).
TEST_ONLY_SETTINGS = {"FAST_PASSWORD_HASHER"}  # only read under DJANGO_ENV=test
# Sandbox variables its README may leave out (none today).
SANDBOX_UNDOCUMENTED: set[str] = set()
# .PHONY names without a rule (none today).
PHONY_WITHOUT_RULE: set[str] = set()

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
SKIPPED_DIRS = {".venv", ".git", "tests", "bench", "waha_sandbox", "staticfiles", "var", ".tools", "node_modules"}


# --------------------------------------------------------------------------- helpers: reading the code


def _is_environ(node: ast.AST, env_names: set[str]) -> bool:
    """``os.environ``, or a local mapping named like the environment (``env``)."""
    if isinstance(node, ast.Name):
        return node.id in env_names
    return isinstance(node, ast.Attribute) and node.attr == "environ" and isinstance(node.value, ast.Name) \
        and node.value.id == "os"


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and ENV_NAME.match(node.value):
        return node.value
    return None


def env_reads(source: str, env_names: Iterable[str] = ("env",)) -> set[str]:
    """Names read from the environment in a Python module.

    ``env.str("X")`` / ``env.get("X")`` / ``os.environ.get("X")`` / ``env("X")`` / ``os.getenv("X")``,
    ``env["X"]``, ``"X" in env`` and helpers called with the mapping and a name (``_float(env, "X", 1.0)``).
    ``os.environ.setdefault("X", ...)`` sets a variable and is not a read.
    """
    env_names = set(env_names)
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            first = _name(node.args[0]) if node.args else None
            if first and (
                (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in env_names)
                or (isinstance(func, ast.Attribute) and func.attr == "get" and _is_environ(func.value, env_names))
                or (isinstance(func, ast.Name) and func.id in env_names)
                or (isinstance(func, ast.Attribute) and func.attr == "getenv")
            ):
                found.add(first)
            if any(_is_environ(arg, env_names) for arg in node.args):
                found.update(n for arg in node.args if (n := _name(arg)))
        elif isinstance(node, ast.Subscript) and _is_environ(node.value, env_names):
            if name := _name(node.slice):
                found.add(name)
        elif isinstance(node, ast.Compare) and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
            if any(_is_environ(c, env_names) for c in node.comparators) and (name := _name(node.left)):
                found.add(name)
    return found


def settings_variables() -> set[str]:
    return env_reads((ROOT / "config" / "settings.py").read_text())


def _service_python_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        if SKIPPED_DIRS.intersection(parts) or "migrations" in parts:
            continue
        files.append(path)
    return files


SHELL_READ = re.compile(r"\$\{?([A-Z][A-Z0-9_]*)")


def _shell_files() -> list[Path]:
    scripts = [p for p in (ROOT / "bin").iterdir() if p.is_file() and p.suffix != ".py"]
    return [ROOT / "Procfile", *scripts, *sorted((ROOT / "docker").glob("*.sh"))]


def process_variables() -> set[str]:
    """What the service's processes read besides the settings: gunicorn, bin/, docker/, Procfile, Makefile."""
    names: set[str] = set()
    for path in _service_python_files():
        names |= env_reads(path.read_text(), env_names=())
    for path in _shell_files():
        names |= set(SHELL_READ.findall(path.read_text()))
    names |= set(re.findall(r"\$\$\{?([A-Z][A-Z0-9_]*)", MAKEFILE.read_text()))
    return names - SYSTEM_VARIABLES


def compose_variables() -> set[str]:
    """``${NAME}`` interpolated by compose (``$${NAME}`` is left to the container's shell)."""
    names: set[str] = set()
    for path in COMPOSE_FILES:
        text = "\n".join(line for line in path.read_text().splitlines() if not line.lstrip().startswith("#"))
        names |= set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", text))
    return names - SYSTEM_VARIABLES


def sandbox_variables() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "waha_sandbox").glob("*.py"):
        if path.name != "testing.py":  # sets variables for the child it starts, reads none itself
            names |= env_reads(path.read_text())
    return names


# --------------------------------------------------------------------------- helpers: reading the docs


def markdown_section(text: str, heading: str) -> str:
    """From ``## heading`` to the next heading of the same level."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"no '## {heading}' section"
    return match.group(1)


def table_row_names(text: str) -> set[str]:
    """The backticked upper-case names in the first cell of each table row."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            first_cell = line.split("|")[1]
            names |= {n for n in re.findall(r"`([^`]+)`", first_cell) if ENV_NAME.match(n)}
    return names


def documented_configuration() -> set[str]:
    return table_row_names(markdown_section(DEPLOYMENT_GUIDE.read_text(), "Configuration"))


def _missing(names: Iterable[str]) -> list[str]:
    return sorted(names)


# --------------------------------------------------------------------------- environment variables


def test_the_collectors_find_what_they_must():
    """Guards the parsers themselves: an empty or truncated set would make the checks below pass vacuously."""
    assert {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "CHECK_NEW_NUMBERS", "WEBHOOK_SWEEP_SECONDS"} \
        <= settings_variables()
    assert {"WEB_CONCURRENCY", "HOST", "PORT", "HEALTHCHECK_TIMEOUT", "SEED_DEMO", "WORKER_CONCURRENCY",
            "PROMETHEUS_MULTIPROC_DIR", "DB_APPLICATION_NAME"} <= process_variables()
    assert {"APP_IMAGE", "POSTGRES_PASSWORD", "WAHA_IMAGE_TAG"} <= compose_variables()
    assert {"WAHA_SANDBOX_AUTOPAIR_SECONDS", "WHATSAPP_HOOK_RETRIES_ATTEMPTS", "WAHA_SANDBOX_PORT"} \
        <= sandbox_variables()
    assert {"SECRET_KEY", "WEB_CONCURRENCY", "APP_IMAGE"} <= documented_configuration()


def test_every_variable_the_code_reads_is_in_the_configuration_tables():
    read = settings_variables() | process_variables() | compose_variables()
    missing = read - documented_configuration()
    assert not missing, f"add a row to the Configuration tables of docs/DEPLOYMENT_GUIDE.md for {_missing(missing)}"


def test_the_configuration_tables_name_only_variables_something_reads():
    read = settings_variables() | process_variables() | compose_variables()
    stale = documented_configuration() - read
    assert not stale, f"docs/DEPLOYMENT_GUIDE.md documents variables nothing reads: {_missing(stale)}"


def test_env_example_lists_only_variables_the_service_reads():
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    assert listed, ".env.example lists no variable"
    unknown = listed - settings_variables() - process_variables()
    assert not unknown, f".env.example lists variables the service does not read: {_missing(unknown)}"


def test_compose_hands_every_setting_to_the_app_containers():
    base = yaml.safe_load(COMPOSE_FILES[0].read_text())
    prod = yaml.safe_load(COMPOSE_FILES[1].read_text())
    base_env = set(base["x-app"]["environment"])
    prod_env = set(prod["x-prod-env"])
    settings = settings_variables()
    missing = settings - PRODUCTION_ONLY_SETTINGS - PROD_ONLY_ADDRESSES - TEST_ONLY_SETTINGS - base_env
    assert not missing, f"docker-compose.yml (x-app environment) does not pass {_missing(missing)}"
    missing_prod = ((PRODUCTION_ONLY_SETTINGS | PROD_ONLY_ADDRESSES) & settings) - prod_env - base_env
    assert not missing_prod, f"docker-compose.prod.yml does not pass {_missing(missing_prod)}"
    unknown = base_env - settings - process_variables()
    assert not unknown, f"docker-compose.yml passes variables nothing reads: {_missing(unknown)}"


def test_every_sandbox_variable_is_in_the_sandbox_readme():
    readme = (ROOT / "waha_sandbox" / "README.md").read_text()
    documented = table_row_names(markdown_section(readme, "Environment"))
    missing = sandbox_variables() - documented - SANDBOX_UNDOCUMENTED
    assert not missing, f"add {_missing(missing)} to the Environment table of waha_sandbox/README.md"


# --------------------------------------------------------------------------- endpoints

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def _normalise(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def _api_guide() -> str:
    return _normalise(API_GUIDE.read_text())


def schema_operations() -> set[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.settings import spectacular_settings

    operations = set()
    for urlconf in spectacular_settings.SERVE_URLCONF:
        schema = SchemaGenerator(urlconf=urlconf).get_schema(request=None, public=True)
        for path, item in schema["paths"].items():
            operations |= {(method.upper(), _normalise(path)) for method in item if method in HTTP_METHODS}
    return operations


def _documented_path(path: str) -> re.Pattern:
    # Not a prefix of a longer path (`/messages` must not be satisfied by `/messages/send`).
    return re.compile(rf"(?<![\w}}/]){re.escape(path)}(?![\w/{{-])")


def test_every_schema_operation_is_in_the_api_guide():
    operations = schema_operations()
    assert ("POST", "/messages/send") in operations and ("DELETE", "/users/{}") in operations
    guide = _api_guide()
    missing = [f"{method} {path}" for method, path in sorted(operations, key=lambda op: (op[1], op[0]))
               if not re.search(rf"\b{method} " + _documented_path(path).pattern, guide)]
    assert not missing, f"docs/API_GUIDE.md does not document {missing}"


def _routes(patterns, prefix: str = "") -> Iterable[str]:
    from django.urls import URLPattern, URLResolver
    from django.urls.resolvers import RoutePattern

    for entry in patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue  # the catch-all 404 (re_path "^")
        route = prefix + str(entry.pattern)
        if route.startswith("admin"):
            continue  # the admin console, not an API endpoint
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def test_every_route_is_in_the_api_guide():
    from importlib import import_module

    from django.conf import settings

    routes = {_normalise(route) for urlconf in settings.SPECTACULAR_SETTINGS["SERVE_URLCONF"]
              for route in _routes(import_module(urlconf).urlpatterns)}
    assert {"/metrics", "/api/schema", "/users/{}"} <= routes
    guide = _api_guide()
    missing = sorted(route for route in routes if not _documented_path(route).search(guide))
    assert not missing, f"docs/API_GUIDE.md does not mention {missing}"


# --------------------------------------------------------------------------- make targets


def make_targets() -> set[str]:
    """Targets with a rule; ``$(BIN)/python:`` and other file targets start with ``$`` and are skipped."""
    return set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", MAKEFILE.read_text(), re.M))


def test_every_make_target_is_in_the_readme():
    targets = make_targets()
    assert {"run", "test", "test-module", "postman"} <= targets
    readme = README.read_text()
    missing = sorted(t for t in targets if not re.search(rf"\bmake {re.escape(t)}(?![\w-])", readme))
    assert not missing, f"README.md does not mention {['make ' + t for t in missing]}"


def test_every_phony_name_has_a_rule():
    makefile = MAKEFILE.read_text()
    phony = {name for line in re.findall(r"^\.PHONY:(.*)$", makefile, re.M) for name in line.split()}
    without_rule = phony - make_targets() - PHONY_WITHOUT_RULE
    assert not without_rule, f".PHONY names without a rule: {sorted(without_rule)}"


def test_every_make_variable_a_user_sets_is_in_the_readme():
    makefile = MAKEFILE.read_text()
    assigned = set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*[:?]?=", makefile, re.M))
    defaults = set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*\?=", makefile, re.M))
    used = set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", makefile))
    user_variables = defaults | (used - assigned - {"CURDIR", "MAKE", "MAKEFLAGS"})
    assert {"RUN_SANDBOX", "PYTEST_ARGS", "M"} <= user_variables
    readme = README.read_text()
    missing = sorted(v for v in user_variables if not re.search(rf"(?<![\w$]){v}(?!\w)", readme))
    assert not missing, f"README.md does not mention the make variables {missing}"

