"""``GET /messages/{id}/media``: the copy of an inbound media file, for whoever may see the message."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers

from accounts.callers import AuthenticatedRequest
from core.problems import NotFound, ServiceUnavailable
from core.rest.schema import problem
from core.rest.views import APIView
from messaging import selectors
from messaging.permissions import MessagesAccess
from messaging.services import media as media_service


class AnyMediaRenderer(renderers.BaseRenderer):
    """Lets ``Accept: image/*`` (an ``<img>`` tag) reach the view; problems still render as JSON."""

    media_type = "*/*"
    format = "media"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        return renderers.JSONRenderer().render(data)


class MessageMediaView(APIView):
    permission_classes = [MessagesAccess]
    renderer_classes = [renderers.JSONRenderer, AnyMediaRenderer]

    @extend_schema(
        tags=["messages"], summary="Download a message's media file",
        description="The inbound media file as copied from WAHA when it arrived, with its content type. Raster "
                    "images (JPEG, PNG, GIF, WebP) are served inline, anything else as an attachment. Same "
                    "visibility as `GET /messages/{id}` (an agent only for assigned conversations). 404 "
                    "`not_found` when the message has no stored media (text messages, outbound messages, media "
                    "that WAHA did not keep or that is still being copied: see the message's `media.error`).",
        responses={
            200: OpenApiResponse(OpenApiTypes.BINARY, description="The file, with its content type."),
            503: problem(503, "The media storage could not be read (`service_unavailable`); try again later.",
                         code="service_unavailable", title="Service unavailable",
                         detail="The media storage cannot be read now; try again later."),
        },
    )
    def get(self, request: AuthenticatedRequest, message_id: str) -> FileResponse:
        message = selectors.message_get_for(user=request.user, message_id=message_id)
        try:
            handle, mimetype, filename = media_service.media_open(message=message)
        except FileNotFoundError as exc:  # nothing stored (yet), or the copy is gone
            raise NotFound("This message has no stored media.") from exc
        except OSError as exc:  # the storage (a disk, an object store) failed: the file may well be there
            raise ServiceUnavailable("The media storage cannot be read now; try again later.") from exc
        base_type = mimetype.split(";", 1)[0].strip().lower()
        response = FileResponse(handle, content_type=mimetype,
                                as_attachment=base_type not in media_service.INLINE_MIMETYPES, filename=filename)
        size = getattr(handle, "size", None)
        if not response.has_header("Content-Length") and isinstance(size, int):
            # A streamed object cannot be measured by seeking; the storage told its length.
            response["Content-Length"] = str(size)
        response["X-Content-Type-Options"] = "nosniff"
        # Whatever the file claims to be, it never runs as a page of this origin.
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, max-age=3600"
        return response
