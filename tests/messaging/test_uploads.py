"""Media from bytes: ``POST /media``, inline base64 in sends and bulk sends, what WAHA receives, and expiry.

The API runs in process against PostgreSQL; sends are dispatched in process (as in ``test_dispatch.py``) to the
WAHA sandbox over HTTP, which keeps every file it received as base64 ``data``: the tests compare its bytes.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from django.utils import timezone
from django_tenants.utils import tenant_context
from prometheus_client import REGISTRY

from accounts.roles import Role
from messaging.models import MediaUpload, Message
from messaging.services import dispatch, uploads
from messaging.tasks import uploads_expire_all
from tests.support import TEST_TENANTS, TenantClient, api_key_for

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
OGG = b"OggS\x00\x02" + bytes(22) + b"\x01\x13OpusHead" + bytes(40)
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64)
TEXT = "Grüße, plain text with no signature at all.\n".encode()
TO = "+4915112345678"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    """Each test stores its files in a directory of its own."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "inbound_media": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(root)}},
    }
    return root


def upload(client, content: bytes, name: str = "invoice.pdf", content_type: str = "application/pdf"):
    body = (
        b"--XyZ\r\n"
        + f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'.encode()
        + (f"Content-Type: {content_type}\r\n".encode() if content_type else b"")
        + b"\r\n"
        + content
        + b"\r\n--XyZ--\r\n"
    )
    return client.generic("POST", "/media", body, content_type="multipart/form-data; boundary=XyZ")


def send(client, **body):
    return client.post("/messages/send", {"session": "support", "to": TO, **body}, format="json")


def inline(content: bytes, mimetype: str, **extra) -> dict:
    return {"data": base64.b64encode(content).decode(), "mimetype": mimetype, **extra}


def run(tenant, session):
    with tenant_context(tenant):
        return dispatch.dispatch_session(session_id=session.pk)


def received(sandbox) -> list[dict]:
    """What the sandbox got from the sends, each with the exact bytes of its file."""
    sends = sandbox.control("GET", "/sandbox/messages").json()["messages"]
    for item in sends:
        item["bytes"] = (
            requests.get(item["mediaUrl"], headers={"X-Api-Key": sandbox.http.headers["X-Api-Key"]}, timeout=10).content
            if item.get("mediaUrl")
            else None
        )
    return sends


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    return body


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# ------------------------------------------------------------------ POST /media


def test_upload_answers_201_and_stores_the_exact_bytes_under_the_tenants_prefix(api, acme, media_root):
    before = metric("media_uploads_total", tenant="acme", source="multipart", outcome="stored")
    response = upload(api, PDF, name="Rechnung 42 (März).pdf")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "mimetype", "filename", "size", "expires_at"}
    assert (body["mimetype"], body["filename"], body["size"]) == ("application/pdf", "Rechnung 42 (März).pdf", len(PDF))
    with tenant_context(acme):
        row = MediaUpload.objects.get(pk=body["id"])
    assert row.source == "multipart" and row.detected_mimetype == "application/pdf"
    assert row.sha256 == hashlib.sha256(PDF).hexdigest()
    assert timedelta(hours=23, minutes=59) < row.expires_at - row.created_at <= timedelta(hours=24)
    assert row.path.startswith(f"uploads/{acme.schema_name}/{row.pk}/")
    (path,) = stored_files(media_root)
    assert path.read_bytes() == PDF and str(path.relative_to(media_root)) == row.path
    assert metric("media_uploads_total", tenant="acme", source="multipart", outcome="stored") == before + 1


def test_an_upload_without_a_specific_type_takes_the_type_its_bytes_show(api):
    assert upload(api, PNG, name="scan", content_type="application/octet-stream").json()["mimetype"] == "image/png"
    assert upload(api, PNG, name="scan.bin", content_type="").json()["mimetype"] == "image/png"
    # Bytes that show nothing: the name's extension, else octet-stream.
    assert upload(api, TEXT, name="notes.txt", content_type="").json()["mimetype"] == "text/plain"
    assert upload(api, TEXT, name="notes", content_type="").json()["mimetype"] == "application/octet-stream"


