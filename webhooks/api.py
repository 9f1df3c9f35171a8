"""``POST /webhooks/waha`` (WAHA's events) and ``GET /webhooks/health``: thin views over ``webhooks.services``.

Both are served on the public host (WAHA posts to ``WEBHOOK_BASE_URL``) and,
identically, on tenant hosts: the tenant of an event comes from the session
route table only, whatever host it was posted to.
"""

from __future__ import annotations

from django.http import JsonResponse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request

from core.rest.schema import ProblemSerializer
from core.rest.views import APIView
from webhooks import selectors
from webhooks.services import envelope, receive

_PROBLEM_BASE = "https://docs.waha-gateway.dev/problems/"


def _problem(status: int, code: str, title: str, detail: str, description: str) -> OpenApiResponse:
    example = {"type": _PROBLEM_BASE + code, "title": title, "status": status, "detail": detail, "code": code}
    return OpenApiResponse(ProblemSerializer, description=description, examples=[
        OpenApiExample(code, value=example, status_codes=[str(status)], response_only=True)])


ENVELOPE_EXAMPLE = OpenApiExample("Inbound text message (NOWEB)", request_only=True, value={
    "id": "evt_01jnkx3m7q8d2c4v5b6n7m8k9p", "timestamp": 1741249702485, "event": "message",
    "session": "acme_support_1a2b3c4d",
    "metadata": {"tenant": "acme", "session_id": "6f1c2f7e-2b8e-4c61-9a39-0d9f8a1b2c3d"},
    "me": {"id": "15550001111@c.us", "pushName": "Acme"},
    "payload": {"id": "false_15550002222@c.us_3EB0A1B2C3D4E5F60718", "timestamp": 1741249702,
                "from": "15550002222@c.us", "fromMe": False, "source": "app", "body": "Hello!",
                "to": "15550001111@c.us", "participant": None, "hasMedia": False, "media": None, "ack": 2,
                "ackName": "DEVICE", "location": None, "vCards": [], "replyTo": None,
                "_data": {"pushName": "Ana"}},
    "engine": "NOWEB",
    "environment": {"version": "2026.2.1", "engine": "NOWEB", "tier": "CORE", "browser": None,
                    "platform": "linux/x64", "worker": {"id": None}},
})
ENVELOPE = inline_serializer("WahaEventEnvelope", {
    # The patterns are the receiver's own (webhooks.services); other envelope fields are stored as sent.
    "id": serializers.RegexField(envelope._EVENT_ID.pattern, help_text="The event id (`evt_…`): 1 to 100 "
                                                                       "printable ASCII characters, no spaces."),
    "event": serializers.RegexField(envelope._EVENT_NAME.pattern, help_text="WAHA's event name, e.g. `message`."),
    "session": serializers.CharField(min_length=1, help_text="The WAHA session name; it chooses the tenant."),
    "payload": serializers.JSONField(required=False, help_text="The event's data, as WAHA sends it."),
})
RECEIPT = inline_serializer("WebhookReceipt", {
    "status": serializers.CharField(help_text="Always `ok`."),
    "event_id": serializers.CharField(help_text="The envelope id (`evt_…`)."),
    "outcome": serializers.ChoiceField(
        choices=["accepted", "duplicate", "ignored"],
        help_text="`accepted`: stored; applied by a background worker within moments (the event's `outcome` in "
                  "the admin says how). `duplicate`: this event id was stored before and nothing changed. "
                  "`ignored`: stored, nothing to apply (an event this service does not use, or older than the "
                  "retention)."),
})
HEALTH = inline_serializer("WebhookHealth", {
    "status": serializers.CharField(),
    "last_event_at": serializers.DateTimeField(allow_null=True, help_text="When the last verified event arrived."),
})


