"""Media from bytes through the real processes: gunicorn takes the upload, the Celery worker hands the file to WAHA.

The in-process tests (``test_uploads.py``) cover the rules; this one proves the path a client uses: a multipart
upload larger than Django keeps in memory, a body over the limit refused by gunicorn's Django, and the worker
reading the file from the media directory it shares with web, byte for byte to the sandbox.
"""

from __future__ import annotations

import base64
import os

import pytest
import requests

from tests.messaging.test_pipeline_e2e import live, sandbox  # noqa: F401 - the fixture and its helper
from tests.support_processes import wait_until

pytestmark = pytest.mark.e2e

MEBIBYTE = 1024 * 1024


def sandbox_files(e2e) -> dict[str, bytes]:
    """The files the sandbox received, by chat id, as the bytes it serves back."""
    sent = sandbox(e2e, "GET", "/sandbox/messages", params={"session": e2e.waha_name}).json()["messages"]
    return {
        item["chatId"]: sandbox(e2e, "GET", item["mediaUrl"][item["mediaUrl"].index("/api/files/") :]).content
        for item in sent
        if item.get("mediaUrl")
    }


def test_uploaded_and_inline_files_reach_waha_through_the_worker(live):  # noqa: F811 - the imported fixture
    document = b"%PDF-1.7\n" + os.urandom(3 * MEBIBYTE)  # above FILE_UPLOAD_MAX_MEMORY_SIZE: a temporary file
    uploaded = live.http.post(
        live.url("/media"), files={"file": ("statement.pdf", document, "application/pdf")}, timeout=60
    )
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["size"] == len(document)
    by_id = live.post(
        "/messages/send",
        {"session": "main", "to": "+4915100000101", "type": "file", "media": {"id": uploaded.json()["id"]}},
    )
    assert by_id.status_code == 202, by_id.text
    image = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    )
    inline = live.post(
        "/messages/send",
        {
            "session": "main",
            "to": "+4915100000102",
            "type": "image",
            "media": {"data": base64.b64encode(image).decode(), "mimetype": "image/png"},
        },
    )
    assert inline.status_code == 202, inline.text
    assert wait_until(lambda: len(sandbox_files(live)) == 2, timeout=30)
    assert sandbox_files(live) == {"4915100000101@c.us": document, "4915100000102@c.us": image}
    assert live.get(f"/messages/{by_id.json()['id']}").json()["status"] in {"sent", "delivered", "read"}


def test_files_over_the_limit_are_413_at_the_live_service(live):  # noqa: F811 - the imported fixture
    limit = 16 * MEBIBYTE
    # Within the body limit of the path (the file and 64 KiB), so the upload handler stops it while it streams.
    too_large = live.http.post(
        live.url("/media"), files={"file": ("big.pdf", b"%PDF" + bytes(limit - 3), "application/pdf")}, timeout=60
    )
    assert too_large.status_code == 413 and too_large.json()["code"] == "payload_too_large", too_large.text
    try:
        declared = live.http.post(
            live.url("/media"), files={"file": ("bigger.pdf", bytes(limit + 128 * 1024), "application/pdf")}, timeout=60
        )
    except requests.ConnectionError:
        declared = None  # refused by Content-Length and closed while the client was still sending: also a refusal
    assert declared is None or (declared.status_code == 413 and declared.json()["code"] == "payload_too_large")
    inline = live.post(
        "/messages/send",
        {
            "session": "main",
            "to": "+4915100000103",
            "type": "file",
            "media": {"data": base64.b64encode(b"%PDF" + bytes(limit - 3)).decode(), "mimetype": "application/pdf"},
        },
    )
    assert inline.status_code == 413 and inline.json()["code"] == "payload_too_large", inline.text
    assert live.get("/messages").json()["results"] == []
