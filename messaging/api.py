"""Messages and conversations endpoints: validate, call a service or selector, serialize."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import Direction, OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from accounts.callers import AuthenticatedRequest
from core.rest.schema import problem
from core.rest.views import APIView, GenericAPIView
from messaging import selectors
from messaging.filters import MessageFilter
from messaging.models import Message
from messaging.permissions import BulkAccess, ConversationsAccess, MessagesAccess, StatsAccess
from messaging.serializers import (
    BatchSerializer,
    BulkResultSerializer,
    BulkSerializer,
    ConversationAssignSerializer,
    ConversationSerializer,
    MessageSerializer,
    SendSerializer,
    StatsFilterSerializer,
    StatsSerializer,
)
from messaging.services import sending, uploads

if TYPE_CHECKING:
    from drf_spectacular.openapi import AutoSchema

SEND_EXAMPLE = OpenApiExample("Text", request_only=True, value={
    "session": "support", "to": "+49 151 1234 5678", "type": "text", "text": "Your order has shipped."})
IMAGE_EXAMPLE = OpenApiExample("Image", request_only=True, value={
    "session": "support", "to": "4915112345678@c.us", "type": "image",
    "media": {"url": "https://cdn.example.com/receipt.jpg", "mimetype": "image/jpeg"}, "caption": "Your receipt"})
UPLOADED_DOCUMENT_EXAMPLE = OpenApiExample("Document uploaded before (POST /media)", request_only=True, value={
    "session": "support", "to": "+49 151 1234 5678", "type": "file", "caption": "Your invoice",
    "media": {"id": "0193a4f2-7c1e-7b3a-9f4e-2d8c6b5a1e0f"}})
INLINE_IMAGE_EXAMPLE = OpenApiExample("Image inline (base64)", request_only=True, value={
    "session": "support", "to": "4915112345678@c.us", "type": "image", "caption": "Your QR ticket",
    "media": {"mimetype": "image/png", "filename": "ticket.png", "data": (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")}})
BULK_EXAMPLE = OpenApiExample("Bulk", request_only=True, value={
    "session": "support", "text": "Hi {name}, your table is ready!",
    "recipients": [{"to": "+4915112345678", "variables": {"name": "Ana"}},
                   {"to": "+4915187654321", "variables": {"name": "Ben"}}]})
BULK_UPLOADED_EXAMPLE = OpenApiExample("Bulk with an uploaded file", request_only=True, value={
    "session": "support", "type": "file", "text": "Hi {name}, here is this month's price list.",
    "media": {"id": "0193a4f2-7c1e-7b3a-9f4e-2d8c6b5a1e0f", "filename": "prices-2026-11.pdf"},
    "recipients": [{"to": "+4915112345678", "variables": {"name": "Ana"}},
                   {"to": "+4915187654321", "variables": {"name": "Ben"}}]})
MESSAGE_EXAMPLE = OpenApiExample("Queued message", response_only=True, status_codes=["202"], value={
    "id": "0b8f3c1e-4a2d-4f6b-9c1a-2e5d7f9a1b3c", "session": "6f1c2f7e-2b8e-4c61-9a39-0d9f8a1b2c3d",
    "conversation": "9d2e4f6a-1b3c-4d5e-8f7a-6b5c4d3e2f1a", "direction": "outbound", "type": "text",
    "to": "4915112345678@c.us", "from": "4915100000000@c.us", "text": "Your order has shipped.", "media": None,
    "location": None, "reply_to": "", "status": "queued", "waha_message_id": "", "error": None, "attempts": 0,
    "batch": None, "created_by": "e4c038a0-68dc-42f2-bb15-6494de6f6349", "created_by_key": None,
    "created_at": "2026-11-24T10:15:00Z", "sent_at": None, "delivered_at": None, "read_at": None, "failed_at": None,
    "revoked_at": None, "edited_at": None, "reactions": {}})


class _TypedBodyExtension(OpenApiSerializerExtension):
    """The fields a message ``type`` needs, as the serializer's ``validate`` demands them (``anyOf`` variants)."""

    variants: list[tuple[list[str], dict[str, Any]]] = []

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target_class, direction, bypass_extensions=True)
        if direction == "request":
            # A pattern, not an enum: the enum post-processing would name each of these lists as a component.
            schema["anyOf"] = [{"properties": {"type": {"pattern": f"^({'|'.join(types)})$"}}, **rest}
                               for types, rest in self.variants]
        return schema


class SendBodyExtension(_TypedBodyExtension):
    target_class = "messaging.serializers.SendSerializer"
    variants = [
        (["text"], {"required": ["text"]}),
        (["image", "file", "voice", "video"], {"required": ["type", "media"]}),
        (["location"], {"required": ["type", "location"]}),
    ]


