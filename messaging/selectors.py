"""Reads of messages, conversations, batches and stats: where visibility by role is decided.

An AGENT sees only the conversations assigned to them (and their messages);
an API key bound to sessions sees only those sessions' conversations, messages
and batches; every other caller sees the whole tenant. Lookups by id go
through the ``*_get_for`` gates, so an id outside what the caller may see is
the one 404.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Collection
from typing import Any

from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from accounts.models import User
from accounts.principals import ApiKeyPrincipal, session_scope
from accounts.roles import Role
from core.db.ids import RowId
from core.problems import InvalidInput, NotFound
from messaging.models import (
    OPEN_STATUSES,
    Batch,
    Conversation,
    DailyCount,
    Direction,
    Message,
    MessageStatus,
    StatsState,
    settled_at,
)
from sessions_waha.models import Session

Caller = User | ApiKeyPrincipal


def _scoped_messages(user: Caller) -> QuerySet[Message]:
    # The session's number is all a message needs from its session: annotate it
    # instead of building a Session per row; skip columns the API never shows.
    messages = Message.objects.annotate(session_phone=F("session__phone")).defer(
        "attempt_log", "next_attempt_at", "sending_started_at", "updated_at", "ack_level")
    if isinstance(user, User) and user.role == Role.AGENT:  # an API key is never an AGENT
        messages = messages.filter(conversation__assigned_to=user)
    if (sessions := session_scope(user)) is not None:
        messages = messages.filter(session_id__in=sessions)
    return messages


def message_list(*, user: Caller) -> QuerySet[Message]:
    """Messages the user may see (``messaging.filters.MessageFilter`` narrows them by the API's parameters)."""
    return _scoped_messages(user)


def message_get_for(*, user: Caller, message_id: RowId) -> Message:
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


def conversation_list(*, user: Caller) -> QuerySet[Conversation]:
    conversations = Conversation.objects.select_related("session", "assigned_to")
    if isinstance(user, User) and user.role == Role.AGENT:  # an API key is never an AGENT
        conversations = conversations.filter(assigned_to=user)
    if (sessions := session_scope(user)) is not None:
        conversations = conversations.filter(session_id__in=sessions)
    return conversations


def conversation_get_for(*, user: Caller, conversation_id: RowId) -> Conversation:
    conversation = conversation_list(user=user).filter(pk=conversation_id).first()
    if conversation is None:
        raise NotFound("No conversation with this id.")
    return conversation


def batch_get_for(*, user: Caller, batch_id: RowId) -> Batch:
    batches = Batch.objects.filter(pk=batch_id)
    if (sessions := session_scope(user)) is not None:
        batches = batches.filter(session_id__in=sessions)
    batch = batches.first()
    if batch is None:
        raise NotFound("No batch with this id.")
    return batch


def batch_progress(*, batch: Batch) -> dict[str, Any]:
    """Counts by status, and when the batch completed (its last message left ``queued`` and ``sending``).

    The sweeper stamps ``completed_at`` (``services.sending.batches_complete``); until it has, a complete batch's
    time is computed here, the same way, so a read never writes.
    """
    counts = dict(Message.objects.filter(batch=batch).values_list("status").annotate(n=Count("id")))
    by_status = {status: counts.get(status, 0) for status in MessageStatus.values if status != MessageStatus.RECEIVED}
    completed_at = batch.completed_at
    if completed_at is None and batch.total and not any(counts.get(status) for status in OPEN_STATUSES):
        completed_at = Message.objects.filter(batch=batch).aggregate(at=Max(settled_at()))["at"]
    return {"id": batch.pk, "session": batch.session_id, "total": batch.total, "rejected": batch.rejected,
            "by_status": by_status, "created_at": batch.created_at, "completed_at": completed_at}


# ------------------------------------------------------------------ stats (the rollup and the live edges)

UTC = dt.UTC


def day_start(day: dt.date) -> dt.datetime:
    """Midnight UTC at the start of ``day``: the stats count whole UTC days."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=UTC)


def _live(since: dt.datetime | None, until: dt.datetime | None, session: RowId | None,
          sessions: Collection[RowId] | None) -> QuerySet:
    messages = Message.objects.all()
    if since:
        messages = messages.filter(created_at__gte=since)
    if until:
        messages = messages.filter(created_at__lt=until)
    if session:
        messages = messages.filter(session_id=session)
    if sessions is not None:
        messages = messages.filter(session_id__in=sessions)
    return (messages.annotate(date=TruncDate("created_at", tzinfo=UTC)).values("date", "direction", "status")
            .annotate(n=Count("id")).order_by())


def _rolled(first_day: dt.date, end_day: dt.date, session: RowId | None,
            sessions: Collection[RowId] | None) -> QuerySet:
    rows = DailyCount.objects.filter(day__gte=first_day, day__lt=end_day)
    if session:
        rows = rows.filter(session_id=session)
    if sessions is not None:
        rows = rows.filter(session_id__in=sessions)
    return rows.values("day", "direction", "status").annotate(n=Sum("count")).order_by()


def _ceil_day(moment: dt.datetime) -> dt.date:
    moment = moment.astimezone(UTC)
    return moment.date() if moment == day_start(moment.date()) else moment.date() + dt.timedelta(days=1)


def message_stats(*, since: dt.datetime | None, until: dt.datetime | None, session: RowId | None,
                  user: Caller | None = None) -> dict[str, Any]:
    """Totals by status, by direction and per day (outbound, inbound, failed) for [since, until), of what
    ``user`` may see (an API key bound to sessions: only those; no user: the whole tenant).

    Whole past days (UTC) up to ``StatsState.rolled_until`` come from the rollup ``DailyCount``, which the beat
    task ``messaging.stats_refresh`` keeps (``messaging.services.stats``); today and the partial days at the
    edges of the range are counted live.
    """
    sessions = session_scope(user) if user is not None else None
    rows: list[tuple[dt.date, str, str, int]] = []
    state = StatsState.objects.first()
    first_full = _ceil_day(since) if since else dt.date.min
    end_full = state.rolled_until if state else dt.date.min
    if until:
        end_full = min(end_full, until.astimezone(UTC).date())
    edges: list[tuple[dt.datetime | None, dt.datetime | None] | None]
    if state and first_full < end_full:
        rows += [(r["day"], r["direction"], r["status"], r["n"])
                 for r in _rolled(first_full, end_full, session, sessions)]
        edges = [(since, day_start(first_full)) if since else None, (day_start(end_full), until)]
    else:
        edges = [(since, until)]
    for edge in filter(None, edges):
        start, end = edge
        if start is None or end is None or start < end:
            rows += [(r["date"], r["direction"], r["status"], r["n"]) for r in _live(start, end, session, sessions)]
    return _summarise(rows)


def _summarise(rows: list[tuple[dt.date, str, str, int]]) -> dict[str, Any]:
    by_status: dict[str, int] = dict.fromkeys(MessageStatus.values, 0)
    by_direction: dict[str, int] = dict.fromkeys(Direction.values, 0)
    days: dict[dt.date, dict[str, int]] = defaultdict(lambda: {"outbound": 0, "inbound": 0, "failed": 0})
    for day, direction, status, count in rows:
        by_status[status] += count
        by_direction[direction] += count
        days[day][direction] += count
        if status == MessageStatus.FAILED:
            days[day]["failed"] += count
    return {
        "total": sum(by_direction.values()),
        "by_status": by_status,
        "by_direction": by_direction,
        "by_day": [{"date": day.isoformat(), **counts} for day, counts in sorted(days.items())],
    }
