"""Object storage for inbound media (``MEDIA_STORAGE=s3``): django-storages' S3 backend, adjusted to this service.

Any S3-compatible store works (MinIO in compose, AWS S3, Cloudflare R2, Backblaze B2, Ceph, ...). Web and
workers on any number of hosts then share the copies without a shared file system. What differs from
django-storages' ``S3Storage``:

- reads stream: ``open(name)`` hands back the object's body as it downloads, where ``S3Storage`` first copies
  the whole object (up to ``MEDIA_INBOUND_MAX_BYTES``) into memory;
- failures of the store are ``OSError`` (a missing object ``FileNotFoundError``), as with a local directory, so
  that ``messaging.services.media`` treats both backends alike (a failed copy is retried, a failed read is a 503);
- short timeouts: a request that serves a file must not hang for botocore's default of 60 s.

The settings (``config/settings.py``) keep objects private and never overwrite one; see ``MEDIA_S3_*`` in
docs/DEPLOYMENT_GUIDE.md.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.base import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# Error codes of an object that is not there (a HEAD request has no body, only its status). A missing bucket
# is a configuration error, not a missing file.
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "404"})
_CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3, "mode": "standard"})


@contextlib.contextmanager
def _as_os_errors(name: str) -> Iterator[None]:
    """The store's failures as the ``OSError`` a file system would raise."""
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _NOT_FOUND_CODES:
            raise FileNotFoundError(f"object storage has no {name!r} ({code})") from exc
        raise OSError(f"object storage refused {name!r}: {code or exc}") from exc
    except BotoCoreError as exc:
        raise OSError(f"object storage unavailable: {type(exc).__name__}") from exc


class ObjectStream:
    """An object's body, read while it downloads (``FileResponse`` streams it block by block)."""

    def __init__(self, body: Any, *, name: str, size: int) -> None:
        self._body = body
        self._name = name
        # The object's length, for Content-Length (a stream cannot be measured by seeking).
        self.size = size

    def read(self, size: int | None = -1) -> bytes:
        with _as_os_errors(self._name):
            return self._body.read(None if size is None or size < 0 else size)

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> ObjectStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class InboundMediaS3Storage(S3Storage):
    """``S3Storage`` with streamed reads, ``OSError`` failures and short timeouts (module docstring)."""

    # Set by S3Storage from its settings; declared for the type checker.
    client_config: Config
    bucket_name: str

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        # S3Storage built its Config from addressing_style and signature_version; keep those, add timeouts.
        self.client_config = self.client_config.merge(_CLIENT_CONFIG)

    def _open(self, name: str, mode: str = "rb") -> ObjectStream | File:
        if mode != "rb":
            return super()._open(name, mode)
        key = self._normalize_name(clean_name(name))
        with _as_os_errors(name):
            answer = self.connection.meta.client.get_object(Bucket=self.bucket_name, Key=key)
        return ObjectStream(answer["Body"], name=name, size=int(answer["ContentLength"]))

    def _save(self, name: str, content: Any) -> str:
        with _as_os_errors(name):
            return super()._save(name, content)

    def exists(self, name: str) -> bool:
        with _as_os_errors(name):
            return super().exists(name)

    def delete(self, name: str) -> None:
        with _as_os_errors(name):
            super().delete(name)
