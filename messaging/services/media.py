"""Inbound media: copied from WAHA into the service's own storage, then served from there.

WAHA keeps a received file for ``WHATSAPP_FILES_LIFETIME`` seconds (180 by
default, WAHA.md §6), so the webhook receiver queues ``media_fetch`` as soon
as the message is stored, and a periodic sweep catches what the queue missed.

``Message.media`` of an inbound message moves through these states::

    pending      WAHA has the file; not copied yet         {"source_url", "mimetype", "filename", "attempts"}
    stored       copied; served at /messages/{id}/media    {"path", "mimetype", "filename", "size", "error": null}
    unavailable  WAHA had no file (filtered out, or its own download failed)   {"error": {...}}
    failed       our copy failed for good (expired, too large, refused)       {"error": {...}}

The storage is Django's ``STORAGES["inbound_media"]``: a local directory,
``MEDIA_ROOT``, or with ``MEDIA_STORAGE=s3`` a bucket in S3-compatible object
storage (``messaging.storage``) that web and workers share from any host. Names
are ``<schema>/<message id>/<safe filename>``: every tenant's files under its
own schema's prefix. Either backend fails with ``OSError``.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, InvalidStorageError, Storage, storages
from django.db import transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from core.db.ids import RowId
from core.tenancy import current_schema
from messaging.models import Direction, Message
from sessions_waha.waha import (
    WahaError,
    WahaMediaRefused,
    WahaMediaTooLarge,
    WahaNotFound,
    WahaUnauthorized,
)

logger = logging.getLogger("messaging.media")

PENDING, STORED, UNAVAILABLE, FAILED = "pending", "stored", "unavailable", "failed"
STORAGE_ALIAS = "inbound_media"
# Raster images render inline; anything else (SVG included: it can carry script) is a download.
INLINE_MIMETYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_FILENAME_MAX = 100


class MediaFetchRetry(Exception):
    """A transient failure (WAHA unreachable, 5xx, storage hiccup): try again soon."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def media_storage() -> Storage:
    """Where copies live: ``STORAGES["inbound_media"]``, else a directory at ``MEDIA_ROOT``."""
    try:
        return storages[STORAGE_ALIAS]
    except InvalidStorageError:  # the alias is not configured; a backend that fails to load is not hidden
        return FileSystemStorage(location=settings.MEDIA_ROOT)


def _short_error(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping):
        detail = value.get("message") or value.get("detail") or value.get("code") or "error"
    else:
        detail = value
    return {"code": "waha_media_error", "detail": str(detail)[:300]}