def test_a_document_may_be_any_type_and_the_detected_one_is_recorded(api, acme):
    body = upload(api, PNG, name="photo-as-document.pdf", content_type="application/pdf").json()
    with tenant_context(acme):
        row = MediaUpload.objects.get(pk=body["id"])
    assert (row.mimetype, row.detected_mimetype) == ("application/pdf", "image/png")


def test_a_declared_image_whose_bytes_are_something_else_is_400(api, media_root):
    body = problem(upload(api, PDF, name="x.png", content_type="image/png"), 400, "media_type_mismatch")
    assert body["errors"] == {"file": ["The file was declared image/png, but its bytes are application/pdf."]}
    assert stored_files(media_root) == []


def test_a_file_over_the_limit_is_413_while_it_streams_in(api, settings, media_root):
    settings.MEDIA_MAX_BYTES = 1000
    before = metric("media_uploads_total", tenant="acme", source="multipart", outcome="stored")
    # The body fits the path's limit (the file plus 64 KiB of multipart), so the upload handler stops it.
    problem(upload(api, b"%PDF" + bytes(997)), 413, "payload_too_large")
    assert stored_files(media_root) == []
    assert upload(api, b"%PDF" + bytes(996)).status_code == 201  # exactly the limit
    assert metric("media_uploads_total", tenant="acme", source="multipart", outcome="stored") == before + 1


def test_a_body_over_the_paths_limit_is_413_before_it_is_read(api, settings, media_root, monkeypatch):
    settings.MEDIA_MAX_BYTES = 1000
    read = []
    monkeypatch.setattr(uploads, "upload_from_file", lambda **kwargs: read.append(kwargs))
    problem(upload(api, b"%PDF" + bytes(70 * 1024)), 413, "payload_too_large")
    assert read == [] and stored_files(media_root) == []


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("multipart/form-data", b"--XyZ\r\n\r\n"),  # no boundary
        ("multipart/form-data; boundary=", b"garbage"),
        ("multipart/form-data; boundary=XyZ", b"not multipart at all"),
        ("multipart/form-data; boundary=XyZ", b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--"),
        ("multipart/form-data; boundary=XyZ", b'--XyZ\r\nContent-Disposition: form-data; name="file"\r\n\r\nx'),
        ("multipart/form-data; boundary=XyZ", b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a"'),
        (
            "multipart/form-data; boundary=XyZ",
            b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n!!!\r\n--XyZ--\r\n",
        ),
        ("multipart/form-data; boundary=" + "x" * 80, b"x"),
        ("multipart/form-data; boundary=XyZ", b""),
    ],
)
def test_malformed_multipart_is_400_never_500(api, content_type, body, media_root):
    response = api.generic("POST", "/media", body, content_type=content_type)
    assert response.status_code == 400, response.content
    assert response.json()["code"] in {"validation_error", "malformed_multipart"}
    assert stored_files(media_root) == []


def test_empty_missing_or_doubled_file_and_bad_part_type_are_400(api):
    problem(upload(api, b""), 400, "validation_error")
    problem(upload(api, PDF, content_type="not a type"), 400, "validation_error")
    two = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n\r\n%PDF-1\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="b.pdf"\r\n\r\n%PDF-2\r\n--XyZ--\r\n'
    )
    problem(
        api.generic("POST", "/media", two, content_type="multipart/form-data; boundary=XyZ"), 400, "validation_error"
    )
    text_field = b'--XyZ\r\nContent-Disposition: form-data; name="file"\r\n\r\n%PDF-1\r\n--XyZ--\r\n'
    body = problem(
        api.generic("POST", "/media", text_field, content_type="multipart/form-data; boundary=XyZ"),
        400,
        "validation_error",
    )
    assert "file" in body["errors"]


