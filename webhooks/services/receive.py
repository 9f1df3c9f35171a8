"""The WAHA webhook receiver: verify, route, store once, apply.

``webhook_receive`` is the whole pipeline of ``POST /webhooks/waha``:

1. **Verify.** A missing ``X-Webhook-Hmac`` is a 401 before anything is
   parsed; the body must be UTF-8 JSON (400), an object with string ``id``,
   ``event`` and ``session`` (400); the session must have a route (404); the
   HMAC-SHA512 of the exact bytes, with that route's key, must match in
   constant time (401). Nothing is stored before all of that passed.
2. **Route.** The tenant comes from the public ``SessionRoute`` table only:
   never from the Host, ``X-Tenant`` or the envelope's metadata, so a tenant
   host cannot be used to put events into another tenant.
3. **Store once.** ``INSERT ... ON CONFLICT (event_id) DO NOTHING`` in the
   tenant's schema: a retry, or the same event through a second webhook,
   finds the row and changes nothing (``duplicate``, answered 200).
   An event to apply is stored ``pending`` (one autocommit statement) and
   answered ``accepted``; events this service does not use are stored
   ``ignored``.
4. **Apply** in the background: the insert kicks a Celery task
   (``applier.apply_kick``) that applies the tenant's pending events in arrival
   order (``applier.pending_events_apply``): messages, acks, session status,
   revoke/edit/reaction. The periodic sweep (``webhooks.services.sweep``)
   applies whatever a lost kick left.
   Answering first is what WAHA (and Stripe, for its own webhooks) asks of a
   receiver, and it keeps the request to one write: see bench/RESULTS.md.

A bug in a handler must neither block the events behind it nor lose the
event: the handler's writes are rolled back, the event keeps ``outcome=error``
and the traceback, logged at ERROR and counted, and the applier goes on. A
database that cannot be reached is a 503, so that WAHA retries later. No input
is ever a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import TLRUCache, cached
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from core.db import statements as db_statements
from core.db.ids import RowId
from core.logging import tenant_var
from core.problems import InvalidInput, NotFound, ServiceError, ServiceUnavailable
from tenants.models import SessionRoute
from webhooks import metrics
from webhooks.last_event import last_event_touch
from webhooks.models import Outcome, WebhookEvent
from webhooks.services.applier import apply_kick, not_applied_reason
from webhooks.services.envelope import Envelope, envelope_parse

logger = logging.getLogger("webhooks")

DUPLICATE = "duplicate"
# Stored; the applier (a Celery task kicked after the insert) applies it.
ACCEPTED = "accepted"
# WAHA's session-name rule (WAHA.md §2): anything else cannot be one of ours.
_SESSION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,54}$")


# ------------------------------------------------------------------ errors


_CHALLENGE = {"WWW-Authenticate": 'HMAC realm="waha-webhooks", algorithm="sha512", header="X-Webhook-Hmac"'}


class SignatureMissing(ServiceError):
    status_code = 401
    code = "signature_missing"
    title = "Signature missing"
    headers = _CHALLENGE


class SignatureInvalid(ServiceError):
    status_code = 401
    code = "signature_invalid"
    title = "Signature invalid"
    headers = _CHALLENGE


class UnknownSession(NotFound):
    code = "unknown_session"
    title = "Unknown session"


class PayloadTooLarge(ServiceError):
    status_code = 413
    code = "payload_too_large"
    title = "Request body too large"


# ------------------------------------------------------------------ verification


def signature_for(*, key: str, body: bytes) -> str:
    """Lower-case hex HMAC-SHA512 of the exact body bytes (WAHA.md §5.3)."""
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


def signature_valid(*, key: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of ``X-Webhook-Hmac`` over the raw body."""
    if not signature or not key:
        return False
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(signature_for(key=key, body=body).encode(), given)


