"""The one place where a message's status is written: the state machine and every write that follows it.

``TRANSITIONS`` is the machine: for each status, the statuses a message may
move to (``NEW`` stands for a message being stored). Every write names a
``Move``: one purpose (claim, ack, retry...), the statuses it starts from and
its target, each edge of the table. A move runs as a conditional write, in the
ORM (``messages_move``) or in SQL built from the same move (``sources_sql``,
``status_sql``), so a message whose status is not a source of the move keeps
it: a late ack, a send result racing a sweep, a retry of a message that is not
failed change nothing.

Outbound messages move forward along scheduled → queued → sending → sent →
delivered → read; a message is queued again only after a transient failure,
by the sweeper, or by an explicit retry of a failed one. ``read``,
``canceled`` and ``received`` are final; ``failed`` is, except for that retry.
WAHA acks only move a message forward (an ERROR ack fails it only while it is
not yet delivered), whatever order they arrive in.

No other module writes ``Message.status``: tests/messaging/test_status_machine.py
walks the table and checks the source for writes elsewhere.

Every move to a reported status (sent, delivered, read, failed, canceled)
records its ``message.<status>`` event in the same transaction
(``events.outbox``): the ORM form locks and moves the rows, then records them;
the SQL forms (the batch send result, the ack) write the events and their
deliveries in the same statement, so those hot paths keep one round trip.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Func, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from core.db.ids import RowId
from core.transitions import Move, TransitionTable
from events import kick, outbox
from messaging import metrics
from messaging.models import Direction, Message, MessageStatus, PendingAck

logger = logging.getLogger("messaging.status")

SCHEDULED, QUEUED, SENDING = MessageStatus.SCHEDULED, MessageStatus.QUEUED, MessageStatus.SENDING
SENT, DELIVERED, READ = MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ
FAILED, CANCELED, RECEIVED = MessageStatus.FAILED, MessageStatus.CANCELED, MessageStatus.RECEIVED
NEW = None  # the "from" of a message being stored

# ------------------------------------------------------------------ the machine

TRANSITIONS: dict[str | None, frozenset[str]] = {
    NEW: frozenset({SCHEDULED, QUEUED, RECEIVED}),
    SCHEDULED: frozenset({QUEUED, CANCELED}),
    # A queued message can be further along than its row says: an attempt whose answer was lost (or that the
    # sweeper queued again) may have reached WhatsApp, and its ack or send result moves it on.
    QUEUED: frozenset({SENDING, SENT, DELIVERED, READ, FAILED, CANCELED}),
    SENDING: frozenset({QUEUED, SENT, DELIVERED, READ, FAILED}),
    SENT: frozenset({DELIVERED, READ, FAILED}),
    DELIVERED: frozenset({READ}),
    READ: frozenset(),
    FAILED: frozenset({QUEUED}),
    CANCELED: frozenset(),
    RECEIVED: frozenset(),
}


_TABLE = TransitionTable(TRANSITIONS, subject="a message")


def allowed(source: str | None, target: str) -> bool:
    """Whether the table lets a message in ``source`` (``NEW``: not stored yet) move to ``target``."""
    return _TABLE.allowed(source, target)


def check(source: str | None, target: str) -> None:
    """Raise ``InvalidTransition`` unless ``source`` → ``target`` is in the table."""
    _TABLE.check(source, target)


_move = _TABLE.move


# The send pipeline.
CLAIM = _move("claim", {QUEUED}, SENDING)  # the dispatcher takes a due message
SEND_ACCEPTED = _move("send_accepted", {QUEUED, SENDING}, SENT)  # WAHA took it (an ack may already be further)
RETRY_LATER = _move("retry_later", {SENDING}, QUEUED)  # a transient failure: again after a backoff
REQUEUE_STUCK = _move("requeue_stuck", {SENDING}, QUEUED)  # the sweeper: its worker died mid-send
SEND_FAILED = _move("send_failed", {QUEUED, SENDING}, FAILED)  # WAHA refused it, or the attempt budget is spent
SESSION_GONE = _move("session_gone", {QUEUED, SENDING}, FAILED)  # its session was deleted
RETRY = _move("retry", {FAILED}, QUEUED)  # POST /messages/{id}/retry
# WAHA acks, forward only.
ACK_SENT = _move("ack_sent", {QUEUED, SENDING}, SENT)
ACK_DELIVERED = _move("ack_delivered", {QUEUED, SENDING, SENT}, DELIVERED)
ACK_READ = _move("ack_read", {QUEUED, SENDING, SENT, DELIVERED}, READ)
ACK_ERROR = _move("ack_error", {QUEUED, SENDING, SENT}, FAILED)  # not once delivered
# Scheduled sends and cancel, which the API contract names; nothing stores a scheduled message yet.
DUE = _move("due", {SCHEDULED}, QUEUED)
CANCEL = _move("cancel", {SCHEDULED, QUEUED}, CANCELED)

MOVES: tuple[Move, ...] = (CLAIM, SEND_ACCEPTED, RETRY_LATER, REQUEUE_STUCK, SEND_FAILED, SESSION_GONE, RETRY,
                           ACK_SENT, ACK_DELIVERED, ACK_READ, ACK_ERROR, DUE, CANCEL)

# WAHA ack levels (WAHA.md §5.5): ERROR=-1, PENDING=0, SERVER=1, DEVICE=2, READ=3, PLAYED=4. PENDING moves nothing.
ACK_ERROR_LEVEL = -1
ACK_MOVES: dict[int, Move] = {ACK_ERROR_LEVEL: ACK_ERROR, 1: ACK_SENT, 2: ACK_DELIVERED, 3: ACK_READ, 4: ACK_READ}

# Every edge of the table has a move, so the table says everything a message can do (NEW: storing, not a move).
_TABLE.require_moves(MOVES)


def initial_status(direction: str, *, scheduled: bool = False) -> str:
    """The status a new message is stored with: ``received`` inbound; ``queued`` (or ``scheduled``) outbound."""
    status = RECEIVED if direction == Direction.INBOUND else SCHEDULED if scheduled else QUEUED
    check(NEW, status)
    return status


# ------------------------------------------------------------------ the machine in SQL and in the ORM

_SQL_VALUE = re.compile(r"[a-z_]+")


def _literal(status: str) -> str:
    """A status as an SQL literal: the values are this module's constants, never input."""
    if not _SQL_VALUE.fullmatch(status):  # pragma: no cover - a constant that would need quoting
        raise ValueError(f"not a status constant: {status!r}")
    return f"'{status}'"