class MediaBodyExtension(OpenApiSerializerExtension):
    """``media`` is exactly one of a URL, an uploaded file's id, or the file inline (``MediaSerializer.validate``)."""

    target_class = "messaging.serializers.MediaSerializer"

    def map_serializer(self, auto_schema: AutoSchema, direction: Direction) -> dict[str, Any]:
        schema = auto_schema._map_serializer(self.target_class, direction, bypass_extensions=True)
        if direction == "request":
            def without(*names: str) -> dict[str, Any]:
                return {"not": {"anyOf": [{"required": [name]} for name in names]}}

            schema["oneOf"] = [
                {"required": ["url"], **without("id", "data")},
                {"required": ["id"], **without("url", "data", "mimetype")},
                {"required": ["data", "mimetype"], **without("url", "id")},
            ]
        return schema


class BulkBodyExtension(_TypedBodyExtension):
    target_class = "messaging.serializers.BulkSerializer"
    variants = [
        (["text"], {}),
        (["image", "file", "video"], {"required": ["type", "media"]}),
    ]


IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", location=OpenApiParameter.HEADER, required=False,
    type={"type": "string", "minLength": 1, "maxLength": 255},
    description="Repeat a request safely: the same key with the same body returns the first message (200) and "
                "sends nothing again; with another body it is 409 `idempotency_conflict`. Kept at least 24 hours. "
                "1 to 255 characters (400 otherwise).")


# What a send's or bulk send's media adds to the errors ServiceAutoSchema documents for every body.
MEDIA_ERRORS = {
    400: problem(400, "Bad request: an invalid body (`validation_error`, with `errors` per field; `media.data` that "
                      "is not base64; `malformed_json`); an `X-Tenant` header naming another tenant than the host "
                      "(`tenant_conflict`); an `image`, `voice` or `video` message whose file is not of that kind "
                      "or whose bytes are not its mimetype (`media_type_mismatch`).",
                 code="media_type_mismatch", title="Media type mismatch",
                 detail="The file is image/png, but its bytes are application/pdf."),
    404: problem(404, "Not found: `media.id` names no upload of this tenant, or one that has expired (`not_found`); "
                      "an unknown tenant (`tenant_not_found`).",
                 detail="No media with this id: it does not exist in this tenant or has expired (uploads are kept "
                        "24 hours)."),
    413: problem(413, "The body is larger than `MAX_REQUEST_BODY_BYTES` and a base64 file of `MEDIA_MAX_BYTES`, or "
                      "the file in `media.data` is larger than `MEDIA_MAX_BYTES` (16 MiB by default) "
                      "(`payload_too_large`).",
                 detail="Files for sending are limited to MEDIA_MAX_BYTES (16777216 bytes)."),
}