class WahaWebhookView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    # The body is verified as bytes; its Content-Type is not checked (no 415).
    accepts_any_content_type = True

    @extend_schema(
        tags=["webhooks"], operation_id="webhooks_waha_receive", summary="Receive a WAHA event",
        description=(
            "WAHA posts every session event here (WAHA.md §5). The body is verified before anything is stored: "
            "`X-Webhook-Hmac` must be the lower-case hex HMAC-SHA512 of the exact body bytes with the session's "
            "key (401 `signature_missing` / `signature_invalid`), the body UTF-8 JSON (400 `malformed_json`) and "
            "an envelope with string `id`, `event` and `session` (400 `validation_error`), at most 1 MiB (413). "
            "The tenant is found from the session name in the routing table, never from the host (404 "
            "`unknown_session`). Each event id is stored once: a retry or a second delivery answers 200 with "
            "`outcome: duplicate` and changes nothing. The request only verifies, stores and answers; a "
            "Celery worker applies stored events right after, in arrival order: `message` records an inbound "
            "message (and copies its media), `message.ack`/`message.ack.group` move an outbound message's status "
            "forward only, `session.status` updates the session, `message.revoked`/`edited`/`reaction` are "
            "recorded on the message; other events are stored and answered 200 (`ignored`). Any non-2xx makes "
            "WAHA retry; 503 means the database could not be reached."
        ),
        request={"application/json": ENVELOPE},
        parameters=[
            OpenApiParameter("X-Webhook-Hmac", location=OpenApiParameter.HEADER, required=True,
                             description="Hex HMAC-SHA512 of the raw body, keyed with the session's webhook key."),
            OpenApiParameter("X-Webhook-Hmac-Algorithm", location=OpenApiParameter.HEADER, required=False,
                             description="`sha512` (anything else is refused)."),
        ],
        responses={
            200: OpenApiResponse(RECEIPT, description="Stored (or already stored); applied in the background."),
            400: _problem(400, "malformed_json", "Malformed JSON", "The body is not valid UTF-8 JSON.",
                          "Not JSON (`malformed_json`), or not an envelope (`validation_error`)."),
            401: _problem(401, "signature_invalid", "Signature invalid", "X-Webhook-Hmac does not match the body.",
                          "Missing or wrong signature (`signature_missing`, `signature_invalid`); nothing stored."),
            404: _problem(404, "unknown_session", "Unknown session",
                          "No session with this name is routed to this service.",
                          "The session name has no route (`unknown_session`), or `X-Tenant` names no tenant "
                          "(`tenant_not_found`); nothing stored."),
            405: _problem(405, "method_not_allowed", "Method Not Allowed", 'Method "GET" not allowed.',
                          "Only POST (`method_not_allowed`)."),
            413: _problem(413, "payload_too_large", "Request body too large",
                          "Webhook bodies are limited to 1048576 bytes.", "Body over 1 MiB (`payload_too_large`)."),
            503: _problem(503, "service_unavailable", "Service unavailable",
                          "The event could not be stored now; retry later.",
                          "The database could not be reached; WAHA retries (`service_unavailable`)."),
        },
        examples=[ENVELOPE_EXAMPLE], auth=[],
    )
    def post(self, request: Request) -> JsonResponse:
        receive.body_size_check(declared=request.META.get("CONTENT_LENGTH"))
        body = request.body
        receive.body_size_check(declared=None, body_length=len(body))
        receipt = receive.webhook_receive(body=body, signature=request.headers.get("X-Webhook-Hmac"),
                                           algorithm=request.headers.get("X-Webhook-Hmac-Algorithm"))
        return JsonResponse({"status": "ok", "event_id": receipt.event_id, "outcome": receipt.outcome})


class WebhookHealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["webhooks"], operation_id="webhooks_health", summary="Webhook receiver health",
        description="Open, on every host. `last_event_at` is when the last verified WAHA event arrived (any "
                    "tenant), or null; no event data is shown.",
        responses={200: HEALTH,
                   405: _problem(405, "method_not_allowed", "Method Not Allowed", 'Method "POST" not allowed.',
                                 "Only GET (`method_not_allowed`).")},
        auth=[],
    )
    def get(self, request: Request) -> JsonResponse:
        last = selectors.last_event_at()
        return JsonResponse({"status": "ok", "last_event_at": last.isoformat().replace("+00:00", "Z") if last
                             else None}, headers={"Cache-Control": "no-store"})