def sources_sql(move: Move, column: str = "status") -> str:
    """``column`` is one of the move's sources: ``status = 'queued'``, ``m.status IN ('queued', 'sending')``.

    Literals rather than parameters: the partial indexes on ``status`` (``message_due``, ``message_sending``)
    need the planner to see the value.
    """
    values = [_literal(status) for status in MessageStatus.values if status in move.sources]
    return f"{column} = {values[0]}" if len(values) == 1 else f"{column} IN ({', '.join(values)})"


def status_sql(move: Move, column: str = "status") -> str:
    """The new ``status`` for a statement that updates rows whatever their status: the move's target where it
    applies, the old status elsewhere."""
    return f"CASE WHEN {sources_sql(move, column)} THEN {_literal(move.target)} ELSE {column} END"


def messages_move(queryset: QuerySet[Message], move: Move, **changes: Any) -> int:
    """Apply ``move`` (and ``changes``) to the messages of ``queryset`` in one of its sources; returns how many.

    A move to a reported status locks the messages it moves and records their events in the same transaction.
    """
    if move.target not in outbox.MESSAGE_EVENT_STATUSES:
        return queryset.filter(status__in=move.sources).update(status=move.target, **changes)
    with transaction.atomic():
        ids = list(queryset.filter(status__in=move.sources).select_for_update().values_list("pk", flat=True))
        if not ids:
            return 0
        moved = Message.objects.filter(pk__in=ids).update(status=move.target, **changes)
        outbox.messages_record(table=Message._meta.db_table, message_ids=ids, status=move.target)
    return moved