def test_a_json_body_is_415_and_get_is_405(api):
    problem(api.post("/media", {"file": "x"}, format="json"), 415, "unsupported_media_type")
    problem(api.get("/media"), 405, "method_not_allowed")


@pytest.mark.parametrize("role, status", [(Role.AGENT, 201), (Role.MANAGER, 201), (Role.AUDITOR, 403)])
def test_roles_are_those_of_sending(acme, make_user, client_for, role, status):
    assert upload(client_for(acme, make_user(acme, role)), PDF).status_code == status


def test_api_keys_upload_with_their_role_and_anonymous_callers_are_401(acme, admin):
    manager_key = api_key_for(acme, admin, role="MANAGER")[1]
    auditor_key = api_key_for(acme, admin, role="AUDITOR")[1]
    created = upload(TenantClient(TEST_TENANTS["acme"]).api_key(manager_key), PDF)
    assert created.status_code == 201
    with tenant_context(acme):
        row = MediaUpload.objects.get(pk=created.json()["id"])
    assert row.created_by_id is None and row.created_by_key_id is not None
    problem(upload(TenantClient(TEST_TENANTS["acme"]).api_key(auditor_key), PDF), 403, "permission_denied")
    assert upload(TenantClient(TEST_TENANTS["acme"]), PDF).status_code == 401


# ------------------------------------------------------------------ sending by id and inline


def test_a_document_uploaded_then_sent_by_id_reaches_waha_byte_for_byte(api, acme, working_session, sandbox):
    media_id = upload(api, PDF, name="invoice-42.pdf").json()["id"]
    response = send(api, type="file", caption="Your invoice", media={"id": media_id})
    assert response.status_code == 202, response.content
    assert response.json()["media"] == {
        "id": media_id,
        "mimetype": "application/pdf",
        "filename": "invoice-42.pdf",
        "size": len(PDF),
        "sha256": hashlib.sha256(PDF).hexdigest(),
    }
    run(acme, working_session)
    (waha,) = received(sandbox)
    assert waha["type"] == "file" and waha["caption"] == "Your invoice"
    assert waha["file"]["mimetype"] == "application/pdf" and waha["file"]["filename"] == "invoice-42.pdf"
    assert waha["file"]["url"] is None and waha["bytes"] == PDF
    with tenant_context(acme):
        assert Message.objects.get(pk=response.json()["id"]).status == "sent"


def test_a_filename_given_with_the_id_is_what_whatsapp_shows(api, acme, working_session, sandbox):
    media_id = upload(api, PDF, name="tmp-8f2a.pdf").json()["id"]
    send(api, type="file", media={"id": media_id, "filename": "Invoice 2026-0042.pdf"})
    run(acme, working_session)
    (waha,) = received(sandbox)
    assert waha["file"]["filename"] == "Invoice 2026-0042.pdf" and waha["bytes"] == PDF


def test_an_inline_image_reaches_waha_and_is_stored_once(api, acme, working_session, sandbox, media_root):
    response = send(api, type="image", caption="Your ticket", media=inline(PNG, "image/png", filename="ticket.png"))
    assert response.status_code == 202, response.content
    media = response.json()["media"]
    assert (media["mimetype"], media["filename"], media["size"]) == ("image/png", "ticket.png", len(PNG))
    again = send(api, to="+4915100000002", type="image", media=inline(PNG, "image/png", filename="ticket.png"))
    assert again.json()["media"]["id"] == media["id"]  # the same file is not stored twice
    with tenant_context(acme):
        assert list(MediaUpload.objects.values_list("source", flat=True)) == ["inline"]
    assert len(stored_files(media_root)) == 1
    run(acme, working_session)
    waha = received(sandbox)
    assert [item["bytes"] for item in waha] == [PNG, PNG]
    assert {(item["type"], item["file"]["mimetype"], item["file"]["filename"]) for item in waha} == {
        ("image", "image/png", "ticket.png")
    }


