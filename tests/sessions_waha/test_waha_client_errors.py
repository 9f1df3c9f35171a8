"""Error handling of the WAHA client: every error body of docs/WAHA.md, transport failures,
secrecy of the API key and echoed requests, logging and metrics."""

from __future__ import annotations

import importlib
import json
import logging

import pytest
import requests
from prometheus_client import REGISTRY

from sessions_waha.waha import (
    WahaClient,
    WahaError,
    WahaNotFound,
    WahaRejected,
    WahaSessionNotReady,
    WahaTimeout,
    WahaUnauthorized,
    WahaUnreachable,
    metrics,
)
from sessions_waha.waha.responses import parse_error_body
from tests.sessions_waha.waha_fakes import API_KEY, BASE, nest_error

SEND_URL = f"{BASE}/api/sendText"
BASE64_MEDIA = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk" * 50

STATUS_WAIT_422 = {
    "error": "Session status is not as expected. Try again later or restart the session",
    "session": "default",
    "status": "SCAN_QR_CODE",
    "expected": ["WORKING"],
}
ENGINE_500 = {
    "statusCode": 500,
    "timestamp": "2026-02-01T10:00:00.000Z",
    "exception": {
        "message": "2 UNKNOWN: no LID found for 5255000000@s.whatsapp.net from server",
        "name": "Error",
        "stack": "Error: 2 UNKNOWN: no LID found\n    at Object.callErrorFromStatus (...)",
    },
    "request": {
        "path": "/api/sendImage",
        "method": "POST",
        "body": {
            "session": "default",
            "chatId": "5255000000@c.us",
            "caption": "secret caption text",
            "file": {"mimetype": "image/png", "data": BASE64_MEDIA},
        },
        "query": {},
    },
    "version": {"version": "2026.2.1", "engine": "GOWS", "tier": "CORE"},
}


def send(client: WahaClient):
    return client.send_text(session="default", chat_id="5255000000", text="secret caption text")


def send_image(client: WahaClient):
    return client.send_image(
        session="default",
        chat_id="5255000000",
        file={"mimetype": "image/png", "data": BASE64_MEDIA},
        caption="secret caption text",
    )


# --- error shapes ----------------------------------------------------------------------


def test_401_is_unauthorized_and_not_transient(waha, client):
    waha.post(SEND_URL, status=401, json={"message": "Unauthorized", "statusCode": 401})
    with pytest.raises(WahaUnauthorized) as caught:
        send(client)
    assert (caught.value.status_code, caught.value.reason, caught.value.transient) == (
        401,
        "Unauthorized",
        False,
    )


def test_403_session_scoped_key_is_unauthorized(waha, client):
    waha.post(SEND_URL, status=403, json={"message": "Forbidden", "statusCode": 403})
    with pytest.raises(WahaUnauthorized):
        send(client)


def test_404_nestjs_body_is_not_found(waha, client):
    body = nest_error(404, "Session not found")
    waha.get(f"{BASE}/api/sessions/x", status=404, json=body)
    with pytest.raises(WahaNotFound) as caught:
        client.session_get(name="x")
    assert caught.value.body == body and not caught.value.transient


def test_422_status_wait_body_is_session_not_ready(waha, client):
    waha.post(SEND_URL, status=422, json=STATUS_WAIT_422)
    with pytest.raises(WahaSessionNotReady) as caught:
        send(client)
    error = caught.value
    assert (error.session, error.status, error.expected, error.status_code, error.transient) == (
        "default",
        "SCAN_QR_CODE",
        ["WORKING"],
        422,
        False,
    )


def test_422_stopped_session_reports_its_status(waha, client):
    waha.post(SEND_URL, status=422, json={**STATUS_WAIT_422, "status": "STOPPED"})
    with pytest.raises(WahaSessionNotReady) as caught:
        send(client)
    assert caught.value.status == "STOPPED" and not caught.value.session_missing


def test_422_unknown_session_is_session_not_ready_without_status(waha, client):
    waha.post(SEND_URL, status=422, json={"error": 'Session "x" does not exist', "session": "x"})
    with pytest.raises(WahaSessionNotReady) as caught:
        client.send_text(session="x", chat_id="5255000000", text="hi")
    error = caught.value
    assert (error.session, error.status, error.session_missing, error.reason) == (
        "x",
        None,
        True,
        'Session "x" does not exist',
    )


def test_422_nestjs_shape_is_plain_rejection(waha, client):
    waha.post(
        f"{BASE}/api/sendImage",
        status=422,
        json=nest_error(422, "Sending images is available only in Plus version"),
    )
    with pytest.raises(WahaRejected) as caught:
        send_image(client)
    assert type(caught.value) is WahaRejected and "Plus" in caught.value.reason


