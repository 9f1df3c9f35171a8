"""Reads of messages, conversations and batches: where visibility by role is decided.

An AGENT sees only the conversations assigned to them (and their messages);
every other role sees the whole tenant. Lookups by id go through the
``*_get_for`` gates, so an id outside what the user may see is the one 404.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Count, F, Q, QuerySet

from accounts.models import Role, User
from core.problems import InvalidInput, NotFound
from messaging.models import Batch, Conversation, Message, MessageStatus
from sessions_waha.models import Session


def _scoped_messages(user: User) -> QuerySet[Message]:
    # The session's number is all a message needs from its session: annotate it
    # instead of building a Session per row; skip columns the API never shows.
    messages = Message.objects.annotate(session_phone=F("session__phone")).defer(
        "attempt_log", "next_attempt_at", "sending_started_at", "updated_at", "ack_level")
    if user.role == Role.AGENT:
        messages = messages.filter(conversation__assigned_to=user)
    return messages


def message_list(*, user: User, filters: dict[str, Any]) -> QuerySet[Message]:
    """Messages the user may see, narrowed by the list filters of the API."""
    messages = _scoped_messages(user)
    for name in ("status", "direction"):
        if filters.get(name):
            messages = messages.filter(**{name: filters[name]})
    if filters.get("chat_id"):
        # Through the conversation: its (session, chat_id) key and the message
        # index on conversation make this an index lookup.
        chats = Conversation.objects.filter(chat_id=filters["chat_id"]).values("id")
        messages = messages.filter(conversation_id__in=chats, chat_id=filters["chat_id"])
    for name, column in (("session", "session_id"), ("conversation", "conversation_id"), ("batch", "batch_id")):
        if filters.get(name):
            messages = messages.filter(**{column: filters[name]})
    if filters.get("created_after"):
        messages = messages.filter(created_at__gte=filters["created_after"])
    if filters.get("created_before"):
        messages = messages.filter(created_at__lt=filters["created_before"])
    if filters.get("search"):
        messages = messages.filter(text__icontains=filters["search"])
    return messages


def message_get_for(*, user: User, message_id: object) -> Message:
    message = _scoped_messages(user).filter(pk=message_id).first()
    if message is None:
        raise NotFound("No message with this id.")
    return message


def session_by_reference(reference: str) -> Session:
    """A live session by id or by name (send bodies accept either)."""
    sessions = Session.objects.alive()
    try:
        uuid.UUID(str(reference))
    except ValueError:
        found = sessions.filter(name=reference).first()
    else:
        found = sessions.filter(Q(pk=reference) | Q(name=reference)).first()
    if found is None:
        raise InvalidInput(errors={"session": ["No session with this id or name."]})
    return found


def conversation_list(*, user: User) -> QuerySet[Conversation]:
    conversations = Conversation.objects.select_related("session", "assigned_to")
    if user.role == Role.AGENT:
        conversations = conversations.filter(assigned_to=user)
    return conversations


def conversation_get_for(*, user: User, conversation_id: object) -> Conversation:
    conversation = conversation_list(user=user).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("No conversation with this id.")
    return conversation


def batch_progress(*, batch_id: object) -> dict[str, Any]:
    """Counts by status; ``completed_at`` is stamped by ``services.batches_complete`` (view and sweeper)."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise NotFound("No batch with this id.")
    counts = dict(Message.objects.filter(batch=batch).values_list("status").annotate(n=Count("id")))
    by_status = {status: counts.get(status, 0) for status in MessageStatus.values if status != MessageStatus.RECEIVED}
    return {"id": batch.pk, "session": batch.session_id, "total": batch.total, "rejected": batch.rejected,
            "by_status": by_status, "created_at": batch.created_at, "completed_at": batch.completed_at}


def message_stats(*, since: dt.datetime | None, until: dt.datetime | None, session: object | None) -> dict[str, Any]:
    """Totals by status, by direction and per day; see ``messaging.services.stats`` for how it stays fast."""
    from messaging.services.stats import message_stats as compute

    return compute(since=since, until=until, session=session)