class JsonbAppend(Func):
    """``attempt_log || '[{...}]'::jsonb``: append without reading the row."""

    template = "(%(expressions)s)"
    arg_joiner = " || "


def _append(entry: dict[str, Any]) -> JsonbAppend:
    return JsonbAppend(F("attempt_log"), Func(Value(json.dumps([entry])), template="%(expressions)s::jsonb"))


# The timestamps a move to each status fills, skipped steps included (an ack READ also says it was delivered).
_STAMPS: dict[str, tuple[str, ...]] = {
    SENT: ("sent_at",), DELIVERED: ("sent_at", "delivered_at"), READ: ("sent_at", "delivered_at", "read_at")}


def _forward(queryset: QuerySet[Message], move: Move, **changes: Any) -> int:
    """Apply a move to sent/delivered/read, filling its timestamps where they are empty."""
    now = timezone.now()
    stamps = {name: Coalesce(F(name), Value(now)) for name in _STAMPS[move.target]}
    return messages_move(queryset, move, updated_at=now, **stamps, **changes)


# ------------------------------------------------------------------ the send pipeline


def messages_claim(*, session_id: RowId, limit: int) -> list[Any]:
    """``queued`` → ``sending`` for up to ``limit`` due messages of the session (attempt + 1); their ids.

    One statement on the partial index ``message_due``; ``SKIP LOCKED`` means a second dispatcher can never
    claim the same message.
    """
    table = Message._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} SET status = {_literal(CLAIM.target)}, attempts = attempts + 1,
                       sending_started_at = clock_timestamp(), updated_at = clock_timestamp()
                 WHERE id IN (SELECT id FROM {table}
                               WHERE session_id = %s AND {sources_sql(CLAIM)} AND next_attempt_at <= clock_timestamp()
                               ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED)
             RETURNING id""",  # noqa: S608 - the table name and the statuses are ours, values are parameters  # nosec B608
            [session_id, limit],
        )
        ids = [row[0] for row in cursor.fetchall()]
    metrics.status_changed(CLAIM.target, count=len(ids))
    return ids


def message_sent(*, message: Message, waha_message_id: str, wa_id: str, attempt: dict[str, Any]) -> None:
    """WAHA accepted the message: ``sending`` → ``sent`` (unless an ack already moved it further)."""
    queryset = Message.objects.filter(pk=message.pk)
    queryset.update(waha_message_id=waha_message_id or F("waha_message_id"), wa_id=wa_id or F("wa_id"),
                    attempt_log=_append(attempt), error_code="", error_detail="")
    if _forward(queryset, SEND_ACCEPTED):
        metrics.status_changed(SEND_ACCEPTED.target)
    logger.info("message.sent message_id=%s attempt=%s", message.pk, attempt.get("attempt"))
    if wa_id:
        pending_acks_apply(session_id=message.session_id, wa_ids=[wa_id])


def messages_sent(results: Sequence[tuple[object, str, str, dict[str, Any]]], *, now: datetime) -> int:
    """``sending`` → ``sent`` for many messages in one UPDATE: (id, waha_message_id, wa_id, attempt).

    Messages an ack already moved further keep their status (and get the ids).
    """
    if not results:
        return 0
    table = Message._meta.db_table
    values = ", ".join(["(%s::uuid, %s, %s, %s::jsonb)"] * len(results))
    params: list[Any] = []
    for message_id, waha_message_id, wa_id, attempt in results:
        params += [str(message_id), waha_message_id, wa_id, json.dumps([attempt])]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH v(id, waha_message_id, wa_id, attempt) AS (VALUES {values}),
                old AS (SELECT m.id, m.status FROM {table} AS m JOIN v ON m.id = v.id FOR UPDATE OF m),
                moved AS (UPDATE {table} AS m SET
                    waha_message_id = CASE WHEN v.waha_message_id <> '' THEN v.waha_message_id
                                           ELSE m.waha_message_id END,
                    wa_id = CASE WHEN v.wa_id <> '' THEN v.wa_id ELSE m.wa_id END,
                    attempt_log = m.attempt_log || v.attempt,
                    error_code = '', error_detail = '', updated_at = %s,
                    status = {status_sql(SEND_ACCEPTED, "m.status")},
                    sent_at = COALESCE(m.sent_at, %s)
                  FROM v, old WHERE m.id = v.id AND old.id = m.id
                  RETURNING old.status AS before, m.status AS after, to_jsonb(m) - 'attempt_log' AS row)
                {outbox.outbox_ctes(source="moved", type_sql="'message.' || moved.after",
                                    row_sql="moved.row", where="moved.before <> moved.after")}
                SELECT (SELECT count(*) FROM moved), {outbox.ENDPOINTS_WRITTEN_SQL}""",  # noqa: S608 - placeholders and our constants only  # nosec B608
            [*params, now, now],
        )
        updated, endpoint_ids = cursor.fetchone()
    kick.kick_after_commit(endpoint_ids)
    metrics.status_changed(SEND_ACCEPTED.target, count=len(results))
    return updated


