"""``POST /media``: a file for sending, as multipart, stored for 24 hours (``messaging.services.uploads``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.files.uploadhandler import FileUploadHandler, MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import parsers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from accounts.callers import AuthenticatedRequest
from core.problems import InvalidInput
from core.rest.schema import problem
from core.rest.views import APIView
from messaging.permissions import MediaAccess
from messaging.serializers import MediaUploadSerializer
from messaging.services import uploads

FILE_FIELD = "file"


class MediaSizeLimit(FileUploadHandler):
    """First of the upload handlers: counts each file's bytes as they stream in and stops the upload with a 413
    as soon as one passes ``MEDIA_MAX_BYTES``, before the next handler keeps them (memory, then a temporary
    file). The body's declared length was checked before (``core.web.middleware``); this holds whatever it says."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.MEDIA_MAX_BYTES:
            raise uploads.MediaTooLarge(
                f"Files for sending are limited to MEDIA_MAX_BYTES ({settings.MEDIA_MAX_BYTES} bytes)."
            )
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handlers build the file


class MediaUploadParser(parsers.MultiPartParser):
    """``multipart/form-data`` through ``MediaSizeLimit``; a malformed body is a 400 ``malformed_multipart``."""

    def parse(
        self, stream: IO[Any] | None, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> parsers.DataAndFiles:
        context = parser_context or {}
        request = context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        handlers = [MediaSizeLimit(request), MemoryFileUploadHandler(request), TemporaryFileUploadHandler(request)]
        try:
            parser = DjangoMultiPartParser(
                meta,
                stream,  # type: ignore[arg-type]  # DRF's request stream: a file-like object Django reads
                handlers,
                context.get("encoding", settings.DEFAULT_CHARSET),
            )
            data, files = parser.parse()
        except (uploads.MediaTooLarge, RequestDataTooBig):
            _discard(handlers)
            raise
        except (MultiPartParserError, SuspiciousOperation, ValueError) as exc:
            _discard(handlers)
            raise ParseError(f"The multipart body cannot be read: {exc}"[:300], code="malformed_multipart") from exc
        return parsers.DataAndFiles(data, files)


def _discard(handlers: list[FileUploadHandler]) -> None:
    """Remove the temporary file of an upload that stopped half way."""
    for handler in handlers:
        handler.upload_interrupted()


UPLOAD_EXAMPLE = OpenApiExample(
    "Uploaded",
    response_only=True,
    status_codes=["201"],
    value={
        "id": "0193a4f2-7c1e-7b3a-9f4e-2d8c6b5a1e0f",
        "mimetype": "application/pdf",
        "filename": "invoice-2026-0042.pdf",
        "size": 48213,
        "expires_at": "2026-11-25T10:15:00Z",
    },
)


class MediaUploadView(APIView):
    permission_classes = [MediaAccess]
    parser_classes = [MediaUploadParser]

    @extend_schema(
        tags=["messages"],
        summary="Upload a file for sending (kept 24 hours)",
        description="Stores one file, sent as the multipart part `file`, and answers its id; a send or bulk send "
        'then names it with `"media": {"id": "<id>"}` (any number of times until `expires_at`, '
        "24 hours after the upload). The part's `Content-Type` is the file's mimetype; when it is "
        "missing or `application/octet-stream`, the file's bytes decide. A declared image, audio or "
        "video type that the bytes contradict is a 400 `media_type_mismatch`. Same roles as "
        "`POST /messages/send`. The id works only in this tenant.",
        request={"multipart/form-data": MediaUploadSerializer},
        responses={
            201: MediaUploadSerializer,
            400: problem(
                400,
                "No part `file`, an empty file, a part `Content-Type` that is not a media type "
                "(`validation_error`); a body that is not valid multipart (`malformed_multipart`); "
                "a declared image, audio or video type that the bytes contradict "
                "(`media_type_mismatch`).",
                code="media_type_mismatch",
                title="Media type mismatch",
                detail="The file was declared image/png, but its bytes are application/pdf.",
            ),
            413: problem(
                413,
                "The file is larger than `MEDIA_MAX_BYTES` (16 MiB by default), or the body larger "
                "than that and 64 KiB (`payload_too_large`).",
                detail="Files for sending are limited to MEDIA_MAX_BYTES (16777216 bytes).",
            ),
            415: problem(
                415,
                "The body is not `multipart/form-data` (`unsupported_media_type`).",
                detail='Unsupported media type "application/json" in request.',
            ),
            503: problem(
                503,
                "The media storage could not store the file (`service_unavailable`); try again.",
                code="service_unavailable",
                title="Service unavailable",
                detail="The file could not be stored now; try again later.",
            ),
        },
        examples=[UPLOAD_EXAMPLE],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        files = request.FILES.getlist(FILE_FIELD)
        if len(files) != 1:
            raise InvalidInput(errors={FILE_FIELD: ["Send exactly one file, as the multipart part named file."]})
        upload = uploads.upload_from_file(
            principal=request.user, file=files[0], declared_mimetype=files[0].content_type, filename=files[0].name
        )
        return Response(MediaUploadSerializer(upload).data, status=status.HTTP_201_CREATED)
