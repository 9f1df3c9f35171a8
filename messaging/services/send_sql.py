"""``POST /messages/send`` in one SQL statement.

Checking the sender and the session, creating or touching the chat's
conversation (with the agent assignment rule) and inserting the message took
eight ORM statements and a transaction: most of a send's cost
(bench/RESULTS.md, "Accepted sends"). Here it is one prepared statement that
commits on its own, and reports why it inserted nothing when it did not.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS

from accounts.models import User
from accounts.roles import Role
from core.db import statements as db_statements
from core.db.ids import uuid7
from messaging.models import Conversation, Direction, Message, MessageStatus
from messaging.services import bulk_sql
from sessions_waha.models import Session, SessionStatus

_SQL = """
WITH sender_row AS (
    SELECT id, role FROM {users} WHERE id = %(user)s AND is_active
), session_row AS (
    SELECT id, status, phone FROM {sessions}
     WHERE deleted_at IS NULL AND (name = %(reference)s OR id = %(reference_id)s)
     ORDER BY id = %(reference_id)s DESC NULLS LAST LIMIT 1
), conversation_row AS (
    INSERT INTO {conversations} AS c (id, session_id, chat_id, contact_name, unread_count, created_at,
                                      last_message_at, assigned_to_id)
    SELECT %(conversation)s, session_row.id, %(chat)s, '', 0, %(now)s, %(now)s,
           CASE WHEN sender_row.role = '{agent}' THEN sender_row.id END
      FROM session_row, sender_row
     WHERE session_row.status = '{working}' AND sender_row.role IN ({roles})
    ON CONFLICT (session_id, chat_id) DO UPDATE
       -- A reply means the chat was read: its unread count starts again from 0.
       SET last_message_at = EXCLUDED.last_message_at, unread_count = 0,
           assigned_to_id = COALESCE(c.assigned_to_id, EXCLUDED.assigned_to_id)
     -- An agent writes only into chats that are theirs or nobody's (and takes those).
     WHERE c.assigned_to_id IS NULL OR EXCLUDED.assigned_to_id IS NULL OR c.assigned_to_id = EXCLUDED.assigned_to_id
    RETURNING c.id
), message_row AS (
    INSERT INTO {messages} (id, session_id, conversation_id, created_by_id, direction, type, chat_id, sender_id, text,
                            media, location, reply_to, status, waha_message_id, wa_id, error_code, error_detail,
                            attempts, attempt_log, next_attempt_at, created_at, updated_at, reactions)
    SELECT %(id)s, session_row.id, conversation_row.id, %(user)s, '{outbound}', %(type)s, %(chat)s, '', %(text)s,
           %(media)s::jsonb, %(location)s::jsonb, %(reply_to)s, '{queued}', '', '', '', '', 0, '[]', %(now)s,
           %(now)s, %(now)s, '{{}}'
      FROM conversation_row, session_row
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
SELECT sender_row.role, session_row.id, session_row.status, session_row.phone,
       (SELECT id FROM conversation_row), (SELECT id FROM message_row),
       {stored_before}
  FROM (VALUES (1)) AS one (x) LEFT JOIN sender_row ON true LEFT JOIN session_row ON true
"""


@dataclass(frozen=True)
class QueueOutcome:
    """What the statement found and did; ``message`` is None when it inserted nothing."""

    sender_role: str | None
    session_id: uuid.UUID | None
    session_status: str | None
    session_phone: str
    message: Message | None


# A retry (a dropped connection) also asks whether the first attempt stored the message before the
# connection broke; a first attempt knows it did not.
_STORED_BEFORE = {False: "false", True: "EXISTS (SELECT 1 FROM {messages} WHERE id = %(id)s)"}
_sql_cache: dict[tuple[str, frozenset[str], bool], str] = {}


def _sql_for(schema_name: str, roles: frozenset[str], *, retry: bool) -> str:
    """The statement for one tenant's tables (built once per schema and process)."""
    key = (schema_name, roles, retry)
    sql = _sql_cache.get(key)
    if sql is None:
        messages = db_statements.table(schema_name, Message)
        sql = _sql_cache[key] = _SQL.format(
            users=db_statements.table(schema_name, User), sessions=db_statements.table(schema_name, Session),
            conversations=db_statements.table(schema_name, Conversation), messages=messages,
            stored_before=_STORED_BEFORE[retry].format(messages=messages),
            # Constants of this code, never input: written into the statement, one parameter less each.
            roles=", ".join(f"'{role}'" for role in sorted(roles)), agent=Role.AGENT,
            working=SessionStatus.WORKING, outbound=Direction.OUTBOUND, queued=MessageStatus.QUEUED)
    return sql


_FIELDS = [field.attname for field in Message._meta.concrete_fields]
# What the statement stores in the columns it does not set from the request.
_QUEUED_COLUMNS = bulk_sql.MESSAGE_DEFAULTS | {"direction": Direction.OUTBOUND, "status": MessageStatus.QUEUED}


def _stored_message(**values: Any) -> Message:
    """The row just stored, as a model instance: built the way the ORM builds a loaded row (``from_db``),
    which skips working out every field's default again."""
    row = _QUEUED_COLUMNS | {"attempt_log": [], "reactions": {}} | values
    return Message.from_db(DEFAULT_DB_ALIAS, _FIELDS, [row[name] for name in _FIELDS])


def _reference_id(reference: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(reference)
    except ValueError:
        return None


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def message_queue(*, schema_name: str, sender_id: object, roles: frozenset[str], session_reference: str,
                  chat_id: str, content: Any, now: datetime) -> QueueOutcome:
    """Queue one outbound message if the sender (active, one of ``roles``) may write into this chat of this
    WORKING session, in one autocommit statement; report what stood in the way otherwise.

    Safe to retry on a dropped connection: the message id is chosen here, a repeat inserts nothing, and a
    message the first attempt stored counts as queued.
    """
    message_id = uuid7()
    params = {
        "user": sender_id, "reference": session_reference, "reference_id": _reference_id(session_reference),
        "conversation": uuid7(), "chat": chat_id, "now": now, "id": message_id,
        "type": content.type, "text": content.text, "media": _json(content.media),
        "location": _json(content.location), "reply_to": content.reply_to,
    }
    role, session_id, status, phone, conversation_id, inserted_id, stored_before = (
        db_statements.fetch_one_retrying(_sql_for(schema_name, roles, retry=False), params,
                                         retry_sql=_sql_for(schema_name, roles, retry=True)))
    message = None
    if inserted_id is not None or stored_before:
        message = _stored_message(
            id=message_id, session_id=session_id, conversation_id=conversation_id, created_by_id=sender_id,
            type=content.type, chat_id=chat_id, text=content.text, media=content.media, location=content.location,
            reply_to=content.reply_to, next_attempt_at=now, created_at=now, updated_at=now)
        message.session_phone = phone
    return QueueOutcome(sender_role=role, session_id=session_id, session_status=status, session_phone=phone or "",
                        message=message)
