"""``POST /webhooks/waha`` straight from WSGI to the receiver service (see ``config.fast_paths``).

WAHA's events are most of this service's traffic (a message sent brings up to
three acks), and the receiver needs none of what Django's middleware stack
does for people: sessions, CSRF, authentication, CORS, axes, tenant routing
by host. Going through it cost more CPU than verifying, storing and applying
the event (bench/RESULTS.md, "Webhook ingest").

The contract is the same as the DRF view's (``webhooks.api``), because both
call ``webhooks.services.webhook_receive`` and render its errors with
``config.problems``; the tests run the same cases through both. This route
answers every request itself, errors included: none of them needs Django.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from config.fast_paths import Answer
from config.problems import ServiceError


def answer(environ: dict[str, Any]) -> Answer:
    """One webhook delivery: the receipt (200, logged by the receiver) or the problem."""
    from webhooks import services

    try:
        services.body_size_check(declared=environ.get("CONTENT_LENGTH"))
        body = _read_body(environ)
        services.body_size_check(declared=None, body_length=len(body))
        receipt = services.webhook_receive(body=body, signature=environ.get("HTTP_X_WEBHOOK_HMAC"),
                                           algorithm=environ.get("HTTP_X_WEBHOOK_HMAC_ALGORITHM"))
    except ServiceError as exc:
        return Answer.refusal(exc)
    return Answer(200, {"status": "ok", "event_id": receipt.event_id, "outcome": receipt.outcome}, logged=True)


def _read_body(environ: dict[str, Any]) -> bytes:
    """The body, read no further than one byte past the limit (chunked bodies have no Content-Length)."""
    stream = environ["wsgi.input"]
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = environ.get("CONTENT_LENGTH")
    if declared:
        return stream.read(int(declared))
    return stream.read(limit + 1)
