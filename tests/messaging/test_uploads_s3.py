"""Files for sending in S3-compatible object storage (``MEDIA_STORAGE=s3``), against a real S3 server (moto).

The upload lands in the bucket under ``uploads/<schema>/``, the dispatcher reads it back from the bucket for WAHA,
and the expiry deletes the object: what compose runs with MinIO, where web and worker share no disk.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from messaging.models import MediaUpload
from messaging.services import dispatch, uploads
from tests.messaging.test_uploads import PDF, received, upload
from tests.webhooks.test_inbound_media_s3 import bucket, s3_server  # noqa: F401 - the fixtures

pytestmark = pytest.mark.e2e


def test_an_upload_lives_in_the_bucket_reaches_waha_and_expires(
    api,
    acme,
    working_session,
    sandbox,
    settings,
    tmp_path,
    bucket,  # noqa: F811 - the imported fixture
):
    settings.MEDIA_ROOT = tmp_path / "media"  # what a local storage would use: it must stay untouched
    created = upload(api, PDF, name="invoice.pdf")
    assert created.status_code == 201, created.content
    media_id = created.json()["id"]
    key = f"uploads/{acme.schema_name}/{media_id}/invoice.pdf"
    assert bucket.keys() == [key] and bucket.read(key) == PDF
    assert not settings.MEDIA_ROOT.exists()  # nothing on this host's disk

    sent = api.post(
        "/messages/send",
        {"session": "support", "to": "+4915112345678", "type": "file", "media": {"id": media_id}},
        format="json",
    )
    assert sent.status_code == 202, sent.content
    with tenant_context(acme):
        dispatch.dispatch_session(session_id=working_session.pk)
    (waha,) = received(sandbox)
    assert waha["bytes"] == PDF and waha["file"]["filename"] == "invoice.pdf"

    with tenant_context(acme):
        MediaUpload.objects.filter(pk=media_id).update(expires_at=timezone.now() - timedelta(hours=1))
        assert uploads.uploads_expire()["deleted"] == 1
    assert bucket.keys() == []
