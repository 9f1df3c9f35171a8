"""The one place where an outbound message's status moves.

Status only moves forward (queued → sending → sent → delivered → read); a
late or repeated WAHA ack never moves it back, and an ERROR ack fails a
message only while it is not yet delivered. Every move is a conditional
UPDATE, so concurrent acks and send results cannot overwrite each other.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection
from django.db.models import F, Func, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from messaging import metrics
from messaging.models import Message, MessageStatus, PendingAck

logger = logging.getLogger("messaging.status")

# WAHA ack levels (PROTOCOL §5.5): ERROR=-1, PENDING=0, SERVER=1, DEVICE=2, READ=3, PLAYED=4.
ACK_ERROR, ACK_SERVER, ACK_DEVICE, ACK_READ = -1, 1, 2, 3
_STATUS_FOR_ACK = {ACK_SERVER: MessageStatus.SENT, ACK_DEVICE: MessageStatus.DELIVERED, ACK_READ: MessageStatus.READ,
                   4: MessageStatus.READ}
_BELOW = {
    MessageStatus.SENT: [MessageStatus.QUEUED, MessageStatus.SENDING],
    MessageStatus.DELIVERED: [MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT],
    MessageStatus.READ: [MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED],
}
_TIMESTAMPS = {MessageStatus.SENT: ["sent_at"], MessageStatus.DELIVERED: ["sent_at", "delivered_at"],
               MessageStatus.READ: ["sent_at", "delivered_at", "read_at"]}


class JsonbAppend(Func):
    """``attempt_log || '[{...}]'::jsonb``: append without reading the row."""

    template = "(%(expressions)s)"
    arg_joiner = " || "


def _append(entry: dict[str, Any]) -> JsonbAppend:
    import json

    return JsonbAppend(F("attempt_log"), Func(Value(json.dumps([entry])), template="%(expressions)s::jsonb"))


def _advance(queryset, status: str, **extra: Any) -> int:  # type: ignore[no-untyped-def]
    """Move messages of ``queryset`` that are below ``status`` up to it."""
    now = timezone.now()
    stamps = {name: Coalesce(F(name), Value(now)) for name in _TIMESTAMPS[status]}
    return queryset.filter(status__in=_BELOW[status]).update(status=status, updated_at=now, **stamps, **extra)


_RANK_SQL = ("CASE m.status WHEN 'queued' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2 "
             "WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 ELSE 99 END")
_TARGET_RANK = {MessageStatus.SENT: 2, MessageStatus.DELIVERED: 3, MessageStatus.READ: 4}


def _ack_sql(ack: int, *, keep_if_missing: bool) -> str:
    """The ack's status move: lock the message, move it forward, keep the ack when no message matched."""
    # A move happens when the message is below the target (for ERROR: below delivered).
    moves = f"({_RANK_SQL}) < %(rank)s" if ack != ACK_ERROR else f"({_RANK_SQL}) <= 2"
    stamp = lambda column, rank: (  # noqa: E731 - a tiny SQL template helper
        f"{column} = CASE WHEN {moves} AND %(rank)s >= {rank} THEN COALESCE(m.{column}, %(now)s) "
        f"ELSE m.{column} END")
    table, pending = Message._meta.db_table, PendingAck._meta.db_table
    keep = f"""
        , pending AS (INSERT INTO {pending} (session_id, wa_id, ack, received_at)
                      SELECT %(session)s, %(wa_id)s, %(ack)s, %(now)s
                      WHERE NOT EXISTS (SELECT 1 FROM old) RETURNING 1)""" if keep_if_missing else ""  # noqa: S608  # nosec B608
    return f"""
        WITH old AS (SELECT id, status FROM {table} WHERE session_id = %(session)s AND wa_id = %(wa_id)s
                       AND direction = 'outbound' FOR UPDATE),
        moved AS (UPDATE {table} AS m SET
            ack_level = GREATEST(COALESCE(m.ack_level, %(ack)s), %(ack)s),
            status = CASE WHEN %(target)s::text IS NOT NULL AND {moves} THEN %(target)s ELSE m.status END,
            {stamp("sent_at", 2) if ack != ACK_ERROR else "sent_at = m.sent_at"},
            {stamp("delivered_at", 3) if ack != ACK_ERROR else "delivered_at = m.delivered_at"},
            {stamp("read_at", 4) if ack != ACK_ERROR else "read_at = m.read_at"},
            failed_at = CASE WHEN %(error)s AND {moves} THEN %(now)s ELSE m.failed_at END,
            error_code = CASE WHEN %(error)s AND {moves} THEN 'whatsapp_error' ELSE m.error_code END,
            error_detail = CASE WHEN %(error)s AND {moves}
                                THEN 'WhatsApp reported an error for this message (ack ERROR).'
                                ELSE m.error_detail END,
            updated_at = %(now)s
          FROM old WHERE m.id = old.id
          RETURNING m.id, old.status AS before, m.status AS after){keep}
        SELECT (SELECT count(*) FROM old), moved.id, moved.before, moved.after
          FROM (VALUES (1)) AS one LEFT JOIN moved ON TRUE"""  # noqa: S608 - fixed fragments only  # nosec B608