def body_size_check(*, declared: str | None, body_length: int | None = None) -> None:
    """413 when the declared or actual body is over ``WEBHOOK_MAX_BODY_BYTES``."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared_length = int(declared or 0)
    except ValueError as exc:
        raise InvalidInput("Content-Length is not a number.") from exc
    if declared_length > limit or (body_length is not None and body_length > limit):
        raise PayloadTooLarge(f"Webhook bodies are limited to {limit} bytes.")


def _route_lifetime(_key: object, route: SessionRoute | None, now: float) -> float:
    # A miss expires at once (is never stored), so a new session's first event always finds its route.
    return now + settings.WEBHOOK_ROUTE_CACHE_SECONDS if route is not None else now


@cached(TLRUCache(maxsize=10_000, ttu=_route_lifetime), lock=threading.Lock())
def _route_lookup(session_name: str) -> SessionRoute | None:
    return db_statements.read_retrying(  # a connection dropped since the request began
        SessionRoute.objects.select_related("tenant").filter(waha_session_name=session_name).first)


def route_for(session_name: str) -> SessionRoute | None:
    """The route of a WAHA session name (unique across servers), from the public schema.

    Found routes are kept in the process for ``WEBHOOK_ROUTE_CACHE_SECONDS``
    (a route only changes when its session is created or deleted; the HMAC is
    still checked with the cached key on every event). Misses are never
    cached, so a new session's first event always finds its route.
    """
    if not _SESSION_NAME.match(session_name):
        return None
    return _route_lookup(session_name)


def route_cache_clear() -> None:
    _route_lookup.cache_clear()


# ------------------------------------------------------------------ receiving


@dataclass
class Receipt:
    """What happened to one delivery."""

    event_id: str
    event: str
    tenant: str
    session_id: str
    outcome: str
    reason: str = ""


def webhook_receive(*, body: bytes, signature: str | None, algorithm: str | None = None) -> Receipt:
    """Verify, route, store once and apply one WAHA webhook delivery (see the module docstring)."""
    started = time.perf_counter()
    if not signature:
        metrics.signature_failed("missing")
        logger.warning("webhook.rejected reason=signature_missing")
        raise SignatureMissing("X-Webhook-Hmac is required: give the session's webhook an hmac key.")
    envelope = envelope_parse(body)
    try:
        route = route_for(envelope.session)
    except (OperationalError, InterfaceError) as exc:
        logger.warning("webhook.route_failed error=%s", type(exc).__name__)
        raise ServiceUnavailable("The event could not be routed now; retry later.") from exc
    if route is None:
        metrics.signature_failed("unknown_session")
        logger.warning("webhook.rejected reason=unknown_session event=%s", metrics.event_label(envelope.event))
        raise UnknownSession("No session with this name is routed to this service.")
    if (algorithm and algorithm.strip().lower() != "sha512") or not signature_valid(
            key=route.hmac_key, body=body, signature=signature):
        metrics.signature_failed("invalid")
        logger.warning("webhook.rejected reason=signature_invalid session_id=%s", route.session_id)
        raise SignatureInvalid("X-Webhook-Hmac does not match the body.")
    metadata = envelope.data.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("session_id") not in (None, str(route.session_id)):
        # The HMAC with the route's key is the authority; a metadata mismatch is only reported.
        logger.warning("webhook.metadata_mismatch session_id=%s", route.session_id)

    tenant_var.set(route.tenant.slug)
    receipt = _store(route, envelope)
    last_event_touch()
    metrics.event_counted(event=envelope.event, tenant=route.tenant.slug, outcome=receipt.outcome)
    logger.info("webhook.received event=%s tenant=%s session_id=%s event_id=%s outcome=%s duration_ms=%.1f",
        metrics.event_label(envelope.event), route.tenant.slug, route.session_id, envelope.event_id,
        receipt.outcome, (time.perf_counter() - started) * 1000)
    return receipt


_INSERT_SQL = (
    "INSERT INTO {table} (event_id, event, session_id, received_at, payload, processed_at, outcome, error) "
    "VALUES (%(event_id)s, %(event)s, %(session)s, %(now)s, %(payload)s::jsonb, %(processed_at)s, %(outcome)s, "
    "%(error)s) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING id"
)


def _insert_params(envelope: Envelope, session_id: RowId, *, outcome: str, error: str,
                   processed: bool) -> dict[str, Any]:
    now = timezone.now()
    return {"event_id": envelope.event_id, "event": envelope.event, "session": session_id, "now": now,
            "processed_at": now if processed else None, "payload": envelope.stored_json, "outcome": outcome,
            "error": error}


def _insert(schema_name: str, envelope: Envelope, session_id: RowId, *, outcome: str, error: str = "",
            processed: bool) -> int | None:
    """Store the event in the tenant's schema unless its id is known; the new row's id, or None for a duplicate.

    Idempotent (``ON CONFLICT (event_id) DO NOTHING``), so it may be retried on a dropped connection.
    """
    sql = _INSERT_SQL.format(table=db_statements.table(schema_name, WebhookEvent))
    row = db_statements.fetch_one_retrying(sql, _insert_params(envelope, session_id, outcome=outcome, error=error,
                                                                processed=processed))
    return row[0] if row else None


def _store(route: SessionRoute, envelope: Envelope) -> Receipt:
    """Store the event once: ``accepted`` (to apply), ``ignored`` (nothing to apply) or ``duplicate``."""
    schema_name = route.tenant.schema_name
    receipt = Receipt(event_id=envelope.event_id, event=envelope.event, tenant=route.tenant.slug,
                      session_id=str(route.session_id), outcome=ACCEPTED)
    try:
        skipped = not_applied_reason(envelope, timezone.now())
        if skipped:
            stored = _insert(schema_name, envelope, route.session_id, outcome=Outcome.IGNORED, error=skipped,
                             processed=True)
            receipt.outcome, receipt.reason = (Outcome.IGNORED, skipped) if stored else (DUPLICATE, "")
        elif _insert(schema_name, envelope, route.session_id, outcome=Outcome.PENDING, processed=False) is None:
            receipt.outcome = DUPLICATE
        else:
            transaction.on_commit(lambda: apply_kick(schema_name))
    except (OperationalError, InterfaceError) as exc:
        logger.warning("webhook.store_failed event_id=%s error=%s", envelope.event_id, type(exc).__name__)
        raise ServiceUnavailable("The event could not be stored now; retry later.") from exc
    return receipt
