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
from apikeys.models import ApiKey
from core.db import statements as db_statements
from core.db.ids import RowId, uuid7
from messaging.models import Conversation, Direction, Message
from messaging.services import bulk_sql, status
from sessions_waha.models import Session, SessionStatus

_SQL = """
WITH sender_row AS (
    {sender}
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
     WHERE session_row.status = '{working}' AND sender_row.role IN ({roles}) AND {session_allowed}
    ON CONFLICT (session_id, chat_id) DO UPDATE
       -- A reply means the chat was read: its unread count starts again from 0.
       SET last_message_at = EXCLUDED.last_message_at, unread_count = 0,
           assigned_to_id = COALESCE(c.assigned_to_id, EXCLUDED.assigned_to_id)
     -- An agent writes only into chats that are theirs or nobody's (and takes those).
     WHERE c.assigned_to_id IS NULL OR EXCLUDED.assigned_to_id IS NULL OR c.assigned_to_id = EXCLUDED.assigned_to_id
    RETURNING c.id
), message_row AS (
    INSERT INTO {messages} (id, session_id, conversation_id, created_by_id, created_by_key_id, direction, type,
                            chat_id, sender_id, text, media, location, reply_to, status, waha_message_id, wa_id,
                            error_code, error_detail, attempts, attempt_log, next_attempt_at, created_at, updated_at,
                            reactions)
    SELECT %(id)s, session_row.id, conversation_row.id, {creator}, '{outbound}', %(type)s, %(chat)s, '', %(text)s,
           %(media)s::jsonb, %(location)s::jsonb, %(reply_to)s, '{initial_status}', '', '', '', '', 0, '[]', %(now)s,
           %(now)s, %(now)s, '{{}}'
      FROM conversation_row, session_row
    ON CONFLICT (id) DO NOTHING
    RETURNING id
)
SELECT sender_row.role, session_row.id, session_row.status, session_row.phone,
       (SELECT id FROM conversation_row), (SELECT id FROM message_row),
       {stored_before}, {session_allowed}
  FROM (VALUES (1)) AS one (x) LEFT JOIN sender_row ON true LEFT JOIN session_row ON true
"""


# Who sends: a user (active, and the role is read now) or an API key (not revoked nor expired, and bound to
# its sessions, if any). The sender's id is the parameter ``sender``, and the message records it in its column.
_SENDERS = {
    "user": ("SELECT id, role, NULL::uuid[] AS session_ids FROM {users} WHERE id = %(sender)s AND is_active",
             "%(sender)s, NULL"),
    "api_key": ("SELECT id, role, session_ids FROM {api_keys} WHERE id = %(sender)s AND revoked_at IS NULL"
                " AND (expires_at IS NULL OR expires_at > %(now)s)",
                "NULL, %(sender)s"),
}
_SESSION_ALLOWED = "(sender_row.session_ids IS NULL OR session_row.id = ANY (sender_row.session_ids))"


@dataclass(frozen=True)
class QueueOutcome:
    """What the statement found and did; ``message`` is None when it inserted nothing."""

    sender_role: str | None
    session_id: uuid.UUID | None
    session_status: str | None
    session_phone: str
    # False when the sender (an API key bound to sessions) may not use the session found.
    session_allowed: bool
    message: Message | None


# The status a send is stored with comes from the status machine, like every status written.
_INITIAL_STATUS = status.initial_status(Direction.OUTBOUND)
# A retry (a dropped connection) also asks whether the first attempt stored the message before the
# connection broke; a first attempt knows it did not.
_STORED_BEFORE = {False: "false", True: "EXISTS (SELECT 1 FROM {messages} WHERE id = %(id)s)"}
_sql_cache: dict[tuple[str, frozenset[str], bool, str], str] = {}


def _sql_for(schema_name: str, roles: frozenset[str], *, retry: bool, sender_kind: str) -> str:
    """The statement for one tenant's tables and one kind of sender (built once per schema and process)."""
    key = (schema_name, roles, retry, sender_kind)
    sql = _sql_cache.get(key)
    if sql is None:
        messages = db_statements.table(schema_name, Message)
        sender, creator = _SENDERS[sender_kind]
        sql = _sql_cache[key] = _SQL.format(
            sender=sender.format(users=db_statements.table(schema_name, User),
                                 api_keys=db_statements.table(schema_name, ApiKey)),
            creator=creator, session_allowed=_SESSION_ALLOWED, sessions=db_statements.table(schema_name, Session),
            conversations=db_statements.table(schema_name, Conversation), messages=messages,
            stored_before=_STORED_BEFORE[retry].format(messages=messages),
            # Constants of this code, never input: written into the statement, one parameter less each.
            roles=", ".join(f"'{role}'" for role in sorted(roles)), agent=Role.AGENT,
            working=SessionStatus.WORKING, outbound=Direction.OUTBOUND, initial_status=_INITIAL_STATUS)
    return sql


_FIELDS = [field.attname for field in Message._meta.concrete_fields]
# What the statement stores in the columns it does not set from the request.
_QUEUED_COLUMNS = bulk_sql.MESSAGE_DEFAULTS | {"direction": Direction.OUTBOUND, "status": _INITIAL_STATUS}


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


def message_queue(*, schema_name: str, sender_id: RowId, roles: frozenset[str], session_reference: str,
                  chat_id: str, content: Any, now: datetime, api_key_id: RowId | None = None) -> QueueOutcome:
    """Queue one outbound message if the sender (active, one of ``roles``) may write into this chat of this
    WORKING session, in one autocommit statement; report what stood in the way otherwise.

    The sender is the user ``sender_id``, or the API key ``api_key_id`` when it is given (a live key, and
    one of its sessions if it is bound to some).

    Safe to retry on a dropped connection: the message id is chosen here, a repeat inserts nothing, and a
    message the first attempt stored counts as queued.
    """
    message_id = uuid7()
    sender_kind = "user" if api_key_id is None else "api_key"
    params = {
        "sender": sender_id if api_key_id is None else api_key_id,
        "reference": session_reference, "reference_id": _reference_id(session_reference),
        "conversation": uuid7(), "chat": chat_id, "now": now, "id": message_id,
        "type": content.type, "text": content.text, "media": _json(content.media),
        "location": _json(content.location), "reply_to": content.reply_to,
    }
    row = db_statements.fetch_one_retrying(_sql_for(schema_name, roles, retry=False, sender_kind=sender_kind), params,
                                           retry_sql=_sql_for(schema_name, roles, retry=True, sender_kind=sender_kind))
    assert row is not None, "the statement selects from a one-row VALUES list"
    role, session_id, status, phone, conversation_id, inserted_id, stored_before, session_allowed = row
    message = None
    if inserted_id is not None or stored_before:
        message = _stored_message(
            id=message_id, session_id=session_id, conversation_id=conversation_id,
            created_by_id=sender_id if api_key_id is None else None, created_by_key_id=api_key_id,
            type=content.type, chat_id=chat_id, text=content.text, media=content.media, location=content.location,
            reply_to=content.reply_to, next_attempt_at=now, created_at=now, updated_at=now)
        message.session_phone = phone  # type: ignore[attr-defined]  # as messaging.selectors annotates it
    return QueueOutcome(sender_role=role, session_id=session_id, session_status=status, session_phone=phone or "",
                        session_allowed=session_allowed is not False, message=message)