def media_spec_from_payload(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The initial ``Message.media`` of an inbound ``message`` payload (None: no media)."""
    media = payload.get("media")
    if not isinstance(media, Mapping):
        if payload.get("hasMedia") is True:
            # The docs say media may be null when its mimetype is filtered out (WAHA.md §5.5).
            return {"state": UNAVAILABLE, "mimetype": None, "filename": None, "size": None,
                    "error": {"code": "media_not_downloaded", "detail": "WAHA did not download this media."}}
        return None
    mimetype = media.get("mimetype") if isinstance(media.get("mimetype"), str) else None
    filename = media.get("filename") if isinstance(media.get("filename"), str) else None
    spec: dict[str, Any] = {"mimetype": mimetype and mimetype[:100], "filename": filename and filename[:255],
                            "size": None}
    url = media.get("url") if isinstance(media.get("url"), str) else None
    if media.get("error"):
        return {**spec, "state": UNAVAILABLE, "error": _short_error(media["error"])}
    if not url:
        return {**spec, "state": UNAVAILABLE,
                "error": {"code": "media_not_downloaded", "detail": "WAHA did not download this media."}}
    return {**spec, "state": PENDING, "source_url": url[:2000], "attempts": 0, "error": None}


def _safe_filename(message: Message, media: Mapping[str, Any], downloaded: str | None, mimetype: str) -> str:
    extension = mimetypes.guess_extension(mimetype) or ".bin"
    return safe_filename((media.get("filename"), downloaded, f"{message.wa_id or 'media'}{extension}"),
                         fallback=f"media{extension}")


def safe_filename(candidates: Iterable[object], *, fallback: str) -> str:
    """The first candidate made safe as the last part of a storage name (no directories, no leading dot, at most
    100 characters, extension kept), or ``fallback``."""
    for candidate in candidates:
        if not isinstance(candidate, str) or not candidate:
            continue
        try:
            name = get_valid_filename(candidate.replace("\\", "/").rsplit("/", 1)[-1])
        except SuspiciousFileOperation:
            continue
        if name.startswith("."):
            name = "media" + name
        if len(name) > _FILENAME_MAX:
            stem, dot, ext = name.rpartition(".")
            name = (stem[: _FILENAME_MAX - len(ext) - 1] + dot + ext) if dot and len(ext) < 10 else name[:_FILENAME_MAX]
        return name
    return fallback


def _mark(message_pk: RowId, **changes: Any) -> dict[str, Any] | None:
    """Merge ``changes`` into the message's media under a row lock; None if it is already stored."""
    with transaction.atomic():
        locked = Message.objects.select_for_update().filter(pk=message_pk).only("media").first()
        if locked is None or not isinstance(locked.media, dict) or locked.media.get("state") == STORED:
            return None
        media = {**locked.media, **changes}
        Message.objects.filter(pk=message_pk).update(media=media, updated_at=timezone.now())
        return media


def media_fetch_failed(*, message: Message, code: str, detail: str = "") -> None:
    """Give up on copying this message's media; the API shows ``media.error``."""
    _mark(message.pk, state=FAILED, error={"code": code, "detail": detail or code.replace("_", " ")})
    logger.warning("media.failed message_id=%s code=%s", message.pk, code)


def media_fetch(*, message: Message) -> bool:
    """Copy a pending inbound media file from WAHA into our storage. Call inside the tenant's schema.

    Returns True when the file is stored (now or before). A permanent failure
    (expired at WAHA, over ``MEDIA_INBOUND_MAX_BYTES``, a URL outside WAHA's
    ``/api/files/``) marks the media ``failed`` and returns False; a transient
    one raises ``MediaFetchRetry`` after counting the attempt.
    """
    from sessions_waha.services import waha_client

    media = message.media if isinstance(message.media, dict) else None
    if media is None or message.direction != Direction.INBOUND:
        return False
    if media.get("state") == STORED:
        return True
    if media.get("state") != PENDING or not media.get("source_url"):
        return False
    attempts = int(media.get("attempts") or 0) + 1
    try:
        client = waha_client(message.session.waha_server)
        downloaded = client.download_media(url=media["source_url"], max_bytes=settings.MEDIA_INBOUND_MAX_BYTES)
    except WahaNotFound:
        media_fetch_failed(message=message, code="media_expired", detail="WAHA no longer has this file.")
        return False
    except WahaMediaTooLarge:
        media_fetch_failed(message=message, code="media_too_large",
                           detail=f"The file is larger than {settings.MEDIA_INBOUND_MAX_BYTES} bytes.")
        return False
    except WahaMediaRefused:
        media_fetch_failed(message=message, code="media_refused", detail="The media URL is not WAHA's /api/files/.")
        return False
    except WahaError as exc:
        if not (exc.transient or isinstance(exc, WahaUnauthorized)):
            media_fetch_failed(message=message, code="waha_error", detail=str(exc)[:300])
            return False
        _mark(message.pk, attempts=attempts)
        logger.info("media.fetch_retry message_id=%s attempt=%s error=%s", message.pk, attempts, type(exc).__name__)
        raise MediaFetchRetry(type(exc).__name__) from exc

    mimetype = media.get("mimetype") or downloaded.mimetype or "application/octet-stream"
    filename = _safe_filename(message, media, downloaded.filename, mimetype)
    storage = media_storage()
    try:
        name = storage.save(f"{current_schema()}/{message.pk}/{filename}", ContentFile(downloaded.content))
    except OSError as exc:
        _mark(message.pk, attempts=attempts)
        logger.warning("media.store_failed message_id=%s error=%s", message.pk, type(exc).__name__)
        raise MediaFetchRetry("storage_error") from exc
    stored = _mark(message.pk, state=STORED, path=name, mimetype=mimetype, filename=filename,
                   size=len(downloaded.content), error=None, attempts=attempts,
                   fetched_at=timezone.now().isoformat())
    if stored is None:  # a concurrent fetch stored it first
        storage.delete(name)
        return True
    logger.info("media.stored message_id=%s size=%s mimetype=%s", message.pk, len(downloaded.content), mimetype)
    return True


def media_pending(*, older_than: timedelta, newer_than: timedelta, limit: int) -> list[Message]:
    """Inbound messages whose media is still to be copied (for the sweep)."""
    now = timezone.now()
    return list(Message.objects.select_related("session__waha_server")
                .filter(direction=Direction.INBOUND, media__state=PENDING, created_at__lte=now - older_than,
                        created_at__gte=now - newer_than)
                .order_by("created_at")[:limit])


def media_open(*, message: Message) -> tuple[IO[bytes], str, str]:
    """The stored file of a message, opened for streaming: ``(file, mimetype, filename)``.

    ``FileNotFoundError`` when there is none; another ``OSError`` when the storage cannot be read now.
    """
    media = message.media if isinstance(message.media, dict) else {}
    path = media.get("path")
    if media.get("state") != STORED or not isinstance(path, str) or not path:
        raise FileNotFoundError("no stored media")
    handle = media_storage().open(path, "rb")
    return handle, media.get("mimetype") or "application/octet-stream", media.get("filename") or "media"
