"""Writes for messages: send, bulk, retry, conversation assignment, failing a deleted session's open
messages, and stamping finished batches.

Every write commits the message first and only then asks a worker to send it
(``transaction.on_commit``), so a lost task never loses a message and a
rolled-back request never sends one.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Exists, Max, OuterRef, Subquery
from django.utils import timezone

from accounts.models import User
from accounts.principals import ApiKeyPrincipal, may_use_session
from accounts.roles import MESSAGE_SENDERS
from core.db.ids import RowId, uuid7_many
from core.problems import Conflict, InvalidInput, ServiceError, ServiceUnavailable
from core.tenancy import current_schema
from events import outbox
from messaging import metrics
from messaging.models import (
    OPEN_STATUSES,
    REJECTED_TO_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    Batch,
    Conversation,
    Direction,
    Message,
    MessageStatus,
    MessageType,
    settled_at,
)
from messaging.selectors import batch_progress
from messaging.serializers import BatchSerializer
from messaging.services import bulk_sql, send_sql, status
from messaging.services.kick import dispatch_kick
from messaging.services.personalise import Template, TemplateError, VariablesError, template_parse, variables_check
from messaging.services.recipients import InvalidRecipient, recipient_chat_id
from sessions_waha.models import Session, SessionStatus

logger = logging.getLogger("messaging")

BULK_MAX_RECIPIENTS = 10_000


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


class SessionNotAllowed(ServiceError):
    status_code = 403
    code = "permission_denied"
    title = "Session not allowed"


SESSION_NOT_ALLOWED = "This API key is bound to other sessions; it may not send on this one."


@dataclass(frozen=True)
class Sender:
    """Who sends: a user, or an API key (never both). What it creates records it."""

    user_id: Any = None
    api_key_id: Any = None

    @classmethod
    def of(cls, principal: User | ApiKeyPrincipal) -> Sender:
        if isinstance(principal, ApiKeyPrincipal):
            return cls(api_key_id=principal.api_key_id)
        return cls(user_id=principal.pk)

    def owner(self) -> dict[str, Any]:
        """The columns that name it (``IdempotencyKey``)."""
        return {"api_key_id": self.api_key_id} if self.api_key_id is not None else {"user_id": self.user_id}


@dataclass(frozen=True)
class MessageContent:
    """What to send: a type and its payload (text, media, location)."""

    type: str = MessageType.TEXT
    text: str = ""
    media: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    reply_to: str = ""

    def fingerprint(self, *, session_id: RowId, chat_id: str) -> str:
        """Hash of the request, to tell a retried request from a different one."""
        media = self.media
        if media and "sha256" in media:
            # A stored file counts by its content: a retried inline send may have stored it again under a new id.
            media = {key: value for key, value in media.items() if key != "id"}
        body = {"session": str(session_id), "to": chat_id, "type": self.type, "text": self.text,
                "media": media, "location": self.location, "reply_to": self.reply_to}
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


def _idempotent_replay(*, sender: Sender, key: str, fingerprint: str) -> Message | None:
    from messaging.models import IdempotencyKey

    seen = IdempotencyKey.objects.select_related("message").filter(**sender.owner(), key=key).first()
    if seen is None:
        return None
    if seen.request_hash != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was used with a different request body.")
    return seen.message


def _queue(*, sender: Sender, session_reference: str, chat_id: str, content: MessageContent) -> Message:
    """Store the message (one statement, ``messaging.services.send_sql``) or raise what stood in the way."""
    try:
        outcome = send_sql.message_queue(
            schema_name=current_schema(), sender_id=sender.user_id, api_key_id=sender.api_key_id,
            roles=MESSAGE_SENDERS, session_reference=session_reference, chat_id=chat_id, content=content,
            now=timezone.now())
    except (OperationalError, InterfaceError) as exc:
        logger.warning("message.store_failed error=%s", type(exc).__name__)
        raise ServiceUnavailable("The message could not be stored now; retry later.") from exc
    if outcome.message is not None:
        return outcome.message
    if outcome.sender_role not in MESSAGE_SENDERS:
        # Authentication and the permission classes checked this; it changed since (deactivated, demoted).
        raise SenderNotAllowed("Your account may not send messages.")
    if outcome.session_id is None:
        raise InvalidInput(errors={"session": ["No session with this id or name."]})
    if not outcome.session_allowed:
        raise SessionNotAllowed(SESSION_NOT_ALLOWED)
    _require_working(outcome.session_status)
    raise ConversationTaken("This chat's conversation is assigned to another user.")


def _queued(message: Message) -> None:
    transaction.on_commit(lambda: dispatch_kick(session_id=message.session_id))
    metrics.status_changed(MessageStatus.QUEUED)
    logger.info("message.queued message_id=%s session_id=%s", message.pk, message.session_id)


def message_send(*, sender: User | ApiKeyPrincipal, session_reference: str, to: object, content: MessageContent,
                 idempotency_key: str | None = None) -> tuple[Message, bool]:
    """Queue one outbound message; returns it and whether it was created now.

    ``sender`` is the caller: a user, or an API key (then only on its sessions, if it is bound to some).
    ``session_reference`` is the session's id or name. A repeated ``idempotency_key`` (per sender) with
    the same body returns the first message and queues nothing. The send task is enqueued only after commit.
    """
    chat_id = _chat_id_or_400(to)
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 255:
            raise InvalidInput(errors={"Idempotency-Key": ["Use 1 to 255 characters."]})
        return _message_send_idempotent(sender=Sender.of(sender), session_reference=session_reference,
                                        chat_id=chat_id, content=content, key=idempotency_key)
    message = _queue(sender=Sender.of(sender), session_reference=session_reference, chat_id=chat_id,
                     content=content)
    _queued(message)
    return message, True


def _message_send_idempotent(*, sender: Sender, session_reference: str, chat_id: str, content: MessageContent,
                             key: str) -> tuple[Message, bool]:
    from messaging.models import IdempotencyKey
    from messaging.selectors import session_by_reference

    # The session's id, not the reference, is hashed: its name and its id are the same request.
    fingerprint = content.fingerprint(session_id=session_by_reference(session_reference).pk, chat_id=chat_id)
    replay = _idempotent_replay(sender=sender, key=key, fingerprint=fingerprint)
    if replay is not None:
        return replay, False
    try:
        with transaction.atomic():
            message = _queue(sender=sender, session_reference=session_reference, chat_id=chat_id, content=content)
            IdempotencyKey.objects.create(**sender.owner(), key=key, request_hash=fingerprint, message=message)
    except IntegrityError:
        # Two requests with one key raced; the loser answers like a replay.
        replay = _idempotent_replay(sender=sender, key=key, fingerprint=fingerprint)
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


def _rejection_stored(entry: dict[str, Any]) -> dict[str, Any]:
    """A rejection as the batch keeps it: the answer's entry, with ``to`` as text of bounded length (a client
    may send anything there, and the console shows it as text)."""
    to = entry["to"]
    if to is not None and not isinstance(to, str):
        to = json.dumps(to, ensure_ascii=False)
    if to is not None and len(to) > REJECTED_TO_MAX_LENGTH:
        to = to[:REJECTED_TO_MAX_LENGTH] + "…"
    return {**entry, "to": to}


def message_bulk(*, sender: User | ApiKeyPrincipal, session: Session, template: str, recipients: list[Any],
                 content: MessageContent) -> BulkResult:
    """Queue one personalised message per valid recipient (bulk SQL, one dispatch kick)."""
    if not may_use_session(sender, session.pk):
        raise SessionNotAllowed(SESSION_NOT_ALLOWED)
    creator = Sender.of(sender)
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
        batch = Batch.objects.create(session=session, created_by_id=creator.user_id,
                                     created_by_key_id=creator.api_key_id, template=template, total=len(accepted),
                                     rejected=len(rejected),
                                     rejected_recipients=[_rejection_stored(entry) for entry in rejected])
        conversations = bulk_sql.conversations_touch(session_id=session.pk, at=now,
                                                     chat_ids=sorted({chat_id for chat_id, _ in accepted}))
        # COPY: 10,000 rows in a fraction of a second (bulk_create takes seconds).
        bulk_sql.messages_copy(
            common={"session_id": session.pk, "batch_id": batch.pk, "created_by_id": creator.user_id,
                    "created_by_key_id": creator.api_key_id,
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


def conversation_assign(*, conversation: Conversation, assignee_id: RowId | None) -> Conversation:
    """Assign the conversation to an active user of this tenant who may send (or to nobody): an AUDITOR
    could never answer it."""
    if assignee_id is None:
        conversation.assigned_to = None
    else:
        assignee = User.objects.filter(pk=assignee_id, is_active=True, role__in=MESSAGE_SENDERS).first()
        if assignee is None:
            raise InvalidInput(errors={"assigned_to": ["No active user with this id in this tenant who may send."]})
        conversation.assigned_to = assignee
    conversation.save(update_fields=["assigned_to"])
    logger.info("conversation.assigned conversation_id=%s assignee=%s", conversation.pk, assignee_id)
    return conversation


def messages_fail_on_session_deleted(sender: object, *, session_id: RowId, **kwargs: object) -> None:
    """``sessions_waha.signals.session_deleted``: the session's queued and sending messages can never go out."""
    status.messages_fail_open(session_id=session_id, code="session_deleted",
                       detail="The session was deleted before this message could be sent.")


