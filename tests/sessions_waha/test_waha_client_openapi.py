"""Every endpoint the WAHA client calls exists, with that method, in WAHA's openapi.json.

``tests/data/waha_openapi.json`` is WAHA's published spec (2026.7.1), copied into the
repository so the test stands alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import responses

from sessions_waha.waha import ENDPOINTS, WahaClient
from tests.sessions_waha.waha_fakes import API_KEY, BASE

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "waha_openapi.json"
PNG = b"\x89PNG\r\n\x1a\n"
FILE = {"mimetype": "image/jpeg", "url": "https://cdn.test/x.jpg"}


@pytest.fixture(scope="module")
def spec_operations() -> set[tuple[str, str]]:
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }


def template_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")


@pytest.mark.parametrize(("operation", "endpoint"), sorted(ENDPOINTS.items()))
def test_endpoint_table_entry_is_in_wahas_spec(spec_operations, operation, endpoint):
    assert endpoint in spec_operations


def test_spec_declares_the_api_key_header():
    spec = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    scheme = spec["components"]["securitySchemes"]["api_key"]
    assert (scheme["in"], scheme["name"]) == ("header", "X-Api-Key")


# Each public method with arguments that make it reach WAHA, and the answer to fake.
CALLS = [
    ("ping", {}, {"json": {"message": "pong"}}),
    ("server_version", {}, {"json": {"version": "x"}}),
    ("sessions_list", {}, {"json": []}),
    ("session_get", {"name": "s1"}, {"json": {}}),
    ("session_create", {"name": "s1", "config": {}}, {"json": {}}),
    ("session_update", {"name": "s1", "config": {}}, {"json": {}}),
    ("session_delete", {"name": "s1"}, {"body": ""}),
    ("session_start", {"name": "s1"}, {"json": {}}),
    ("session_stop", {"name": "s1"}, {"json": {}}),
    ("session_logout", {"name": "s1"}, {"json": {}}),
    ("session_restart", {"name": "s1"}, {"json": {}}),
    ("session_me", {"name": "s1"}, {"json": None}),
    ("qr_png", {"name": "s1"}, {"body": PNG, "content_type": "image/png"}),
    ("qr_base64", {"name": "s1"}, {"json": {"mimetype": "image/png", "data": "AA=="}}),
    ("qr_raw", {"name": "s1"}, {"json": {"value": "2@x"}}),
    ("request_code", {"name": "s1", "phone_number": "12132132130"}, {"json": {"code": "A-B"}}),
    ("new_message_id", {"session": "s1"}, {"json": {"id": "B"}}),
    ("send_text", {"session": "s1", "chat_id": "12132132131", "text": "t"}, {"json": {}}),
    ("send_image", {"session": "s1", "chat_id": "12132132131", "file": FILE}, {"json": {}}),
    ("send_file", {"session": "s1", "chat_id": "12132132131", "file": FILE}, {"json": {}}),
    ("send_voice", {"session": "s1", "chat_id": "12132132131", "file": FILE}, {"json": {}}),
    ("send_video", {"session": "s1", "chat_id": "12132132131", "file": FILE}, {"json": {}}),
    (
        "send_location",
        {"session": "s1", "chat_id": "12132132131", "latitude": 1.0, "longitude": 2.0},
        {"json": {}},
    ),
    ("send_seen", {"session": "s1", "chat_id": "12132132131"}, {"json": {}}),
    ("start_typing", {"session": "s1", "chat_id": "12132132131"}, {"json": {"result": True}}),
    ("stop_typing", {"session": "s1", "chat_id": "12132132131"}, {"json": {"result": True}}),
    ("check_exists", {"session": "s1", "phone": "12132132131"}, {"json": {"numberExists": False}}),
    (
        "message_get",
        {"session": "s1", "chat_id": "12132132131@c.us", "message_id": "true_12132132131@c.us_3EB0AA"},
        {"json": {"id": "true_12132132131@c.us_3EB0AA"}},
    ),
]


def test_every_operation_in_the_table_is_exercised():
    assert {name for name, _, _ in CALLS} == set(ENDPOINTS)


@pytest.mark.parametrize(("method_name", "kwargs", "answer"), CALLS, ids=[c[0] for c in CALLS])
def test_requests_the_client_makes_match_the_spec(spec_operations, method_name, kwargs, answer):
    """Run the real method and match the request it sent against the spec's templates."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as waha:
        pattern = re.compile(re.escape(BASE) + r"/.*")
        for http_method in ("GET", "POST", "PUT", "DELETE"):
            waha.add(http_method, pattern, status=200, **answer)
        getattr(WahaClient(BASE, API_KEY), method_name)(**kwargs)
        (call,) = waha.calls
    path = call.request.path_url.split("?")[0]
    method = call.request.method
    matches = [
        template
        for spec_method, template in spec_operations
        if spec_method == method and template_regex(template).match(path)
    ]
    assert matches, f"{method} {path} is not in WAHA's openapi.json"
