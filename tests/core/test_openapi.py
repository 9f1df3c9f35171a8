"""OpenAPI schema and Swagger UI: complete, valid, served without a CDN."""

import re

import pytest
import yaml
from django.core.management import call_command

from tests.support import TenantClient

CONTRACT_PATHS = {
    "/auth/login": {"post"}, "/auth/refresh": {"post"}, "/auth/logout": {"post"}, "/auth/profile": {"get"},
    "/users": {"get", "post"}, "/users/{user_id}": {"get", "put", "patch", "delete"},
    "/health": {"get"}, "/health/db": {"get"}, "/ready": {"get"},
}


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        response = TenantClient().get("/api/schema")
        assert response.status_code == 200
        return yaml.safe_load(response.content)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def test_schema_is_valid_and_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_schema_describes_every_contract_endpoint(schema):
    for path, methods in CONTRACT_PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path


def test_every_operation_has_summary_and_responses(schema):
    for path, method, operation in operations(schema):
        assert operation.get("summary"), (method, path)
        assert any(code.startswith("2") for code in operation["responses"]), (method, path)


def test_tenant_operations_document_errors_header_and_examples(schema):
    for path, method, operation in operations(schema):
        if path.startswith(("/health", "/ready", "/webhooks/")):
            continue
        params = {p["name"] for p in operation.get("parameters", [])}
        assert "X-Tenant" in params, (method, path)
        assert {"404", "405"} <= set(operation["responses"]), (method, path)
        problem = operation["responses"]["404"]["content"]["application/problem+json"]
        assert problem["examples"], (method, path)
        assert "400" in operation["responses"], (method, path)
        if "requestBody" in operation:
            assert {"413", "415"} <= set(operation["responses"]), (method, path)


def test_protected_operations_use_the_bearer_scheme(schema):
    assert schema["components"]["securitySchemes"]["jwtAuth"]["scheme"] == "bearer"
    assert schema["paths"]["/users"]["get"]["security"] == [{"jwtAuth": []}]
    assert {"401", "403"} <= set(schema["paths"]["/users"]["get"]["responses"])


def test_login_documents_tokens_and_lockout(schema):
    login = schema["paths"]["/auth/login"]["post"]
    assert "429" in login["responses"]
    ref = login["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"access", "refresh", "user"} <= set(schema["components"]["schemas"][ref]["properties"])


def test_swagger_ui_uses_local_assets_only(db):
    page = TenantClient().get("/api/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/static/") or a.startswith("/api/") for a in assets), assets
    assert "cdn" not in page.lower() and "unpkg" not in page.lower()
    for asset in (a for a in assets if a.startswith("/static/")):
        response = TenantClient().get(asset)
        assert response.status_code == 200, asset
        assert b"".join(response.streaming_content) if response.streaming else response.content


def test_every_error_is_problem_json_with_the_problem_component(schema):
    for path, method, operation in operations(schema):
        for code, response in operation["responses"].items():
            if code.startswith("4") or (code.startswith("5") and not path.startswith(("/health", "/ready"))):
                assert list(response["content"]) == ["application/problem+json"], (method, path, code)
                ref = response["content"]["application/problem+json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Problem", (method, path, code)


@pytest.mark.parametrize("method, path, codes", [
    ("post", "/users", {"409"}), ("put", "/users/{user_id}", {"409"}), ("patch", "/users/{user_id}", {"409"}),
    ("delete", "/users/{user_id}", {"409"}), ("post", "/messages/bulk", {"409"}),
    ("post", "/messages/send", {"409"}), ("post", "/waha/sessions", {"409", "503"}),
    ("get", "/messages", {"400"}), ("get", "/messages/stats", {"400"}), ("get", "/users", {"400"}),
    ("post", "/webhooks/waha", {"400", "401", "404", "413"}),
])
def test_status_codes_the_code_answers_are_documented(schema, method, path, codes):
    assert codes <= set(schema["paths"][path][method]["responses"])


def test_codes_that_cannot_happen_are_not_documented(schema):
    assert "403" not in schema["paths"]["/auth/profile"]["get"]["responses"]  # every role may
    assert "415" not in schema["paths"]["/webhooks/waha"]["post"]["responses"]  # the body is verified as bytes
    assert "429" not in schema["paths"]["/auth/refresh"]["post"]["responses"]  # only login is throttled
    assert "413" not in schema["paths"]["/messages/{message_id}/retry"]["post"]["responses"]  # no body


def test_page_size_bounds_and_session_name_pattern_are_in_the_schema(schema):
    from sessions_waha.services import NAME_PATTERN

    page_size = next(p for p in schema["paths"]["/users"]["get"]["parameters"] if p["name"] == "page_size")
    assert (page_size["schema"]["minimum"], page_size["schema"]["maximum"]) == (1, 200)
    name = schema["components"]["schemas"]["SessionCreateRequest"]["properties"]["name"]
    assert name["pattern"] == NAME_PATTERN.pattern and name["type"] == "string"
    assert schema["components"]["schemas"]["SessionCreateRequest"]["properties"]["start"]["type"] == "boolean"


def _strings(node, where):
    """Every string schema inside ``node`` (properties, items, additional properties), with where it is."""
    if not isinstance(node, dict):
        return
    if node.get("type") == "string":
        yield where, node
    for name, child in (node.get("properties") or {}).items():
        yield from _strings(child, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        yield from _strings(node.get(key), f"{where}[]")
    for key in ("allOf", "oneOf", "anyOf"):
        for index, child in enumerate(node.get(key) or []):
            yield from _strings(child, f"{where}/{key}{index}")


def _written_strings(schema):
    """The strings a client writes: request bodies (the *Request components) and query parameters."""
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            yield from _strings(component, name)
    for path, method, operation in operations(schema):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                yield from _strings(parameter.get("schema"), f"{method.upper()} {path}?{parameter['name']}")


def test_every_written_text_says_that_u0000_is_refused(schema):
    """DRF and Django refuse U+0000 in text (PostgreSQL cannot store it): the schema says so, or a client
    (and Schemathesis) takes a refused value for a valid one."""
    free = [where for where, string in _written_strings(schema)
            if "enum" not in string and "format" not in string and string.get("maxLength") != 0
            and not where.endswith("?cursor")  # any cursor but the service's own is a 404 (documented)
            and re.search(string.get("pattern", ""), "a\u0000b") is not None]
    assert free == [], "\n".join(free)