def message_retry_later(*, message: Message, delay_seconds: float, attempt: dict[str, Any], reason: str) -> None:
    """A transient failure: back to ``queued``, due again after ``delay_seconds``."""
    due = timezone.now() + timedelta(seconds=delay_seconds)
    messages_move(Message.objects.filter(pk=message.pk), RETRY_LATER, next_attempt_at=due, updated_at=timezone.now(),
                  attempt_log=_append(attempt), error_code=attempt.get("error", "")[:50],
                  error_detail=attempt.get("detail", "")[:500])
    metrics.retry_scheduled(reason)
    logger.info("message.retry_scheduled message_id=%s attempt=%s delay_s=%.1f reason=%s", message.pk,
                attempt.get("attempt"), delay_seconds, reason)


def message_requeue_stuck(*, message: Message) -> bool:
    """The sweeper's move for a message whose worker died mid-send: ``queued`` again, due now."""
    now = timezone.now()
    return bool(messages_move(Message.objects.filter(pk=message.pk), REQUEUE_STUCK, next_attempt_at=now,
                              updated_at=now))


def message_failed(*, message: Message, code: str, detail: str, attempt: dict[str, Any] | None) -> None:
    """Give up on a message (WAHA refused it, or the attempt budget is spent)."""
    now = timezone.now()
    extra = {"attempt_log": _append(attempt)} if attempt else {}
    failed = messages_move(Message.objects.filter(pk=message.pk), SEND_FAILED, failed_at=now, updated_at=now,
                           error_code=code[:50], error_detail=detail[:500], **extra)
    if failed:
        metrics.status_changed(SEND_FAILED.target)
        logger.warning("message.failed message_id=%s code=%s", message.pk, code)


def messages_fail_open(*, session_id: RowId, code: str, detail: str) -> int:
    """Fail the session's queued and sending messages (the session is gone: they can never go out)."""
    now = timezone.now()
    failed = messages_move(Message.objects.filter(session_id=session_id), SESSION_GONE, failed_at=now,
                           updated_at=now, error_code=code, error_detail=detail)
    if failed:
        metrics.status_changed(SESSION_GONE.target, count=failed)
        logger.info("messages.failed_open session_id=%s count=%s code=%s", session_id, failed, code)
    return failed


def message_requeue_failed(*, message: Message) -> bool:
    """A failed outbound message back to ``queued`` with a fresh attempt budget; False when it is not failed."""
    now = timezone.now()
    queued = messages_move(Message.objects.filter(pk=message.pk, direction=Direction.OUTBOUND), RETRY, attempts=0,
                           error_code="", error_detail="", failed_at=None, next_attempt_at=now, updated_at=now)
    if queued:
        metrics.status_changed(RETRY.target)
    return bool(queued)


# ------------------------------------------------------------------ WAHA acks


