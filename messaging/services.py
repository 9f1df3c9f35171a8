"""Writes for messages: send, bulk, retry, conversation assignment.

Every write commits the message first and only then asks a worker to send it
(``transaction.on_commit``), so a lost task never loses a message and a
rolled-back request never sends one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts.models import User
from config.ids import uuid7_many
from config.problems import Conflict, InvalidInput, ServiceError, ServiceUnavailable
from config.quiet import QuietWindow
from events import outbox
from messaging import bulk_sql, metrics, send_sql, status
from messaging.models import (
    OPEN_STATUSES,
    TEXT_MAX_LENGTH,
    Batch,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    MessageType,
)
from messaging.permissions import MessagesAccess
from messaging.personalise import Template, TemplateError, VariablesError, template_parse, variables_check
from messaging.recipients import InvalidRecipient, recipient_chat_id
from sessions_waha.models import Session, SessionStatus

logger = logging.getLogger("messaging")

BULK_MAX_RECIPIENTS = 10_000
SENDER_ROLES = MessagesAccess.write_roles


class SessionNotReady(Conflict):
    code = "session_not_ready"
    title = "Session not ready"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    title = "Idempotency key reused"


class SenderNotAllowed(ServiceError):
    status_code = 403
    code = "permission_denied"
    title = "Permission denied"


class ConversationTaken(ServiceError):
    status_code = 403
    code = "permission_denied"
    title = "Conversation assigned to someone else"


@dataclass(frozen=True)
class MessageContent:
    """What to send: a type and its payload (text, media, location)."""

    type: str = MessageType.TEXT
    text: str = ""
    media: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    reply_to: str = ""

    def fingerprint(self, *, session_id: object, chat_id: str) -> str:
        """Hash of the request, to tell a retried request from a different one."""
        body = {"session": str(session_id), "to": chat_id, "type": self.type, "text": self.text,
                "media": self.media, "location": self.location, "reply_to": self.reply_to}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class BulkResult:
    batch: Batch
    accepted: int
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _require_working(session_status: str | None) -> None:
    # The stored status is used on purpose: a send never waits on WAHA.
    if session_status != SessionStatus.WORKING:
        raise SessionNotReady(f"The session is {session_status}; messages can be sent only while it is WORKING.")


def _chat_id_or_400(to: object, field_name: str = "to") -> str:
    try:
        return recipient_chat_id(to)
    except InvalidRecipient as exc:
        raise InvalidInput(f"Invalid recipient: {exc.reason}", errors={field_name: [exc.reason]}) from exc


def _idempotent_replay(*, user_id: object, key: str, fingerprint: str) -> Message | None:
    from messaging.models import IdempotencyKey

    seen = IdempotencyKey.objects.select_related("message").filter(user_id=user_id, key=key).first()
    if seen is None:
        return None
    if seen.request_hash != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was used with a different request body.")
    return seen.message


def _queue(*, sender_id: object, session_reference: str, chat_id: str, content: MessageContent) -> Message:
    """Store the message (one statement, ``messaging.send_sql``) or raise what stood in the way."""
    try:
        outcome = send_sql.message_queue(
            schema_name=connection.schema_name, sender_id=sender_id, roles=SENDER_ROLES,
            session_reference=session_reference, chat_id=chat_id, content=content, now=timezone.now())
    except (OperationalError, InterfaceError) as exc:
        logger.warning("message.store_failed error=%s", type(exc).__name__)
        raise ServiceUnavailable("The message could not be stored now; retry later.") from exc
    if outcome.message is not None:
        return outcome.message
    if outcome.sender_role not in SENDER_ROLES:
        # Authentication and the permission classes checked this; it changed since (deactivated, demoted).
        raise SenderNotAllowed("Your account may not send messages.")
    if outcome.session_id is None:
        raise InvalidInput(errors={"session": ["No session with this id or name."]})
    _require_working(outcome.session_status)
    raise ConversationTaken("This chat's conversation is assigned to another user.")


def _queued(message: Message) -> None:
    transaction.on_commit(lambda: dispatch_kick(session_id=message.session_id))
    metrics.status_changed(MessageStatus.QUEUED)
    logger.info("message.queued message_id=%s session_id=%s", message.pk, message.session_id)


def message_send(*, sender_id: object, session_reference: str, to: object, content: MessageContent,
                 idempotency_key: str | None = None) -> tuple[Message, bool]:
    """Queue one outbound message; returns it and whether it was created now.

    ``session_reference`` is the session's id or name. A repeated
    ``idempotency_key`` with the same body returns the first message and
    queues nothing. The send task is enqueued only after commit.
    """
    chat_id = _chat_id_or_400(to)
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 255:
            raise InvalidInput(errors={"Idempotency-Key": ["Use 1 to 255 characters."]})
        return _message_send_idempotent(sender_id=sender_id, session_reference=session_reference, chat_id=chat_id,
                                        content=content, key=idempotency_key)
    message = _queue(sender_id=sender_id, session_reference=session_reference, chat_id=chat_id, content=content)
    _queued(message)
    return message, True


def _message_send_idempotent(*, sender_id: object, session_reference: str, chat_id: str, content: MessageContent,
                             key: str) -> tuple[Message, bool]:
    from messaging.models import IdempotencyKey
    from messaging.selectors import session_by_reference

    # The session's id, not the reference, is hashed: its name and its id are the same request.
    fingerprint = content.fingerprint(session_id=session_by_reference(session_reference).pk, chat_id=chat_id)
    replay = _idempotent_replay(user_id=sender_id, key=key, fingerprint=fingerprint)
    if replay is not None:
        return replay, False
    try:
        with transaction.atomic():
            message = _queue(sender_id=sender_id, session_reference=session_reference, chat_id=chat_id,
                             content=content)
            IdempotencyKey.objects.create(user_id=sender_id, key=key, request_hash=fingerprint, message=message)
    except IntegrityError:
        # Two requests with one key raced; the loser answers like a replay.
        replay = _idempotent_replay(user_id=sender_id, key=key, fingerprint=fingerprint)
        if replay is not None:
            return replay, False
        raise
    _queued(message)
    return message, True


def _bulk_recipients(template: Template, recipients: list[Any]
                     ) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Validate and personalise every recipient; return (chat_id, text) pairs and rejections."""
    accepted, rejected = [], []
    for index, recipient in enumerate(recipients):
        to = recipient.get("to") if isinstance(recipient, dict) else None
        try:
            chat_id = recipient_chat_id(to)
            text = template.render(variables_check(recipient.get("variables")))
        except InvalidRecipient as exc:
            rejected.append({"index": index, "to": to, "errors": {"to": [exc.reason]}})
        except KeyError as exc:
            rejected.append({"index": index, "to": to, "errors": {"variables": [f"missing variable {exc.args[0]!r}"]}})
        except VariablesError as exc:
            rejected.append({"index": index, "to": to, "errors": {"variables": [str(exc)]}})
        else:
            if len(text) > TEXT_MAX_LENGTH:
                rejected.append({"index": index, "to": to, "errors": {"text": [
                    f"The personalised text has {len(text)} characters; the limit is {TEXT_MAX_LENGTH}."]}})
            else:
                accepted.append((chat_id, text))
    return accepted, rejected


