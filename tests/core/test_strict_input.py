"""Input the schema refuses is refused: page sizes, empty filters, JSON types, the session name pattern."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from accounts.roles import Role


@pytest.mark.parametrize("value", ["null", "0", "-1", "abc", "201", "1000", "", "1.5", "+5", "٣"])
@pytest.mark.parametrize("path", ["/users", "/messages", "/conversations", "/waha/sessions"])
def test_page_size_outside_1_to_200_is_a_400_problem(admin_client, path, value):
    response = admin_client.get(f"{path}?page_size={value}")
    assert response.status_code == 400, (path, value)
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error" and "page_size" in response.json()["errors"]


@pytest.mark.parametrize("value", ["1", "200", "050"])
def test_page_size_from_1_to_200_is_used(admin_client, value):
    assert admin_client.get(f"/users?page_size={value}").status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "status=",
        "direction=",
        "session=",
        "conversation=",
        "batch=",
        "chat_id=",
        "created_after=",
        "created_before=",
        "search=",
        "status=lost",
    ],
)
def test_an_empty_or_invalid_message_filter_is_a_400(admin_client, query):
    response = admin_client.get(f"/messages?{query}")
    assert response.status_code == 400, query
    assert set(response.json()["errors"]) == {query.split("=")[0]}


@pytest.mark.parametrize("query", ["since=", "until=", "session=", "since=yesterday"])
def test_an_empty_or_invalid_stats_filter_is_a_400(admin_client, query):
    response = admin_client.get(f"/messages/stats?{query}")
    assert response.status_code == 400 and set(response.json()["errors"]) == {query.split("=")[0]}


TIME_PARAMETERS = [
    ("/messages", "created_after"), ("/messages", "created_before"), ("/messages/stats", "since"),
    ("/messages/stats", "until"),
]


@pytest.mark.parametrize("path, name", TIME_PARAMETERS)
def test_a_time_with_an_offset_postgresql_lacks_is_taken_in_utc(admin_client, path, name):
    # ISO 8601 (and Python) allow offsets up to ±23:59, PostgreSQL only to ±15:59: this one was a 500.
    response = admin_client.get(f"{path}?{name}={quote('2026-01-01T08:00:00-16:24')}")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path, name", TIME_PARAMETERS)
def test_a_time_that_does_not_exist_in_utc_is_a_400(admin_client, path, name):
    response = admin_client.get(f"{path}?{name}={quote('0001-01-01T00:00:00+01:00')}")  # 31 Dec of year 0 in UTC
    assert response.status_code == 400 and response.json()["errors"] == {name: ["Datetime value out of range."]}


@pytest.mark.parametrize("value, status", [("json", 200), ("", 404), ("xml", 404)])
def test_a_format_is_one_the_endpoint_has(admin_client, value, status):
    # DRF took an empty ?format= for none and answered 200, where the schema lists the formats there are.
    response = admin_client.get(f"/messages?format={value}")
    assert response.status_code == status and response["Content-Type"].endswith("json")


def test_unknown_query_parameters_are_ignored(admin_client):
    assert admin_client.get("/messages?colour=blue").status_code == 200


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": 0}, "name"),
        ({"name": 1.5}, "name"),
        ({"name": True}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": "main\n"}, "name"),
        ({"name": " main"}, "name"),
        ({"name": "-main"}, "name"),
        ({"name": "a" * 41}, "name"),
        ({"name": "main", "start": "true"}, "start"),
        ({"name": "main", "start": 1}, "start"),
    ],
)
def test_session_create_takes_json_types_and_the_name_pattern_only(admin_client, body, field):
    response = admin_client.post("/waha/sessions", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": 5, "password": "long-enough-passphrase", "role": "AGENT"}, "email"),
        ({"email": "n@acme.test", "password": 1234567890123, "role": "AGENT"}, "password"),
        (
            {"email": "n@acme.test", "password": "long-enough-passphrase", "role": "AGENT", "first_name": 7},
            "first_name",
        ),
    ],
)
def test_user_create_takes_strings_only(admin_client, body, field):
    response = admin_client.post("/users", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]


def test_user_update_takes_a_boolean_is_active_only(admin_client, acme, make_user):
    user = make_user(acme, Role.AGENT)
    response = admin_client.patch(f"/users/{user.pk}", {"is_active": "false"}, format="json")
    assert response.status_code == 400 and "is_active" in response.json()["errors"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"session": 5, "to": "+4915112345678", "text": "hi"}, "session"),
        ({"session": "main", "to": 4915112345678, "text": "hi"}, "to"),
        ({"session": "main", "to": "+4915112345678", "text": 1}, "text"),
        (
            {
                "session": "main",
                "to": "+4915112345678",
                "type": "location",
                "location": {"latitude": "1", "longitude": 2},
            },
            "location.latitude",
        ),
        ({"session": "main", "to": "+4915112345678", "type": "image", "media": {"url": "notaurl"}}, "media.url"),
    ],
)
def test_send_takes_json_types_only_and_names_nested_fields(admin_client, body, field):
    response = admin_client.post("/messages/send", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"], response.json()


def test_conversation_assignment_takes_a_uuid_string_only(admin_client):
    import uuid

    response = admin_client.patch(f"/conversations/{uuid.uuid4()}", {"assigned_to": 0}, format="json")
    assert response.status_code == 400 and "assigned_to" in response.json()["errors"]