def _batch_data(batch: Batch) -> dict[str, Any]:
    """The batch as ``GET /messages/batches/{id}`` shows it: the data of its ``batch.completed`` event."""
    return dict(BatchSerializer(batch_progress(batch=batch)).data)


def batches_complete(*, batch_id: RowId | None = None) -> int:
    """Stamp ``completed_at`` on batches with nothing left queued or sending (one, or every open one): when their
    last message left those statuses, as ``selectors.batch_progress`` shows it before the stamp; and record their
    ``batch.completed`` events with the change.

    ``SKIP LOCKED``: a batch another transaction is completing is left to it, so each completes once.
    """
    open_messages = Message.objects.filter(batch=OuterRef("pk"), status__in=OPEN_STATUSES)
    last_settled = (Message.objects.filter(batch=OuterRef("pk")).order_by().values("batch")
                    .annotate(at=Max(settled_at())).values("at"))
    batches = Batch.objects.all() if batch_id is None else Batch.objects.filter(pk=batch_id)
    with transaction.atomic():
        completed = list(batches.filter(completed_at__isnull=True, total__gt=0).exclude(Exists(open_messages))
                         .select_for_update(skip_locked=True).values_list("pk", flat=True))
        if not completed:
            return 0
        Batch.objects.filter(pk__in=completed).update(completed_at=Subquery(last_settled))
        for batch in Batch.objects.filter(pk__in=completed):
            outbox.batch_completed_record(data=functools.partial(_batch_data, batch))
    return len(completed)