def message_bulk(*, sender: User, session: Session, template: str, recipients: list[Any],
                 content: MessageContent) -> BulkResult:
    """Queue one personalised message per valid recipient (bulk SQL, one dispatch kick)."""
    if not recipients or len(recipients) > BULK_MAX_RECIPIENTS:
        raise InvalidInput(errors={"recipients": [f"Send 1 to {BULK_MAX_RECIPIENTS} recipients."]})
    try:
        parsed = template_parse(template)
    except TemplateError as exc:
        raise InvalidInput(str(exc), errors={"text": [str(exc)]}) from exc
    _require_working(session.status)
    accepted, rejected = _bulk_recipients(parsed, recipients)
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.create(session=session, created_by=sender, template=template, total=len(accepted),
                                     rejected=len(rejected))
        conversations = bulk_sql.conversations_touch(session_id=session.pk, at=now,
                                                     chat_ids=sorted({chat_id for chat_id, _ in accepted}))
        # COPY: 10,000 rows in a fraction of a second (bulk_create takes seconds).
        bulk_sql.messages_copy(
            common={"session_id": session.pk, "batch_id": batch.pk, "created_by_id": sender.pk,
                    "direction": Direction.OUTBOUND, "type": content.type, "media": content.media,
                    "status": status.initial_status(Direction.OUTBOUND), "next_attempt_at": now, "created_at": now,
                    "updated_at": now},
            rows=((message_id, conversations[chat_id], chat_id, text)
                  for message_id, (chat_id, text) in zip(uuid7_many(len(accepted)), accepted, strict=True)),
        )
        transaction.on_commit(lambda: dispatch_kick(session_id=session.pk))
    metrics.status_changed(MessageStatus.QUEUED, count=len(accepted))
    logger.info("batch.queued batch_id=%s accepted=%s rejected=%s", batch.pk, len(accepted), len(rejected))
    return BulkResult(batch=batch, accepted=len(accepted), rejected=rejected)