def test_an_inline_document_without_a_filename_gets_one(api, acme, working_session, sandbox):
    send(api, type="file", media=inline(PDF, "application/pdf"))
    run(acme, working_session)
    (waha,) = received(sandbox)
    assert waha["file"]["filename"] == "file.pdf" and waha["bytes"] == PDF


def test_inline_base64_may_be_wrapped_in_lines(api, acme, working_session, sandbox):
    encoded = base64.encodebytes(PDF * 3).decode()  # 76-character lines
    assert "\n" in encoded
    assert send(api, type="file", media={"data": encoded, "mimetype": "application/pdf"}).status_code == 202
    run(acme, working_session)
    assert received(sandbox)[0]["bytes"] == PDF * 3


def test_voice_and_video_send_their_files(api, acme, working_session, sandbox):
    assert send(api, type="voice", media=inline(OGG, "audio/ogg; codecs=opus")).status_code == 202
    assert send(api, to="+4915100000002", type="video", media=inline(MP4, "video/mp4")).status_code == 202
    run(acme, working_session)
    by_type = {item["type"]: item for item in received(sandbox)}
    assert by_type["voice"]["bytes"] == OGG and by_type["voice"]["file"]["mimetype"] == "audio/ogg; codecs=opus"
    assert by_type["video"]["bytes"] == MP4


def test_an_inline_send_repeated_with_its_idempotency_key_is_a_replay(api, acme, working_session):
    body = {"session": "support", "to": TO, "type": "file", "media": inline(PDF, "application/pdf")}
    first = api.post("/messages/send", body, format="json", HTTP_IDEMPOTENCY_KEY="invoice-42")
    with tenant_context(acme):
        MediaUpload.objects.all().delete()  # even with the first stored file gone (a replay a day later)
    replay = api.post("/messages/send", body, format="json", HTTP_IDEMPOTENCY_KEY="invoice-42")
    assert (first.status_code, replay.status_code) == (202, 200)
    assert replay.json()["id"] == first.json()["id"]


def test_bulk_with_an_uploaded_file_sends_it_to_every_recipient(api, acme, working_session, sandbox, monkeypatch):
    media_id = upload(api, PDF, name="prices.pdf").json()["id"]
    recipients = [{"to": f"+49151000000{i:02}", "variables": {"name": f"N{i}"}} for i in range(5)]
    response = api.post(
        "/messages/bulk",
        {
            "session": "support",
            "type": "file",
            "text": "Hi {name}",
            "media": {"id": media_id},
            "recipients": recipients,
        },
        format="json",
    )
    assert response.status_code == 202 and response.json()["accepted"] == 5, response.content
    opened = []
    storage_open = uploads.media_storage().__class__.open

    def counting_open(self, name, mode="rb"):
        opened.append(name)
        return storage_open(self, name, mode)

    monkeypatch.setattr(uploads.media_storage().__class__, "open", counting_open)
    run(acme, working_session)
    waha = received(sandbox)
    assert len(waha) == 5 and all(item["bytes"] == PDF for item in waha)
    assert sorted(item["caption"] for item in waha) == [f"Hi N{i}" for i in range(5)]
    assert len(opened) == 1  # one read of the file for the whole batch


def test_bulk_with_an_inline_file_stores_it_once(api, acme, working_session, sandbox):
    recipients = [{"to": "+4915100000001"}, {"to": "+4915100000002"}]
    response = api.post(
        "/messages/bulk",
        {
            "session": "support",
            "type": "image",
            "text": "Look",
            "media": inline(PNG, "image/png"),
            "recipients": recipients,
        },
        format="json",
    )
    assert response.status_code == 202, response.content
    with tenant_context(acme):
        assert MediaUpload.objects.count() == 1
    run(acme, working_session)
    assert [item["bytes"] for item in received(sandbox)] == [PNG, PNG]


# ------------------------------------------------------------------ refusals