class SendView(APIView):
    permission_classes = [MessagesAccess]

    @extend_schema(
        tags=["messages"], summary="Send a message",
        description="Queues the message and answers at once (202); a worker hands it to WAHA, also while WAHA "
                    "is down or slow (it goes out when WAHA is back). The session must be WORKING (409 "
                    "`session_not_ready`). A number not on WhatsApp fails the message with `not_on_whatsapp`. "
                    "A media message names its file by `url` (WAHA downloads it), by the `id` of a "
                    "`POST /media` upload, or carries it inline as base64 `data` with its `mimetype`.",
        request=SendSerializer, parameters=[IDEMPOTENCY_HEADER],
        responses={202: MessageSerializer, 200: OpenApiResponse(MessageSerializer, description="Idempotent replay"),
                   409: problem(409, "The session is not WORKING (`session_not_ready`), or the `Idempotency-Key` "
                                     "was used with another request (`idempotency_conflict`).",
                                code="session_not_ready", title="Session not ready",
                                detail="The session is SCAN_QR_CODE; messages can be sent only while it is WORKING."),
                   **MEDIA_ERRORS},
        examples=[SEND_EXAMPLE, IMAGE_EXAMPLE, UPLOADED_DOCUMENT_EXAMPLE, INLINE_IMAGE_EXAMPLE, MESSAGE_EXAMPLE],
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = SendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        media = uploads.media_for_send(principal=request.user, kind=data["type"], media=data.get("media"))
        message, created = sending.message_send(
            sender=request.user, session_reference=data["session"], to=data["to"],
            content=sending.MessageContent(
                type=data["type"], text=data.get("text") or data.get("caption", ""), media=media,
                location=data.get("location"), reply_to=data.get("reply_to", "")),
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(MessageSerializer(message).data,
                        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class BulkView(APIView):
    permission_classes = [BulkAccess]

    @extend_schema(
        tags=["messages"], summary="Send one template to up to 10,000 recipients",
        description="Each recipient is validated and personalised (`{name}` from its `variables`; a missing "
                    "variable rejects that recipient); the valid ones are queued in one go and paced like any "
                    "send. Follow progress at `GET /messages/batches/{id}`.",
        request=BulkSerializer, examples=[BULK_EXAMPLE, BULK_UPLOADED_EXAMPLE],
        responses={202: BulkResultSerializer,
                   409: problem(409, "The session is not WORKING (`session_not_ready`); nothing was queued.",
                                code="session_not_ready", title="Session not ready",
                                detail="The session is STOPPED; messages can be sent only while it is WORKING."),
                   **MEDIA_ERRORS},
    )
    def post(self, request: AuthenticatedRequest) -> Response:
        serializer = BulkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        session = selectors.session_by_reference(data["session"])
        media = uploads.media_for_send(principal=request.user, kind=data["type"], media=data.get("media"))
        result = sending.message_bulk(
            sender=request.user, session=session, template=data["text"], recipients=data["recipients"],
            content=sending.MessageContent(type=data["type"], media=media),
        )
        return Response({"batch_id": result.batch.pk, "accepted": result.accepted, "rejected": result.rejected},
                        status=status.HTTP_202_ACCEPTED)


class BatchView(APIView):
    permission_classes = [BulkAccess]

    @extend_schema(tags=["messages"], summary="Progress of a bulk send", responses={200: BatchSerializer})
    def get(self, request: AuthenticatedRequest, batch_id: str) -> Response:
        batch = selectors.batch_get_for(user=request.user, batch_id=batch_id)
        return Response(BatchSerializer(selectors.batch_progress(batch=batch)).data)


class MessageListView(GenericAPIView):
    permission_classes = [MessagesAccess]
    serializer_class = MessageSerializer
    filter_backends = [DjangoFilterBackend]
    filterset_class = MessageFilter

    def get_queryset(self) -> QuerySet[Message]:
        return selectors.message_list(user=cast(AuthenticatedRequest, self.request).user)

    @extend_schema(tags=["messages"], summary="List messages (newest first, cursor-paginated)",
                   responses={200: MessageSerializer(many=True)})
    def get(self, request: AuthenticatedRequest) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)


class MessageDetailView(APIView):
    permission_classes = [MessagesAccess]

    @extend_schema(tags=["messages"], summary="Get a message", responses={200: MessageSerializer})
    def get(self, request: AuthenticatedRequest, message_id: str) -> Response:
        return Response(MessageSerializer(selectors.message_get_for(user=request.user, message_id=message_id)).data)


class MessageRetryView(APIView):
    permission_classes = [MessagesAccess]

    @extend_schema(tags=["messages"], summary="Retry a failed outbound message", request=None,
                   description="Only `failed` outbound messages (409 `conflict` otherwise).",
                   responses={202: MessageSerializer,
                              409: problem(409, "Not a failed outbound message (`conflict`).",
                                           detail="Only failed outbound messages can be retried.")})
    def post(self, request: AuthenticatedRequest, message_id: str) -> Response:
        message = sending.message_retry(
            message=selectors.message_get_for(user=request.user, message_id=message_id))
        return Response(MessageSerializer(message).data, status=status.HTTP_202_ACCEPTED)


class StatsView(APIView):
    permission_classes = [StatsAccess]

    @extend_schema(tags=["messages"], summary="Message counts by status, direction and day",
                   parameters=[StatsFilterSerializer], responses={200: StatsSerializer})
    def get(self, request: AuthenticatedRequest) -> Response:
        filters = StatsFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return Response(selectors.message_stats(user=request.user, since=data.get("since"), until=data.get("until"),
                                                session=data.get("session")))


class ConversationListView(GenericAPIView):
    permission_classes = [ConversationsAccess]
    serializer_class = ConversationSerializer

    @extend_schema(tags=["conversations"], summary="List conversations (newest first)",
                   responses={200: ConversationSerializer(many=True)})
    def get(self, request: AuthenticatedRequest) -> Response:
        page = self.paginate_queryset(selectors.conversation_list(user=request.user))
        return self.get_paginated_response(ConversationSerializer(page, many=True).data)


class ConversationDetailView(APIView):
    permission_classes = [ConversationsAccess]

    @extend_schema(tags=["conversations"], summary="Get a conversation", responses={200: ConversationSerializer})
    def get(self, request: AuthenticatedRequest, conversation_id: str) -> Response:
        conversation = selectors.conversation_get_for(user=request.user, conversation_id=conversation_id)
        return Response(ConversationSerializer(conversation).data)

    @extend_schema(tags=["conversations"], summary="Assign a conversation (or unassign with null)",
                   description="`assigned_to` must be an active user of the tenant (400 otherwise); a body "
                               "without it changes nothing.",
                   request=ConversationAssignSerializer, responses={200: ConversationSerializer},
                   examples=[OpenApiExample("Assign", request_only=True,
                                            value={"assigned_to": "e4c038a0-68dc-42f2-bb15-6494de6f6349"})])
    def patch(self, request: AuthenticatedRequest, conversation_id: str) -> Response:
        serializer = ConversationAssignSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        conversation = selectors.conversation_get_for(user=request.user, conversation_id=conversation_id)
        if "assigned_to" in serializer.validated_data:
            conversation = sending.conversation_assign(
                conversation=conversation, assignee_id=serializer.validated_data["assigned_to"])
        return Response(ConversationSerializer(conversation).data)