def test_400_with_list_message_joins_the_messages(waha, client):
    body = nest_error(
        400,
        [
            "Session name can only contain alphanumeric characters, hyphens, and underscores",
            "name must be shorter than or equal to 54 characters",
        ],
    )
    waha.post(f"{BASE}/api/sessions", status=400, json=body)
    with pytest.raises(WahaRejected) as caught:
        client.session_create(name="ok", config={"bad": 1})
    assert caught.value.reason == "; ".join(body["message"]) and caught.value.body == body


def test_500_keeps_only_the_exception_message(waha, client):
    waha.post(f"{BASE}/api/sendImage", status=500, json=ENGINE_500)
    with pytest.raises(WahaRejected) as caught:
        send_image(client)
    error = caught.value
    assert error.body == {
        "statusCode": 500,
        "exception": {"message": ENGINE_500["exception"]["message"]},
    }
    assert error.transient and "no LID found" in str(error)


def test_500_echo_appears_nowhere(waha, client, caplog):
    caplog.set_level(logging.DEBUG, logger="waha.client")
    waha.post(f"{BASE}/api/sendImage", status=500, json=ENGINE_500)
    with pytest.raises(WahaRejected) as caught:
        send_image(client)
    everything = " ".join(
        [str(caught.value), repr(caught.value), repr(caught.value.body), caplog.text]
        + [repr(vars(record)) for record in caplog.records]
    )
    assert BASE64_MEDIA[:40] not in everything and "secret caption text" not in everything


def test_5xx_text_body_is_truncated():
    message, body = parse_error_body(502, b"<html>" + b"x" * 5000 + b"</html>", "text/html")
    assert len(message) <= 200 and body == message


def test_huge_4xx_json_body_is_reduced():
    big = {"message": "too big", "statusCode": 400, "error": "Bad Request", "extra": "y" * 10000}
    _, body = parse_error_body(400, json.dumps(big).encode(), "application/json")
    assert body == {"statusCode": 400, "error": "Bad Request", "message": "too big"}


def test_413_payload_too_large_is_not_transient(waha, client):
    waha.post(
        f"{BASE}/api/sendImage",
        status=413,
        json=nest_error(413, "request entity too large"),
    )
    with pytest.raises(WahaRejected) as caught:
        send_image(client)
    assert caught.value.status_code == 413 and not caught.value.transient


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_server_side_statuses_are_transient(waha, client, status):
    waha.post(SEND_URL, status=status, body="busy")
    with pytest.raises(WahaRejected) as caught:
        send(client)
    assert caught.value.transient


def test_missing_media_file_body_is_parsed(waha, client):
    waha.get(
        f"{BASE}/api/files/default/AAAA.jpeg",
        status=404,
        json={
            "error": {
                "code": 404,
                "key": "FILE_NOT_FOUND",
                "message": "File not found",
                "details": "File not found or no access",
            }
        },
    )
    with pytest.raises(WahaNotFound) as caught:
        client.download_media(url=f"{BASE}/api/files/default/AAAA.jpeg")
    assert caught.value.reason == "File not found (FILE_NOT_FOUND)"


# --- transport failures ----------------------------------------------------------------


def test_connection_error_is_unreachable_and_transient(waha, client):
    waha.post(SEND_URL, body=requests.exceptions.ConnectionError("Connection refused"))
    with pytest.raises(WahaUnreachable) as caught:
        send(client)
    assert caught.value.transient and isinstance(caught.value, WahaError)


