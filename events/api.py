"""Event webhook endpoints: validate, call a service or selector, serialize."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from core.rest.pagination import CursorPagination
from core.rest.schema import problem
from core.rest.views import APIView, GenericAPIView
from events import selectors, services
from events.permissions import EventWebhooksAccess
from events.serializers import (
    DeliveryDetailSerializer,
    DeliveryFilterSerializer,
    DeliverySerializer,
    EndpointSerializer,
    EndpointWithSecretSerializer,
    EndpointWriteSerializer,
    ReplayResultSerializer,
    ReplaySerializer,
)

TAGS = ["webhooks"]
ENDPOINT_ID = "01935f7e-2b8e-7c61-9a39-0d9f8a1b2c3d"
CREATE_EXAMPLE = OpenApiExample(
    "Register",
    request_only=True,
    value={
        "url": "https://backend.example.com/whatsapp/events",
        "events": ["message.delivered", "message.read", "message.failed", "message.received"],
        "description": "Order notifications backend",
    },
)
ENDPOINT_EXAMPLE = OpenApiExample(
    "Endpoint with its secret",
    response_only=True,
    status_codes=["201", "200"],
    value={
        "id": ENDPOINT_ID,
        "url": "https://backend.example.com/whatsapp/events",
        "events": ["message.delivered", "message.failed", "message.read", "message.received"],
        "description": "Order notifications backend",
        "enabled": True,
        "disabled_reason": "",
        "disabled_at": None,
        "secret_rotation_ends_at": None,
        "created_at": "2026-11-24T10:15:00Z",
        "updated_at": "2026-11-24T10:15:00Z",
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    },
)
DELIVERY_EXAMPLE = OpenApiExample(
    "Delivery retried after a 500",
    response_only=True,
    value={
        "id": "01935f80-11aa-7bcd-8e0f-1234567890ab",
        "endpoint": ENDPOINT_ID,
        "event_id": "evt_01JDMZ4T0Q8R7S6V5W4X3Y2Z1A",
        "event_type": "message.delivered",
        "status": "pending",
        "attempts": 1,
        "last_status_code": 500,
        "last_error": "",
        "last_response": "Internal Server Error",
        "last_attempt_at": "2026-11-24T10:15:01Z",
        "next_attempt_at": "2026-11-24T10:15:06Z",
        "duration_ms": 87,
        "delivered_at": None,
        "created_at": "2026-11-24T10:15:00Z",
    },
)
URL_NOT_ALLOWED = problem(
    400,
    "Invalid body, an unknown event type (`validation_error`), or a URL the rules refuse "
    "(`url_not_allowed`: not https, or a loopback, private, link-local or metadata "
    "address, in production).",
    code="url_not_allowed",
    title="URL not allowed",
    detail="The host hooks.internal resolves to an address that is not allowed (10.0.0.5).",
)
DISABLED = problem(
    409,
    "The endpoint is disabled (`endpoint_disabled`): enable it first.",
    code="endpoint_disabled",
    title="Endpoint disabled",
    detail="The endpoint is disabled; enable it (PATCH enabled=true) first.",
)


class DeliveryCursorPagination(CursorPagination):
    ordering = "-created_at"


class EndpointListView(GenericAPIView):
    permission_classes = [EventWebhooksAccess]
    serializer_class = EndpointSerializer

    @extend_schema(
        tags=TAGS, summary="List event webhook endpoints (newest first)", responses={200: EndpointSerializer(many=True)}
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(selectors.endpoint_list())
        return self.get_paginated_response(EndpointSerializer(page, many=True).data)

    @extend_schema(
        tags=TAGS,
        summary="Register an event webhook endpoint",
        description="Answers with the signing `secret` (`whsec_…`), shown here and on rotation only. "
        "Every event of a subscribed type is then POSTed to the URL, signed the Standard "
        "Webhooks way.",
        request=EndpointWriteSerializer,
        responses={201: EndpointWithSecretSerializer, 400: URL_NOT_ALLOWED},
        examples=[CREATE_EXAMPLE, ENDPOINT_EXAMPLE],
    )
    def post(self, request: Request) -> Response:
        serializer = EndpointWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(created_by_id=request.user.pk, **serializer.validated_data)
        return Response(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailView(APIView):
    permission_classes = [EventWebhooksAccess]

    @extend_schema(tags=TAGS, summary="Get an event webhook endpoint", responses={200: EndpointSerializer})
    def get(self, request: Request, endpoint_id: str) -> Response:
        return Response(EndpointSerializer(selectors.endpoint_get(endpoint_id=endpoint_id)).data)

    @extend_schema(
        tags=TAGS,
        summary="Change an event webhook endpoint",
        description="Any of `url`, `events`, `description`, `enabled`. Disabling fails its pending "
        "deliveries (replay them later); enabling clears `disabled_reason`.",
        request=EndpointWriteSerializer(partial=True),
        responses={200: EndpointSerializer, 400: URL_NOT_ALLOWED},
        examples=[OpenApiExample("Enable again", request_only=True, value={"enabled": True})],
    )
    def patch(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
        serializer = EndpointWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(endpoint=endpoint, changes=dict(serializer.validated_data))
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(tags=TAGS, summary="Delete an event webhook endpoint (and its delivery log)", responses={204: None})
    def delete(self, request: Request, endpoint_id: str) -> Response:
        services.endpoint_delete(endpoint=selectors.endpoint_get(endpoint_id=endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretView(APIView):
    permission_classes = [EventWebhooksAccess]

    @extend_schema(
        tags=TAGS,
        summary="Rotate the signing secret",
        description="Answers with the new `secret`. For 24 hours both secrets sign every delivery "
        "(two signatures in `webhook-signature`), so receivers can switch without losing "
        "events.",
        request=None,
        responses={200: EndpointWithSecretSerializer},
        examples=[ENDPOINT_EXAMPLE],
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = services.endpoint_rotate_secret(endpoint=selectors.endpoint_get(endpoint_id=endpoint_id))
        return Response(EndpointWithSecretSerializer(endpoint).data)


class EndpointTestView(APIView):
    permission_classes = [EventWebhooksAccess]

    @extend_schema(
        tags=TAGS,
        summary="Send a test `ping` event to the endpoint",
        description="Delivered like any event (signed, retried); follow it in the delivery log.",
        request=None,
        responses={202: DeliverySerializer, 409: DISABLED},
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        sent = services.endpoint_ping(endpoint=selectors.endpoint_get(endpoint_id=endpoint_id))
        return Response(DeliverySerializer(sent).data, status=status.HTTP_202_ACCEPTED)


class EndpointDeliveriesView(GenericAPIView):
    permission_classes = [EventWebhooksAccess]
    serializer_class = DeliverySerializer
    pagination_class = DeliveryCursorPagination

    @extend_schema(
        tags=TAGS,
        summary="The endpoint's delivery log (newest first, cursor-paginated)",
        parameters=[DeliveryFilterSerializer],
        responses={200: DeliverySerializer(many=True)},
        examples=[DELIVERY_EXAMPLE],
    )
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
        filters = DeliveryFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.delivery_list(endpoint=endpoint, filters=filters.validated_data))
        return self.get_paginated_response(DeliverySerializer(page, many=True).data)


class EndpointReplayView(APIView):
    permission_classes = [EventWebhooksAccess]

    @extend_schema(
        tags=TAGS,
        summary="Replay the endpoint's deliveries of a time range",
        description="Every delivery in `status` (default `failed`) whose event happened in "
        "[`since`, `until`) is sent again now, with its own `webhook-id`.",
        request=ReplaySerializer,
        responses={202: ReplayResultSerializer, 409: DISABLED},
        examples=[
            OpenApiExample(
                "Failed since yesterday", request_only=True, value={"since": "2026-11-23T00:00:00Z", "status": "failed"}
            ),
            OpenApiExample("Queued", response_only=True, value={"queued": 42}),
        ],
    )
    def post(self, request: Request, endpoint_id: str) -> Response:
        endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
        serializer = ReplaySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        queued = services.endpoint_replay(endpoint=endpoint, **serializer.validated_data)
        return Response({"queued": queued}, status=status.HTTP_202_ACCEPTED)


class DeliveryDetailView(APIView):
    permission_classes = [EventWebhooksAccess]

    @extend_schema(
        tags=TAGS, summary="One delivery with its payload and every attempt", responses={200: DeliveryDetailSerializer}
    )
    def get(self, request: Request, delivery_id: str) -> Response:
        found = selectors.delivery_get(delivery_id=delivery_id)
        # The serializer reads these two as attributes of the delivery: the payload and every attempt.
        found.payload = selectors.delivery_payload(delivery=found)  # type: ignore[attr-defined]  # see above
        found.attempt_log = selectors.delivery_attempts(delivery=found)  # type: ignore[attr-defined]  # see above
        return Response(DeliveryDetailSerializer(found).data)


class DeliveryReplayView(APIView):
    permission_classes = [EventWebhooksAccess]

    @extend_schema(
        tags=TAGS,
        summary="Send one delivery again now",
        description="Same `webhook-id` and body as before; a new retry schedule if it fails.",
        request=None,
        responses={202: DeliverySerializer, 409: DISABLED},
    )
    def post(self, request: Request, delivery_id: str) -> Response:
        replayed = services.delivery_replay(delivery_row=selectors.delivery_get(delivery_id=delivery_id))
        return Response(DeliverySerializer(replayed).data, status=status.HTTP_202_ACCEPTED)