@cache
def _ack_sql(move: Move | None, *, keep_if_missing: bool) -> str:
    """The ack's statement: lock the message, apply the ack's move, keep the ack when no message matched."""
    applies = sources_sql(move, "m.status") if move is not None else "FALSE"
    changes = ["ack_level = GREATEST(COALESCE(m.ack_level, %(ack)s), %(ack)s)", "updated_at = %(now)s"]
    if move is not None:
        changes.append(f"status = {status_sql(move, 'm.status')}")
        changes += [f"{column} = CASE WHEN {applies} THEN COALESCE(m.{column}, %(now)s) ELSE m.{column} END"
                    for column in _STAMPS.get(move.target, ())]
    if move is ACK_ERROR:
        changes += [f"failed_at = CASE WHEN {applies} THEN %(now)s ELSE m.failed_at END",
                    f"error_code = CASE WHEN {applies} THEN 'whatsapp_error' ELSE m.error_code END",
                    f"error_detail = CASE WHEN {applies} THEN 'WhatsApp reported an error for this message "
                    f"(ack ERROR).' ELSE m.error_detail END"]
    table, pending = Message._meta.db_table, PendingAck._meta.db_table
    keep = f"""
        , pending AS (INSERT INTO {pending} (session_id, wa_id, ack, received_at)
                      SELECT %(session)s, %(wa_id)s, %(ack)s, %(now)s
                      WHERE NOT EXISTS (SELECT 1 FROM old) RETURNING 1)""" if keep_if_missing else ""  # noqa: S608  # nosec B608
    return f"""
        WITH old AS (SELECT id, status FROM {table} WHERE session_id = %(session)s AND wa_id = %(wa_id)s
                       AND direction = '{Direction.OUTBOUND}' FOR UPDATE),
        moved AS (UPDATE {table} AS m SET {", ".join(changes)}
          FROM old WHERE m.id = old.id
          RETURNING m.id, old.status AS before, m.status AS after, to_jsonb(m) - 'attempt_log' AS row){keep}
        {outbox.outbox_ctes(source="moved", type_sql="'message.' || moved.after", row_sql="moved.row",
                            where="moved.before <> moved.after")}
        SELECT (SELECT count(*) FROM old), moved.id, moved.before, moved.after, {outbox.ENDPOINTS_WRITTEN_SQL}
          FROM (VALUES (1)) AS one LEFT JOIN moved ON TRUE"""  # noqa: S608 - fixed fragments only  # nosec B608


def message_ack_apply(*, session_id: RowId, wa_id: str, ack: int, keep_if_missing: bool = True) -> bool:
    """Apply a WAHA ack to the outbound message with this bare WhatsApp id.

    One statement (this runs for every ack webhook): it raises ``ack_level``,
    applies the ack's move (``ACK_MOVES``: forward only; ERROR fails a message
    not yet delivered) and fills the matching timestamps. An ack for a message
    whose id is not stored yet is kept (``PendingAck``) and applied when the
    send result lands (``pending_acks_apply``). Returns whether a message was found.
    """
    move = ACK_MOVES.get(ack)
    params = {"session": session_id, "wa_id": wa_id, "ack": ack, "now": timezone.now()}
    with connection.cursor() as cursor:
        cursor.execute(_ack_sql(move, keep_if_missing=keep_if_missing), params)
        rows = cursor.fetchall()
    if not rows[0][0]:
        logger.info("ack.pending session_id=%s wa_id=%s ack=%s", session_id, wa_id, ack)
        return False
    kick.kick_after_commit(rows[0][4])
    for _, message_id, before, after, _endpoints in rows:
        if message_id is not None and before != after:
            metrics.status_changed(after)
            logger.info("message.%s message_id=%s wa_id=%s ack=%s", after, message_id, wa_id, ack)
    return True


def pending_acks_apply(*, session_id: RowId, wa_ids: list[str]) -> None:
    """Apply acks that arrived before these messages' ids were stored."""
    if not wa_ids:
        return
    pending = list(PendingAck.objects.filter(session_id=session_id, wa_id__in=wa_ids).order_by("ack"))
    if not pending:
        return
    for early in pending:
        message_ack_apply(session_id=session_id, wa_id=early.wa_id, ack=early.ack, keep_if_missing=False)
    PendingAck.objects.filter(pk__in=[p.pk for p in pending]).delete()
