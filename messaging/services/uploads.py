"""Media from bytes: files a client gives for sending, kept 24 hours.

A backend that has just generated an invoice PDF sends it without hosting it anywhere:

- ``POST /media`` (multipart, part ``file``) stores the file and answers its id; a send or bulk send then names it
  with ``"media": {"id": ...}``;
- or the send carries it inline, ``"media": {"data": "<base64>", "mimetype", "filename"?}``, and the service
  stores it the same way (an identical file sent again reuses the stored one) before queueing the message.

**Checks.** At most ``MEDIA_MAX_BYTES`` (413; counted while a multipart upload streams in, measured before base64
is decoded). The type of the bytes is read from their first bytes (``filetype``: signatures of the image, audio
and video formats WhatsApp takes, pure Python, so no libmagic in the image). A declared image, audio or video type
that the bytes contradict is a 400, and an ``image``/``voice``/``video`` message needs a file of that kind whose
bytes match its mimetype (400 ``media_type_mismatch``). A document (``file``) may be anything; what the bytes
showed is recorded beside it (``detected_mimetype``).

**Storage.** The media storage of inbound copies (``STORAGES["inbound_media"]``: a directory, or an S3 bucket that
web and workers share), under ``uploads/<schema>/<id>/<filename>``: a prefix of their own, and every tenant's
files under its schema. The row (``MediaUpload``) lives in the tenant's schema, so another tenant's id is a 404.

**How the file reaches WAHA.** The worker reads the file and puts it into the send body as base64 ``data``
(WAHA.md §4: ``{"mimetype", "filename", "data"}``). WAHA.md §9.8 prefers ``url`` files, which WAHA downloads
itself, but a URL would have to reach this service (or the bucket) from the WAHA host, signed and unexpired when
WAHA gets round to it: that depends on the deployment (WAHA in Docker, on another host, a private bucket).
``data`` works with every engine and every deployment, and a file of at most ``MEDIA_MAX_BYTES`` (at most 37 MiB,
``config/settings.py``) stays under WAHA's 50 MB JSON body limit once encoded. ``filename`` is always set, so
documents show a name.

**Lifetime.** An upload expires 24 hours after it was stored: from then on a send that names it is a 404. Beat
(``messaging.uploads_expire``) deletes expired uploads, the stored file and the row, but never one that a
``scheduled``, ``queued`` or ``sending`` message still names: a paced bulk that takes days still sends its file.
A message keeps the upload's id, never a copy; once it is sent (or failed) and the upload has expired, the file
goes. A failed message retried after that fails again with ``media_expired``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import mimetypes
import os
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeGuard

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage
from django.db.models import Exists, OuterRef, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.models import User
from accounts.principals import ApiKeyPrincipal
from core.db.ids import uuid7
from core.problems import InvalidInput, NotFound, ServiceError, ServiceUnavailable
from core.tenancy import current_schema
from core.web.middleware import base64_length
from messaging import metrics
from messaging.models import MediaUpload, Message, MessageStatus
from messaging.services.media import media_storage, safe_filename
from messaging.services.media_types import (
    GENERIC_TYPES,
    SNIFF_BYTES,
    WHITESPACE,
    MediaTypeMismatch,
    base_type,
    declared_type_check,
    default_filename,
    detected_type,
    display_filename,
    kind_check,
)

logger = logging.getLogger("messaging.services.uploads")

UPLOAD_LIFETIME = timedelta(hours=24)
# Expired uploads are deleted this long after they expired: a send that checked the upload a moment before it
# expired has long stored its message (which then keeps the file) by then.
DELETE_GRACE = timedelta(minutes=10)
# The statuses of a message that will still send its file.
IN_USE_STATUSES = (MessageStatus.SCHEDULED, MessageStatus.QUEUED, MessageStatus.SENDING)
EXPIRE_BATCH = 500
MULTIPART, INLINE = "multipart", "inline"

class MediaTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"
    title = "Media file too large"


class UploadGone(Exception):
    """The upload a message names is no longer stored (expired and deleted)."""


class UploadUnreadable(Exception):
    """The media storage failed while reading an upload: the file is most likely still there."""


def _too_large(size: int | None = None) -> MediaTooLarge:
    limit = settings.MEDIA_MAX_BYTES
    said = f"The file is {size} bytes; files" if size is not None else "Files"
    return MediaTooLarge(f"{said} for sending are limited to MEDIA_MAX_BYTES ({limit} bytes).")


# ------------------------------------------------------------------------------------------------ storing


@dataclass(frozen=True)
class _Creator:
    user: User | None
    api_key_id: Any

    @classmethod
    def of(cls, principal: User | ApiKeyPrincipal) -> _Creator:
        if isinstance(principal, ApiKeyPrincipal):
            return cls(user=None, api_key_id=principal.api_key_id)
        return cls(user=principal, api_key_id=None)


def _sha256(content: File) -> str:
    digest = hashlib.sha256()
    content.seek(0)
    for chunk in content.chunks():
        digest.update(chunk)
    content.seek(0)
    return digest.hexdigest()


def _store(
    *,
    principal: User | ApiKeyPrincipal,
    content: File,
    size: int,
    mimetype: str,
    detected: str,
    filename: str,
    sha256: str,
    source: str,
) -> MediaUpload:
    """Save the file in the media storage, then its row; the row never names a file that is not there."""
    upload_id = uuid7()
    storage_name = safe_filename([filename], fallback=default_filename(mimetype))
    storage = media_storage()
    try:
        path = storage.save(f"uploads/{current_schema()}/{upload_id}/{storage_name}", content)
    except OSError as exc:
        metrics.upload_counted(source=source, outcome="storage_error")
        logger.warning("upload.store_failed source=%s size=%s error=%s", source, size, type(exc).__name__)
        raise ServiceUnavailable("The file could not be stored now; try again later.") from exc
    creator = _Creator.of(principal)
    now = timezone.now()
    try:
        upload = MediaUpload.objects.create(
            id=upload_id,
            path=path,
            mimetype=mimetype[:100],
            detected_mimetype=detected,
            filename=filename,
            size=size,
            sha256=sha256,
            source=source,
            created_by=creator.user,
            created_by_key_id=creator.api_key_id,
            created_at=now,
            expires_at=now + UPLOAD_LIFETIME,
        )
    except Exception:
        _delete_quietly(storage, path)
        raise
    metrics.upload_counted(source=source, outcome="stored", size=size)
    logger.info(
        "upload.stored upload_id=%s source=%s size=%s mimetype=%s detected=%s",
        upload.pk,
        source,
        size,
        upload.mimetype,
        detected or "-",
    )
    return upload


def upload_from_file(
    *, principal: User | ApiKeyPrincipal, file: File, declared_mimetype: str | None, filename: str | None
) -> MediaUpload:
    """``POST /media``: store an uploaded file (already limited to ``MEDIA_MAX_BYTES`` while it streamed in)."""
    size = file.size or 0
    if size > settings.MEDIA_MAX_BYTES:
        metrics.upload_counted(source=MULTIPART, outcome="too_large")
        raise _too_large(size)
    if size == 0:
        metrics.upload_counted(source=MULTIPART, outcome="invalid")
        raise InvalidInput("The file is empty.", errors={"file": ["The file is empty."]})
    file.seek(0)
    detected = detected_type(file.read(SNIFF_BYTES))
    declared = (declared_mimetype or "").strip()
    if declared and not re.fullmatch(r"[\w.+-]+/[\w.+-]+(?: *;.*)?", declared, re.ASCII):
        metrics.upload_counted(source=MULTIPART, outcome="invalid")
        raise InvalidInput(errors={"file": ["The part's Content-Type is not a media type."]})
    name = display_filename(filename)
    if base_type(declared) in GENERIC_TYPES:
        declared = detected or mimetypes.guess_type(name or "")[0] or "application/octet-stream"
    try:
        declared_type_check(declared=declared, detected=detected, field="file")
    except MediaTypeMismatch:
        metrics.upload_counted(source=MULTIPART, outcome="type_mismatch")
        raise
    return _store(
        principal=principal,
        content=file,
        size=size,
        mimetype=declared,
        detected=detected,
        filename=name or default_filename(declared),
        sha256=_sha256(file),
        source=MULTIPART,
    )


def _decoded(data: str) -> bytes:
    """The bytes of a base64 text (line breaks allowed): 413 when it is too long for ``MEDIA_MAX_BYTES`` (before
    anything is decoded), 400 when it is not base64."""
    if WHITESPACE.search(data):
        data = "".join(data.split())
    if len(data) > base64_length(settings.MEDIA_MAX_BYTES):
        raise _too_large()
    if data.startswith("data:"):
        raise InvalidInput(errors={"media.data": ["Send the base64 text alone, without a data: URL prefix."]})
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(errors={"media.data": ["This is not valid base64."]}) from exc


def upload_from_base64(
    *, principal: User | ApiKeyPrincipal, data: str, mimetype: str, filename: str | None, kind: str
) -> MediaUpload:
    """A file sent inline with a message: checked like an upload and for the message's kind, then stored, or the
    stored copy of the same file (same bytes, type and name, not expired) reused."""
    try:
        raw = _decoded(data)
    except MediaTooLarge:
        metrics.upload_counted(source=INLINE, outcome="too_large")
        raise
    except InvalidInput:
        metrics.upload_counted(source=INLINE, outcome="invalid")
        raise
    if len(raw) > settings.MEDIA_MAX_BYTES:
        metrics.upload_counted(source=INLINE, outcome="too_large")
        raise _too_large(len(raw))
    if not raw:
        metrics.upload_counted(source=INLINE, outcome="invalid")
        raise InvalidInput(errors={"media.data": ["The file is empty."]})
    detected = detected_type(raw)
    try:
        declared_type_check(declared=mimetype, detected=detected, field="media.data")
        kind_check(kind=kind, mimetype=mimetype, detected=detected, field="media.data")
    except MediaTypeMismatch:
        metrics.upload_counted(source=INLINE, outcome="type_mismatch")
        raise
    name = display_filename(filename) or default_filename(mimetype)
    sha256 = hashlib.sha256(raw).hexdigest()
    stored = (
        MediaUpload.objects.filter(sha256=sha256, mimetype=mimetype, filename=name, expires_at__gt=timezone.now())
        .order_by("-expires_at")
        .first()
    )
    if stored is not None:
        metrics.upload_counted(source=INLINE, outcome="reused")
        logger.info("upload.reused upload_id=%s size=%s", stored.pk, stored.size)
        return stored
    return _store(
        principal=principal,
        content=ContentFile(raw),
        size=len(raw),
        mimetype=mimetype,
        detected=detected,
        filename=name,
        sha256=sha256,
        source=INLINE,
    )


def upload_get(*, upload_id: Any) -> MediaUpload:
    """A live upload of this tenant: 404 when it is unknown here (another tenant's) or expired."""
    upload = MediaUpload.objects.filter(pk=upload_id, expires_at__gt=timezone.now()).first()
    if upload is None:
        raise NotFound(
            "No media with this id: it does not exist in this tenant or has expired (uploads are kept 24 hours)."
        )
    return upload


def media_for_send(
    *, principal: User | ApiKeyPrincipal, kind: str, media: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The ``media`` a message stores for the ``media`` of a send or bulk request.

    A URL stays as given. An uploaded file's id and an inline file become a reference to the stored upload:
    ``{"id", "mimetype", "filename", "size", "sha256"}``. 404 for an unknown or expired id; 413 and 400 as
    ``upload_from_base64`` says; 400 ``media_type_mismatch`` when the file does not suit ``kind``.
    """
    if not media or "url" in media:
        return media
    if "id" in media:
        upload = upload_get(upload_id=media["id"])
        kind_check(kind=kind, mimetype=upload.mimetype, detected=upload.detected_mimetype, field="media.id")
        filename = display_filename(media.get("filename")) or upload.filename
    else:
        upload = upload_from_base64(
            principal=principal,
            data=media["data"],
            mimetype=media["mimetype"],
            filename=media.get("filename"),
            kind=kind,
        )
        filename = upload.filename
    return {
        "id": str(upload.pk),
        "mimetype": upload.mimetype,
        "filename": filename,
        "size": upload.size,
        "sha256": upload.sha256,
    }


def is_upload_reference(media: object) -> TypeGuard[dict[str, Any]]:
    """Whether a message's ``media`` names a stored upload (not a URL, not inbound media)."""
    return isinstance(media, dict) and isinstance(media.get("id"), str) and "url" not in media


# ------------------------------------------------------------------------------------------------ sending


class BatchFiles:
    """The files of the uploads a claimed batch sends, as base64, for the worker's send bodies.

    The rows are read once for the batch (the caller's thread: the send threads touch no database). Each file is
    read and encoded once, when its first message is sent (a bulk names one file in every message), and dropped
    when its last message of the batch has used it: at most a few files are held at once, whatever the batch.
    """

    def __init__(self, messages: Iterable[Message]) -> None:
        self._remaining = Counter(
            str(media["id"]) for media in (message.media for message in messages) if is_upload_reference(media)
        )
        self._paths = (
            {
                str(pk): path
                for pk, path in MediaUpload.objects.filter(pk__in=list(self._remaining)).values_list("pk", "path")
            }
            if self._remaining
            else {}
        )
        self._locks = {upload_id: threading.Lock() for upload_id in self._remaining}
        self._encoded: dict[str, str] = {}
        self._count_lock = threading.Lock()

    def file_for(self, media: dict[str, Any]) -> dict[str, Any]:
        """WAHA's ``file`` for a message's media: ``{"mimetype", "filename", "data"}``.

        ``UploadGone`` when the upload is no longer stored; ``UploadUnreadable`` when the storage failed.
        """
        upload_id = str(media["id"])
        try:
            data = self._base64(upload_id)
        finally:
            self._used(upload_id)
        return {
            "mimetype": media.get("mimetype") or "application/octet-stream",
            "filename": media.get("filename") or default_filename(media.get("mimetype") or ""),
            "data": data,
        }

    def _base64(self, upload_id: str) -> str:
        path = self._paths.get(upload_id)
        if path is None:
            raise UploadGone(upload_id)
        with self._locks.setdefault(upload_id, threading.Lock()):
            encoded = self._encoded.get(upload_id)
            if encoded is None:
                try:
                    with media_storage().open(path, "rb") as handle:
                        raw = handle.read()
                except FileNotFoundError as exc:
                    raise UploadGone(upload_id) from exc
                except OSError as exc:
                    raise UploadUnreadable(f"{type(exc).__name__}: {exc}"[:200]) from exc
                encoded = self._encoded[upload_id] = base64.b64encode(raw).decode("ascii")
        return encoded

    def _used(self, upload_id: str) -> None:
        with self._count_lock:
            self._remaining[upload_id] -= 1
            if self._remaining[upload_id] <= 0:
                self._encoded.pop(upload_id, None)


# ------------------------------------------------------------------------------------------------ expiry


def _in_use() -> Exists:
    """Whether a message that will still send names the outer upload."""
    return Exists(
        Message.objects.filter(status__in=IN_USE_STATUSES)
        .annotate(upload_ref=KeyTextTransform("id", "media"))
        .filter(upload_ref=Cast(OuterRef("pk"), output_field=TextField()))
    )


def _delete_quietly(storage: Any, path: str) -> bool:
    """Delete a stored file (a missing one counts as deleted); False when the storage failed."""
    try:
        storage.delete(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("upload.delete_failed path=%s error=%s", path, type(exc).__name__)
        return False
    if isinstance(storage, FileSystemStorage):
        # One directory per upload: remove it with its file (object stores have no directories).
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(storage.path(path)))
    return True


def uploads_expire(*, now: datetime | None = None, limit: int = EXPIRE_BATCH) -> dict[str, int]:
    """Delete expired uploads (the file, then the row) that no scheduled, queued or sending message names.

    Run inside a tenant's schema (beat's ``messaging.uploads_expire``). Returns the counts for the log line.
    """
    cutoff = (now or timezone.now()) - DELETE_GRACE
    expired = MediaUpload.objects.filter(expires_at__lt=cutoff)
    candidates = list(expired.exclude(_in_use()).order_by("expires_at").values_list("pk", "path")[:limit])
    storage = media_storage()
    deleted = [pk for pk, path in candidates if _delete_quietly(storage, path)]
    if deleted:
        MediaUpload.objects.filter(pk__in=deleted).delete()
    metrics.uploads_expired(len(deleted))
    kept = expired.filter(_in_use()).count()
    report = {"deleted": len(deleted), "kept_for_messages": kept, "delete_failed": len(candidates) - len(deleted)}
    if any(report.values()):
        logger.info("uploads.expired deleted=%s kept_for_messages=%s delete_failed=%s", *report.values())
    return report