def test_inline_files_over_the_limit_are_413(api, acme, working_session, settings):
    settings.MEDIA_MAX_BYTES = 1000
    # Longer than any base64 of 1000 bytes: refused before decoding.
    problem(send(api, type="file", media=inline(b"%PDF" + bytes(1100), "application/pdf")), 413, "payload_too_large")
    # 1001 bytes encode to the same 1336 characters as 1000 bytes: refused once decoded.
    problem(send(api, type="file", media=inline(b"%PDF" + bytes(997), "application/pdf")), 413, "payload_too_large")
    assert send(api, type="file", media=inline(b"%PDF" + bytes(996), "application/pdf")).status_code == 202
    bulk = {"session": "support", "type": "file", "text": "x", "recipients": [{"to": TO}]}
    problem(
        api.post("/messages/bulk", {**bulk, "media": inline(bytes(1001), "application/pdf")}, format="json"),
        413,
        "payload_too_large",
    )
    with tenant_context(acme):
        assert Message.objects.count() == 1 and MediaUpload.objects.count() == 1


def test_a_send_body_over_its_limit_is_413_before_it_is_read(api, working_session, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1000
    settings.MEDIA_MAX_BYTES = 3000
    # Room for a base64 file of MEDIA_MAX_BYTES on top of MAX_REQUEST_BODY_BYTES: 1000 + 4000.
    assert send(api, type="file", media=inline(b"%PDF" + bytes(2996), "application/pdf")).status_code == 202
    problem(send(api, type="file", media={"data": "A" * 5000, "mimetype": "application/pdf"}), 413, "payload_too_large")
    # Other endpoints keep MAX_REQUEST_BODY_BYTES.
    problem(
        api.post("/users", {"email": "a@acme.test", "password": "x" * 2000}, format="json"), 413, "payload_too_large"
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ("not base64!", "This is not valid base64."),
        ("QUJD", None),  # valid: "ABC"
        ("QUJ", "This is not valid base64."),  # no padding
        ("data:application/pdf;base64,JVBERi0=", "Send the base64 text alone, without a data: URL prefix."),
    ],
)
def test_bad_base64_is_400(api, working_session, data, message):
    response = send(api, type="file", media={"data": data, "mimetype": "application/pdf"})
    if message is None:
        assert response.status_code == 202
    else:
        assert problem(response, 400, "validation_error")["errors"] == {"media.data": [message]}


@pytest.mark.parametrize(
    "kind, content, mimetype, detail",
    [
        ("image", PDF, "image/png", "The file was declared image/png, but its bytes are application/pdf."),
        ("image", PNG, "application/pdf", "Messages of type image need a file of type image/*, not application/pdf."),
        ("image", TEXT, "image/png", "The file's bytes match no image format this service recognises."),
        ("voice", PNG, "audio/ogg", "The file was declared audio/ogg, but its bytes are image/png."),
        ("video", OGG, "video/mp4", "The file was declared video/mp4, but its bytes are audio/ogg."),
        ("video", MP4, "audio/mp4", "Messages of type video need a file of type video/*, not audio/mp4."),
    ],
)
def test_image_voice_and_video_need_matching_bytes(api, acme, working_session, kind, content, mimetype, detail):
    body = problem(send(api, type=kind, media=inline(content, mimetype)), 400, "media_type_mismatch")
    assert body["errors"] == {"media.data": [detail]}
    with tenant_context(acme):
        assert MediaUpload.objects.count() == 0 and Message.objects.count() == 0


def test_aliases_and_shared_containers_match(api, working_session):
    assert send(api, type="image", media=inline(b"\xff\xd8\xff\xe0" + bytes(40), "image/jpg")).status_code == 202
    # A voice note in an MP4 container: filetype reads it as video/mp4.
    assert send(api, type="voice", media=inline(MP4, "audio/mp4")).status_code == 202


def test_an_uploaded_file_must_suit_the_message_type(api, working_session):
    media_id = upload(api, PDF).json()["id"]
    body = problem(send(api, type="image", media={"id": media_id}), 400, "media_type_mismatch")
    assert list(body["errors"]) == ["media.id"]
    assert send(api, type="file", media={"id": media_id}).status_code == 202