def message_ack_apply(*, session_id: object, wa_id: str, ack: int, keep_if_missing: bool = True) -> bool:
    """Apply a WAHA ack to the outbound message with this bare WhatsApp id.

    One statement (this runs for every ack webhook): it raises ``ack_level``,
    moves the status forward only (ERROR fails a message not yet delivered)
    and fills the matching timestamps. An ack for a message whose id is not
    stored yet is kept (``PendingAck``) and applied when the send result lands
    (``pending_acks_apply``). Returns whether a message was found.
    """
    target = MessageStatus.FAILED if ack == ACK_ERROR else _STATUS_FOR_ACK.get(ack)
    params = {"session": session_id, "wa_id": wa_id, "ack": ack, "target": target,
              "rank": 2 if ack == ACK_ERROR else _TARGET_RANK.get(target, -1), "error": ack == ACK_ERROR,
              "now": timezone.now()}
    with connection.cursor() as cursor:
        cursor.execute(_ack_sql(ack, keep_if_missing=keep_if_missing), params)
        rows = cursor.fetchall()
    if not rows[0][0]:
        logger.info("ack.pending session_id=%s wa_id=%s ack=%s", session_id, wa_id, ack)
        return False
    for _, message_id, before, after in rows:
        if message_id is not None and before != after:
            metrics.status_changed(target)
            logger.info("message.%s message_id=%s wa_id=%s ack=%s", target, message_id, wa_id, ack)
    return True


def pending_acks_apply(*, session_id: object, wa_ids: list[str]) -> None:
    """Apply acks that arrived before these messages' ids were stored."""
    if not wa_ids:
        return
    pending = list(PendingAck.objects.filter(session_id=session_id, wa_id__in=wa_ids).order_by("ack"))
    if not pending:
        return
    for early in pending:
        message_ack_apply(session_id=session_id, wa_id=early.wa_id, ack=early.ack, keep_if_missing=False)
    PendingAck.objects.filter(pk__in=[p.pk for p in pending]).delete()


def message_sent(*, message: Message, waha_message_id: str, wa_id: str, attempt: dict[str, Any]) -> None:
    """WAHA accepted the message: ``sending`` → ``sent`` (unless an ack already moved it further)."""
    queryset = Message.objects.filter(pk=message.pk)
    queryset.update(waha_message_id=waha_message_id or F("waha_message_id"), wa_id=wa_id or F("wa_id"),
                    attempt_log=_append(attempt), error_code="", error_detail="")
    if _advance(queryset, MessageStatus.SENT):
        metrics.status_changed(MessageStatus.SENT)
    logger.info("message.sent message_id=%s attempt=%s", message.pk, attempt.get("attempt"))
    if wa_id:
        pending_acks_apply(session_id=message.session_id, wa_ids=[wa_id])


def message_retry_later(*, message: Message, delay_seconds: float, attempt: dict[str, Any], reason: str) -> None:
    """A transient failure: back to ``queued``, due again after ``delay_seconds``."""
    due = timezone.now() + timezone.timedelta(seconds=delay_seconds)
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=MessageStatus.QUEUED, next_attempt_at=due, updated_at=timezone.now(), attempt_log=_append(attempt),
        error_code=attempt.get("error", "")[:50], error_detail=attempt.get("detail", "")[:500])
    metrics.retry_scheduled(reason)
    logger.info("message.retry_scheduled message_id=%s attempt=%s delay_s=%.1f reason=%s", message.pk,
                attempt.get("attempt"), delay_seconds, reason)


def message_failed(*, message: Message, code: str, detail: str, attempt: dict[str, Any] | None) -> None:
    """Give up on a message (WAHA refused it, or the attempt budget is spent)."""
    now = timezone.now()
    extra = {"attempt_log": _append(attempt)} if attempt else {}
    failed = Message.objects.filter(pk=message.pk, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING]).update(
        status=MessageStatus.FAILED, failed_at=now, updated_at=now, error_code=code[:50], error_detail=detail[:500],
        **extra)
    if failed:
        metrics.status_changed(MessageStatus.FAILED)
        logger.warning("message.failed message_id=%s code=%s", message.pk, code)
