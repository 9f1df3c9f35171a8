"""Inbound media in S3-compatible object storage, against a real S3 HTTP server (moto_server, a subprocess).

This is what compose runs with MinIO (``MEDIA_STORAGE=s3``): the worker copies a file from WAHA (here the
sandbox, over HTTP) into the bucket under the tenant's schema, and ``GET /messages/{id}/media`` streams it back
from there. Nothing is written to the local file system, so web and workers may run on different hosts with a
read-only root file system. The storage is configured from environment variables through
``config/settings.py``, as a container configures it.
"""

from __future__ import annotations

import base64
import runpy
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
import requests
from django.core.files.base import ContentFile
from django_tenants.utils import tenant_context

from accounts.roles import Role
from messaging.models import Message
from messaging.services import media as media_service
from sessions_waha.models import Session
from sessions_waha.services import session_create
from tests.support_processes import PROJECT_ROOT, free_port, wait_until
from tests.webhooks.webhook_helpers import inject, replay, stored
from webhooks.tasks import media_fetch_task

pytestmark = pytest.mark.e2e

ACCESS_KEY_ID = "waha-gateway-test"
SECRET_ACCESS_KEY = "moto-test-secret-4c9e1b7a2f6d8035"
REGION = "us-east-1"
PUBLIC_GRANTEES = {
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 server on a free port; its base URL."""
    port = free_port()
    log = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/moto-api/", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    try:
        if not wait_until(up, timeout=30):
            log.seek(0)
            raise RuntimeError("moto_server did not start:\n" + log.read().decode(errors="replace")[-4000:])
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@dataclass
class Bucket:
    name: str
    client: object  # a boto3 S3 client of its own, to look at the bucket independently of the service

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()


def settings_from_env(monkeypatch, **variables: str) -> dict:
    """``STORAGES["inbound_media"]`` as config/settings.py builds it from these environment variables."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(PROJECT_ROOT / "config" / "settings.py"))["STORAGES"]["inbound_media"]


@pytest.fixture
def bucket(s3_server, settings, monkeypatch) -> Bucket:
    """A new bucket (what compose's minio-init creates), and the service's inbound media storage configured on
    it with ``MEDIA_STORAGE=s3`` and the ``MEDIA_S3_*`` variables."""
    name = f"media-{secrets.token_hex(6)}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    client.create_bucket(Bucket=name)
    configured = settings_from_env(
        monkeypatch,
        MEDIA_STORAGE="s3",
        MEDIA_S3_BUCKET=name,
        MEDIA_S3_ENDPOINT_URL=s3_server,
        MEDIA_S3_REGION=REGION,
        MEDIA_S3_ACCESS_KEY_ID=ACCESS_KEY_ID,
        MEDIA_S3_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
    )
    assert configured["BACKEND"] == "messaging.storage.InboundMediaS3Storage"
    settings.STORAGES = {**settings.STORAGES, "inbound_media": configured}
    return Bucket(name=name, client=client)


def working_session(tenant, sandbox, capture, settings) -> Session:
    """A WORKING session of ``tenant`` in the sandbox whose webhooks go to the capture server."""
    settings.WEBHOOK_BASE_URL = capture.base_url
    settings.SEND_PACING = "off"
    with tenant_context(tenant):
        session = session_create(name="support")
    sandbox.pair(session.waha_name, phone="4915100000000")
    return session


def receive(tenant, session, sandbox, capture, public_client, **media) -> tuple[Message, bytes]:
    """A media message arrives at the sandbox's phone and is recorded; returns it and WAHA's bytes of the file."""
    answer, delivery = inject(sandbox, capture, session, **{"from": "4915199999999", "media": media})
    assert replay(public_client, delivery).json()["outcome"] == "accepted"
    url = answer["payload"]["media"]["url"]
    original = sandbox.http.get(sandbox.base_url + url[url.index("/api/files/") :], timeout=10).content
    return stored(tenant, answer["id"]), original


def copy_as_the_worker(tenant, message: Message) -> dict:
    """What the worker runs for a new inbound file (the Celery task's body); the message's media afterwards."""
    media_fetch_task.apply(args=[tenant.schema_name, str(message.pk)])
    with tenant_context(tenant):
        return Message.objects.get(pk=message.pk).media


def test_the_workers_copy_lands_in_the_bucket_and_the_api_streams_it_back(
    acme, sandbox, capture, settings, public_client, make_user, client_for, bucket
):
    session = working_session(acme, sandbox, capture, settings)
    message, original = receive(acme, session, sandbox, capture, public_client, mimetype="image/png")
    assert original.startswith(b"\x89PNG")

    media = copy_as_the_worker(acme, message)
    assert media["state"] == "stored" and media["size"] == len(original)
    key = f"{acme.schema_name}/{message.pk}/{media['filename']}"
    assert media["path"] == key and bucket.keys() == [key]
    assert bucket.read(key) == original
    # Nothing on this host's disk: the settings' MEDIA_ROOT (a fresh directory per test) was never created.
    assert not settings.MEDIA_ROOT.exists()

    response = client_for(acme, make_user(acme, Role.TENANT_ADMIN)).get(
        f"/messages/{message.pk}/media", HTTP_ACCEPT="image/*"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png" and response["Content-Disposition"].startswith("inline")
    assert response["Content-Length"] == str(len(original))
    assert b"".join(response.streaming_content) == original


def test_objects_are_private_and_never_replaced(acme, bucket):
    storage = media_service.media_storage()
    first = storage.save(f"{acme.schema_name}/m1/photo.png", ContentFile(b"first copy"))
    second = storage.save(f"{acme.schema_name}/m1/photo.png", ContentFile(b"second copy"))
    # Two copies of one file keep two objects, so deleting the loser of a race leaves the winner's in place.
    assert first != second and bucket.keys() == sorted([first, second])
    storage.delete(second)
    assert bucket.keys() == [first] and bucket.read(first) == b"first copy"
    # No grant to everyone: the object has the bucket owner's ACL only.
    grants = bucket.client.get_object_acl(Bucket=bucket.name, Key=first)["Grants"]
    assert grants and not [g for g in grants if g["Grantee"].get("URI") in PUBLIC_GRANTEES]
    # A URL the store would hand out is signed and expires; the API never hands one out.
    assert "X-Amz-Signature=" in storage.url(first) and "X-Amz-Expires=" in storage.url(first)


@pytest.mark.security
def test_each_tenants_files_live_under_its_own_schema_and_stay_its_own(
    acme, globex, sandbox, capture, settings, public_client, make_user, client_for, bucket
):
    files = {acme: b"%PDF-1.7 acme's invoice", globex: b"%PDF-1.7 globex's invoice"}
    messages = {}
    for tenant, content in files.items():
        session = working_session(tenant, sandbox, capture, settings)
        message, _ = receive(
            tenant,
            session,
            sandbox,
            capture,
            public_client,
            mimetype="application/pdf",
            filename="Invoice.pdf",
            data=base64.b64encode(content).decode(),
        )
        assert copy_as_the_worker(tenant, message)["state"] == "stored"
        messages[tenant] = message

    for tenant, content in files.items():
        # One file per tenant, under that tenant's schema: the same file name never meets another tenant's.
        (key,) = bucket.keys(prefix=f"{tenant.schema_name}/")
        assert key == f"{tenant.schema_name}/{messages[tenant].pk}/Invoice.pdf" and bucket.read(key) == content

    admins = {tenant: client_for(tenant, make_user(tenant, Role.TENANT_ADMIN)) for tenant in files}
    for tenant, content in files.items():
        response = admins[tenant].get(f"/messages/{messages[tenant].pk}/media", HTTP_ACCEPT="application/pdf")
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == 'attachment; filename="Invoice.pdf"'
        assert b"".join(response.streaming_content) == content
    # Another tenant's message id is not found, whoever asks; the object's key is never a way in.
    assert admins[globex].get(f"/messages/{messages[acme].pk}/media").status_code == 404
    assert admins[acme].get(f"/messages/{messages[globex].pk}/media").status_code == 404


def test_an_unreachable_store_is_a_503_and_a_retried_copy(
    acme, sandbox, capture, settings, public_client, make_user, client_for, bucket, monkeypatch
):
    session = working_session(acme, sandbox, capture, settings)
    copied, _ = receive(acme, session, sandbox, capture, public_client, mimetype="image/png")
    assert copy_as_the_worker(acme, copied)["state"] == "stored"
    waiting, _ = receive(acme, session, sandbox, capture, public_client, mimetype="image/jpeg")

    # The same bucket, behind an address where nothing listens (the store is down).
    settings.STORAGES = {
        **settings.STORAGES,
        "inbound_media": settings_from_env(
            monkeypatch,
            MEDIA_STORAGE="s3",
            MEDIA_S3_BUCKET=bucket.name,
            MEDIA_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}",
            MEDIA_S3_REGION=REGION,
            MEDIA_S3_ACCESS_KEY_ID=ACCESS_KEY_ID,
            MEDIA_S3_SECRET_ACCESS_KEY=SECRET_ACCESS_KEY,
        ),
    }
    response = client_for(acme, make_user(acme, Role.TENANT_ADMIN)).get(f"/messages/{copied.pk}/media")
    # Not a 404: the file exists, the store cannot be read now.
    assert response.status_code == 503 and response.json()["code"] == "service_unavailable"
    with tenant_context(acme), pytest.raises(media_service.MediaFetchRetry) as retry:
        media_service.media_fetch(message=waiting)
    assert retry.value.code == "storage_error"
    media = stored(acme, waiting.waha_message_id).media
    assert media["state"] == "pending" and media["attempts"] == 1