@pytest.mark.parametrize(
    "media",
    [
        {"url": "https://cdn.example.com/a.pdf", "id": "0193a4f2-7c1e-7b3a-9f4e-2d8c6b5a1e0f"},
        {"data": "JVBERg==", "url": "https://cdn.example.com/a.pdf", "mimetype": "application/pdf"},
        {"data": "JVBERg=="},
        {"id": "0193a4f2-7c1e-7b3a-9f4e-2d8c6b5a1e0f", "mimetype": "application/pdf"},
        {"mimetype": "application/pdf"},
        {"data": "JVBERg==", "mimetype": "pdf"},
        {"data": 12, "mimetype": "application/pdf"},
        {"id": "not-a-uuid"},
    ],
)
def test_media_must_be_exactly_one_of_url_id_or_data(api, working_session, media):
    problem(send(api, type="file", media=media), 400, "validation_error")


def test_an_unknown_expired_or_foreign_media_id_is_404(
    api, acme, globex, admin, make_user, client_for, working_session
):
    problem(send(api, type="file", media={"id": "0193a4f2-7c1e-7b3a-9f4e-2d8c6b5a1e0f"}), 404, "not_found")
    foreign = upload(client_for(globex, make_user(globex, Role.TENANT_ADMIN)), PDF).json()["id"]
    problem(send(api, type="file", media={"id": foreign}), 404, "not_found")
    expired = upload(api, PDF).json()["id"]
    with tenant_context(acme):
        MediaUpload.objects.filter(pk=expired).update(expires_at=timezone.now())
    problem(send(api, type="file", media={"id": expired}), 404, "not_found")
    with tenant_context(acme):
        assert Message.objects.count() == 0


def test_an_auditor_cannot_send_media(acme, make_user, client_for, working_session):
    auditor = client_for(acme, make_user(acme, Role.AUDITOR))
    problem(send(auditor, type="file", media=inline(PDF, "application/pdf")), 403, "permission_denied")


# ------------------------------------------------------------------ expiry


def expire(tenant, media_id, *, ago=timedelta(hours=1)) -> None:
    with tenant_context(tenant):
        MediaUpload.objects.filter(pk=media_id).update(expires_at=timezone.now() - ago)


def test_the_expiry_task_deletes_expired_uploads_with_their_files(api, acme, globex, make_user, client_for, media_root):
    old, fresh = upload(api, PDF).json()["id"], upload(api, PNG, name="a.png", content_type="image/png").json()["id"]
    recent = upload(api, TEXT, name="b.txt", content_type="text/plain").json()["id"]
    foreign = upload(client_for(globex, make_user(globex, Role.TENANT_ADMIN)), PDF).json()["id"]
    expire(acme, old)
    expire(acme, recent, ago=timedelta(minutes=1))  # within the grace: a send may just have named it
    expire(globex, foreign)
    before = metric("media_uploads_expired_total", tenant="acme")
    uploads_expire_all()
    with tenant_context(acme):
        assert {str(pk) for pk in MediaUpload.objects.values_list("pk", flat=True)} == {fresh, recent}
    with tenant_context(globex):
        assert not MediaUpload.objects.exists()
    assert len(stored_files(media_root)) == 2
    assert not (media_root / "uploads" / acme.schema_name / old).exists()  # its directory went too
    assert metric("media_uploads_expired_total", tenant="acme") == before + 1


def test_a_queued_message_keeps_its_expired_file_and_still_sends_it(api, acme, working_session, sandbox, media_root):
    media_id = upload(api, PDF).json()["id"]
    message_id = send(api, type="file", media={"id": media_id}).json()["id"]
    expire(acme, media_id, ago=timedelta(days=3))  # a paced bulk can take days
    with tenant_context(acme):
        assert uploads.uploads_expire() == {"deleted": 0, "kept_for_messages": 1, "delete_failed": 0}
    run(acme, working_session)
    (waha,) = received(sandbox)
    assert waha["bytes"] == PDF
    with tenant_context(acme):
        assert Message.objects.get(pk=message_id).status == "sent"
        # Sent: nothing needs the file any more.
        assert uploads.uploads_expire() == {"deleted": 1, "kept_for_messages": 0, "delete_failed": 0}
    assert stored_files(media_root) == []


