"""WAHA sessions endpoints: validate, call a service or selector, serialize."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import renderers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.rest.fields import StrictBooleanField, StrictRegexField
from core.rest.pagination import CursorPagination
from core.rest.schema import problem
from core.rest.serializers import Serializer
from core.rest.views import APIView, GenericAPIView
from sessions_waha import selectors, services
from sessions_waha.permissions import SessionQrAccess, SessionsAccess
from sessions_waha.serializers import SessionSerializer


class SessionCreateSerializer(Serializer):
    name = StrictRegexField(services.NAME_PATTERN, max_length=40,
                            error_messages={"invalid": "Use 1-40 letters, digits, '-' or '_', starting with a "
                                                       "letter or digit."},
                            help_text="Unique among the tenant's live sessions: 1 to 40 letters, digits, '-' and "
                                      "'_', starting with a letter or digit.")
    start = StrictBooleanField(default=True, help_text="Start the session (and show a QR code) at once.")


class SessionCursorPagination(CursorPagination):
    ordering = "-created_at"


class PNGRenderer(renderers.BaseRenderer):
    """``image/png`` for the QR; problem documents still go out as JSON bytes."""

    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: Mapping[str, Any] | None = None) -> bytes:
        return data if isinstance(data, bytes) else json.dumps(data).encode()


WAHA_DOWN = problem(503, "WAHA unreachable or failing (`waha_unavailable`); nothing was changed.",
                    code="waha_unavailable", title="WAHA unavailable",
                    detail="WAHA could not be reached; nothing was changed.")
SESSION_EXAMPLE = OpenApiExample("Session", response_only=True, value={
    "id": "6f1c2f7e-2b8e-4c61-9a39-0d9f8a1b2c3d", "name": "support", "status": "SCAN_QR_CODE", "phone": "",
    "created_at": "2026-11-24T10:15:00Z", "updated_at": "2026-11-24T10:15:02Z",
    "status_changed_at": "2026-11-24T10:15:02Z",
})


class SessionListView(GenericAPIView):
    permission_classes = [SessionsAccess]
    pagination_class = SessionCursorPagination
    serializer_class = SessionSerializer

    @extend_schema(tags=["sessions"], summary="List WhatsApp sessions", responses={200: SessionSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.session_list(user=request.user))
        return self.get_paginated_response(SessionSerializer(page, many=True).data)

    @extend_schema(
        tags=["sessions"], summary="Connect a WhatsApp number (create a session)",
        description="Creates the session in WAHA with a signed webhook and starts it; pair it by scanning "
                    "`GET /waha/sessions/{id}/qr`. Names are unique per tenant (409). When WAHA is down the "
                    "answer is 503 `waha_unavailable` and nothing is left behind; a full WAHA pool is 503 "
                    "`waha_capacity_exhausted`.",
        request=SessionCreateSerializer,
        responses={201: SessionSerializer,
                   409: problem(409, "Name taken (`conflict`).", detail="A session named 'support' already exists."),
                   503: problem(503, "WAHA unreachable or failing (`waha_unavailable`), or no WAHA server has room "
                                     "(`waha_capacity_exhausted`); nothing was created.",
                                code="waha_unavailable", title="WAHA unavailable",
                                detail="WAHA could not be reached; nothing was changed.")},
        examples=[OpenApiExample("Create", value={"name": "support", "start": True}, request_only=True),
                  SESSION_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        serializer = SessionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        session = services.session_create(**serializer.validated_data)
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionDetailView(APIView):
    permission_classes = [SessionsAccess]

    @extend_schema(tags=["sessions"], summary="Get a session (status refreshed from WAHA when stale)",
                   responses={200: SessionSerializer}, examples=[SESSION_EXAMPLE])
    def get(self, request: Request, session_id: str) -> Response:
        session = services.session_refresh(session=selectors.session_get(session_id=session_id, user=request.user),
                                           if_stale=True)
        return Response(SessionSerializer(session).data)

    @extend_schema(tags=["sessions"], summary="Delete a session (stops and deletes it in WAHA)",
                   description="The session is then 404; its messages stay readable.",
                   responses={204: None, 503: WAHA_DOWN})
    def delete(self, request: Request, session_id: str) -> Response:
        services.session_delete(session=selectors.session_get(session_id=session_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionStopView(APIView):
    permission_classes = [SessionsAccess]

    @extend_schema(tags=["sessions"], summary="Stop a session (pairing is kept)", request=None,
                   responses={200: SessionSerializer, 503: WAHA_DOWN})
    def post(self, request: Request, session_id: str) -> Response:
        session = services.session_stop(session=selectors.session_get(session_id=session_id))
        return Response(SessionSerializer(session).data)


class SessionQrView(APIView):
    permission_classes = [SessionQrAccess]
    renderer_classes = [PNGRenderer, renderers.JSONRenderer]

    @extend_schema(
        tags=["sessions"], summary="The pairing QR code",
        description="`image/png` by default; `{\"mimetype\", \"data\"}` (base64) with `Accept: application/json`. "
                    "409 `session_not_ready` unless the status is SCAN_QR_CODE. WAHA rotates the code about "
                    "every 20 seconds: fetch it again while pairing.",
        responses={
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "application/json"): inline_serializer("QrCode", {
                "mimetype": serializers.CharField(), "data": serializers.CharField(help_text="base64 PNG")}),
            409: problem(409, "Not in SCAN_QR_CODE (`session_not_ready`).", code="session_not_ready",
                         title="Session not ready",
                         detail="The session is WORKING; a QR code exists only in SCAN_QR_CODE."),
            503: WAHA_DOWN,
        },
    )
    def get(self, request: Request, session_id: str) -> Response:
        as_json = request.accepted_renderer.media_type == "application/json"
        qr = services.session_qr(session=selectors.session_get(session_id=session_id), as_json=as_json)
        return Response(qr, content_type=None if as_json else "image/png")