def test_read_timeout_is_transient_and_maybe_sent(waha, client):
    waha.post(SEND_URL, body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(WahaTimeout) as caught:
        send(client)
    assert (caught.value.transient, caught.value.phase, caught.value.maybe_sent) == (
        True,
        "read",
        True,
    )


def test_connect_timeout_was_never_sent(waha, client):
    waha.post(SEND_URL, body=requests.exceptions.ConnectTimeout("connect timed out"))
    with pytest.raises(WahaTimeout) as caught:
        send(client)
    assert (caught.value.phase, caught.value.maybe_sent) == ("connect", False)


def test_errors_name_the_call(waha, client):
    waha.post(SEND_URL, body=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(WahaUnreachable) as caught:
        send(client)
    assert str(caught.value).startswith("POST /api/sendText: ")


# --- the API key never leaks (WAHA.md §9.10) ------------------------------------------

KEY_ECHOING_FAILURES = [
    pytest.param(
        {"body": requests.exceptions.ConnectionError(f"refused for x-api-key={API_KEY}")},
        WahaUnreachable,
        id="connection-error",
    ),
    pytest.param(
        {"body": requests.exceptions.ReadTimeout(f"timeout ?x-api-key={API_KEY}")},
        WahaTimeout,
        id="read-timeout",
    ),
    pytest.param(
        {"status": 401, "json": {"message": f"Unauthorized key {API_KEY}", "statusCode": 401}},
        WahaUnauthorized,
        id="401-echo",
    ),
    pytest.param(
        {
            "status": 500,
            "json": {
                **ENGINE_500,
                "exception": {"message": f"bad header X-Api-Key: {API_KEY}"},
                "request": {"query": {"x-api-key": API_KEY}},
            },
        },
        WahaRejected,
        id="500-echo",
    ),
    pytest.param(
        {"status": 422, "json": {**STATUS_WAIT_422, "session": API_KEY}},
        WahaSessionNotReady,
        id="422-echo",
    ),
    pytest.param({"status": 502, "body": f"proxy error {API_KEY}"}, WahaRejected, id="502-text"),
]


@pytest.mark.parametrize(("answer", "error_type"), KEY_ECHOING_FAILURES)
def test_api_key_is_absent_from_errors_and_logs(waha, client, caplog, answer, error_type):
    caplog.set_level(logging.DEBUG, logger="waha.client")
    waha.post(SEND_URL, **answer)
    with pytest.raises(error_type) as caught:
        send(client)
    error = caught.value
    texts = [str(error), repr(error), repr(getattr(error, "body", None)), repr(vars(error))]
    texts += [caplog.text] + [repr(vars(record)) for record in caplog.records]
    assert all(API_KEY not in text for text in texts)


# --- logging ---------------------------------------------------------------------------


def test_success_logs_one_debug_line(waha, client, caplog):
    caplog.set_level(logging.DEBUG, logger="waha.client")
    waha.post(SEND_URL, status=201, json={"id": "true_5255000000@c.us_AAAA"})
    send(client)
    (record,) = caplog.records
    assert record.levelno == logging.DEBUG and record.getMessage().startswith(
        "waha.request method=POST path=/api/sendText status=201 duration_ms="
    )


def test_failure_logs_a_warning_with_fields(waha, client, caplog):
    caplog.set_level(logging.DEBUG, logger="waha.client")
    waha.post(SEND_URL, status=422, json=STATUS_WAIT_422)
    with pytest.raises(WahaSessionNotReady):
        send(client)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert (record.waha_operation, record.waha_status, record.waha_outcome) == (
        "send_text",
        422,
        "rejected",
    )


def test_tolerated_rejection_is_not_a_warning(waha, client, caplog):
    caplog.set_level(logging.DEBUG, logger="waha.client")
    waha.delete(f"{BASE}/api/sessions/gone", status=404, json={"message": "Session not found"})
    client.session_delete(name="gone")
    assert [record.levelno for record in caplog.records] == [logging.DEBUG]


# --- metrics ---------------------------------------------------------------------------


def sample(name: str, operation: str, outcome: str) -> float:
    return REGISTRY.get_sample_value(name, {"operation": operation, "outcome": outcome}) or 0.0


def test_success_is_timed_by_operation(waha, client):
    before = sample("waha_request_duration_seconds_count", "send_text", "ok")
    waha.post(SEND_URL, status=201, json={"id": "true_5255000000@c.us_AAAA"})
    send(client)
    assert sample("waha_request_duration_seconds_count", "send_text", "ok") == before + 1


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"status": 422, "json": STATUS_WAIT_422}, "rejected"),
        ({"body": requests.exceptions.ReadTimeout("slow")}, "timeout"),
        ({"body": requests.exceptions.ConnectionError("refused")}, "unreachable"),
    ],
)
def test_failures_are_counted_by_outcome(waha, client, answer, outcome):
    before = sample("waha_request_errors_total", "send_text", outcome)
    waha.post(SEND_URL, **answer)
    with pytest.raises(WahaError):
        send(client)
    assert sample("waha_request_errors_total", "send_text", outcome) == before + 1


def test_metric_labels_never_contain_paths(waha, client):
    waha.get(f"{BASE}/api/sessions/unique_name_42", json={"name": "unique_name_42"})
    client.session_get(name="unique_name_42")
    labels = {
        value
        for family in REGISTRY.collect()
        if family.name.startswith("waha_request")
        for metric_sample in family.samples
        for value in metric_sample.labels.values()
    }
    assert "session_get" in labels and not any("unique_name_42" in label for label in labels)


def test_metrics_module_survives_reimport():
    histogram = metrics.REQUEST_DURATION
    reloaded = importlib.reload(metrics)
    assert reloaded.REQUEST_DURATION is histogram