def test_a_failed_message_retried_after_its_file_was_deleted_fails_clearly(api, acme, working_session, sandbox):
    media_id = upload(api, PDF).json()["id"]
    message_id = send(api, type="file", media={"id": media_id}).json()["id"]
    sandbox.faults(error_rate=1.0)
    with tenant_context(acme):
        Message.objects.filter(pk=message_id).update(attempts=99)  # budget spent: the next failure is final
    run(acme, working_session)
    sandbox.faults()
    with tenant_context(acme):
        assert Message.objects.get(pk=message_id).status == "failed"
    expire(acme, media_id)
    with tenant_context(acme):
        assert uploads.uploads_expire()["deleted"] == 1
    assert api.post(f"/messages/{message_id}/retry").status_code == 202
    run(acme, working_session)
    with tenant_context(acme):
        failed = Message.objects.get(pk=message_id)
    assert (failed.status, failed.error_code) == ("failed", "media_expired")
    assert "upload it again" in failed.error_detail
    assert received(sandbox) == []


def test_a_storage_failure_while_sending_is_retried_later(api, acme, working_session, sandbox, monkeypatch):
    media_id = upload(api, PDF).json()["id"]
    message_id = send(api, type="file", media={"id": media_id}).json()["id"]
    storage_class = uploads.media_storage().__class__

    def broken_open(self, name, mode="rb"):
        raise OSError("disk on fire")

    monkeypatch.setattr(storage_class, "open", broken_open)
    run(acme, working_session)
    with tenant_context(acme):
        waiting = Message.objects.get(pk=message_id)
    assert waiting.status == "queued" and waiting.attempt_log[-1]["outcome"] == "storage_error"
    assert waiting.error_code == "storage_error" and "disk on fire" in waiting.error_detail
    monkeypatch.undo()
    with tenant_context(acme):
        Message.objects.filter(pk=message_id).update(next_attempt_at=timezone.now())
    run(acme, working_session)
    assert received(sandbox)[0]["bytes"] == PDF


def test_the_expiry_task_is_on_beats_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["messaging-uploads-expire"]
    assert entry["task"] == "messaging.uploads_expire" and entry["schedule"] == 300.0


def test_a_storage_that_stays_broken_fails_the_message_clearly(api, acme, working_session, settings, monkeypatch):
    settings.MESSAGE_MAX_ATTEMPTS = 1
    message_id = send(api, type="file", media=inline(PDF, "application/pdf")).json()["id"]

    def broken_open(self, name, mode="rb"):
        raise OSError("bucket unreachable")

    monkeypatch.setattr(uploads.media_storage().__class__, "open", broken_open)
    run(acme, working_session)
    with tenant_context(acme):
        failed = Message.objects.get(pk=message_id)
    assert (failed.status, failed.error_code) == ("failed", "media_unavailable")
    assert "bucket unreachable" in failed.error_detail


@pytest.mark.parametrize("value, starts", [("38797312", True), ("38797313", False), ("0", False)])
def test_media_max_bytes_is_capped_by_wahas_body_limit(monkeypatch, value, starts):
    import runpy

    from django.core.exceptions import ImproperlyConfigured

    from tests.support_processes import PROJECT_ROOT

    monkeypatch.setenv("MEDIA_MAX_BYTES", value)
    if starts:
        assert runpy.run_path(str(PROJECT_ROOT / "config" / "settings.py"))["MEDIA_MAX_BYTES"] == int(value)
    else:
        with pytest.raises(ImproperlyConfigured, match="MEDIA_MAX_BYTES must be between 1 and 38797312"):
            runpy.run_path(str(PROJECT_ROOT / "config" / "settings.py"))