def message_retry(*, message: Message) -> Message:
    """Queue a failed outbound message again with a fresh attempt budget."""
    with transaction.atomic():
        if not status.message_requeue_failed(message=message):
            raise Conflict("Only failed outbound messages can be retried.")
        transaction.on_commit(lambda: dispatch_kick(session_id=message.session_id))
    message.refresh_from_db()
    logger.info("message.retry_queued message_id=%s", message.pk)
    return message


def conversation_assign(*, conversation: Conversation, assignee_id: object) -> Conversation:
    """Assign the conversation to an active user of this tenant (or to nobody)."""
    if assignee_id is None:
        conversation.assigned_to = None
    else:
        assignee = User.objects.filter(pk=assignee_id, is_active=True).first()
        if assignee is None:
            raise InvalidInput(errors={"assigned_to": ["No active user with this id in this tenant."]})
        conversation.assigned_to = assignee
    conversation.save(update_fields=["assigned_to"])
    logger.info("conversation.assigned conversation_id=%s assignee=%s", conversation.pk, assignee_id)
    return conversation


# After a kick, a process stays quiet about that session for KICK_QUIET_SECONDS: a busy session would
# otherwise cost a Redis round trip per message (bench/RESULTS.md, "Accepted sends"). Every kick therefore
# also schedules a dispatch KICK_LOOK_AGAIN_SECONDS later, which sends what the process stored while quiet
# (a dispatch that finds another running returns, and that one looks at the queue after it). The margin
# covers clock skew between the web and worker hosts: Celery's countdown is a wall-clock ETA.
KICK_QUIET_SECONDS = 0.25
KICK_LOOK_AGAIN_SECONDS = 0.5
_kicked = QuietWindow(KICK_QUIET_SECONDS)


def dispatch_kick(*, session_id: object) -> None:
    """Make sure a worker will send this session's due messages soon.

    Never raises: with Redis or the broker down the messages stay queued in
    the database and the sweeper enqueues them once the broker is back.
    """
    from messaging import pacing
    from messaging.tasks import dispatch_session

    args = [connection.schema_name, str(session_id)]
    if _kicked.quiet(tuple(args)):
        return  # this process enqueued a dispatch moments ago, and the look after it is scheduled
    try:
        if pacing.kick_claim(session_id):
            dispatch_session.apply_async(args=args, retry=False)
        dispatch_session.apply_async(args=args, countdown=KICK_LOOK_AGAIN_SECONDS, retry=False)
        _kicked.start(tuple(args))
    except Exception as exc:  # noqa: BLE001 - any broker failure: the sweeper recovers
        metrics.ENQUEUE_FAILURES.inc()
        logger.warning("dispatch.kick_failed session_id=%s error=%s", session_id, type(exc).__name__)


def batches_complete(*, batch_id: object | None = None) -> int:
    """Stamp ``completed_at`` on batches with nothing left queued or sending (one, or every open one), and
    record their ``batch.completed`` events with the change.

    ``SKIP LOCKED``: a batch another transaction is completing is left to it, so each completes once.
    """
    open_messages = Message.objects.filter(batch=OuterRef("pk"), status__in=OPEN_STATUSES)
    batches = Batch.objects.all() if batch_id is None else Batch.objects.filter(pk=batch_id)
    with transaction.atomic():
        completed = list(batches.filter(completed_at__isnull=True, total__gt=0).exclude(Exists(open_messages))
                         .select_for_update(skip_locked=True).values_list("pk", flat=True))
        if not completed:
            return 0
        Batch.objects.filter(pk__in=completed).update(completed_at=timezone.now())
        for completed_id in completed:
            outbox.batch_completed_record(batch_id=completed_id)
    return len(completed)
