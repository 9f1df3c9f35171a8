"""Bulk SQL for the hot paths: COPY for many new messages, one UPDATE for many pre-generated ids.

Django's ``bulk_create`` compiles every row in Python (seconds for 10,000
messages); PostgreSQL's COPY streams them. Only code that must move
thousands of rows per request lives here. The one UPDATE for many send
results moves their status, so it lives in ``messaging.services.status``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from core.db.ids import RowId, uuid7_many
from messaging.models import Conversation, Message

# The columns a bulk insert sets; the first four differ per row, the rest are one value for the whole batch.
MESSAGE_ROW_COLUMNS = ("id", "conversation_id", "chat_id", "text")
MESSAGE_COMMON_COLUMNS = (
    "session_id", "batch_id", "created_by_id", "created_by_key_id", "direction", "type", "sender_id", "media",
    "reply_to", "status", "waha_message_id", "wa_id", "error_code", "error_detail", "attempts", "attempt_log",
    "next_attempt_at", "created_at", "updated_at", "reactions",
)
# What Django would store in a column an insert does not set: each field's default (computed once; whoever
# puts the mutable ones, attempt_log and reactions, on a model instance gives it its own copies).
MESSAGE_DEFAULTS = {field.attname: field.get_default() for field in Message._meta.concrete_fields}
# COPY's text format: backslash escapes for the characters that delimit fields and rows.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One field in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, (dict, list)):
        value = json.dumps(value)
    elif isinstance(value, datetime):
        value = value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def conversations_touch(*, session_id: RowId, chat_ids: Sequence[str], at: datetime) -> dict[str, uuid.UUID]:
    """chat id → conversation id for ``chat_ids`` (distinct), in one statement: missing conversations are
    created and every one gets ``last_message_at = at``."""
    table = Conversation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} AS c (id, session_id, chat_id, contact_name, unread_count, created_at,
                                          last_message_at)
                SELECT new.id, %s, new.chat, '', 0, clock_timestamp(), %s
                  FROM unnest(%s::uuid[], %s::text[]) AS new(id, chat)
                ON CONFLICT (session_id, chat_id) DO UPDATE SET last_message_at = EXCLUDED.last_message_at
                RETURNING c.chat_id, c.id""",  # noqa: S608 - our table name  # nosec B608
            # Time-ordered ids for the new ones: core/db/ids.py says why.
            [session_id, at, uuid7_many(len(chat_ids)), list(chat_ids)],
        )
        return dict(cursor.fetchall())


def messages_copy(*, common: dict[str, Any], rows: Iterable[tuple[uuid.UUID, object, str, str]]) -> int:
    """COPY outbound messages in: ``rows`` of (id, conversation id, chat id, text), ``common`` for the rest.

    The rows are written as COPY text directly: the shared columns are formatted
    once per batch, and only the four that differ are formatted per row.
    """
    shared = "\t".join(_copy_text({**MESSAGE_DEFAULTS, **common}[column]) for column in MESSAGE_COMMON_COLUMNS)
    columns = ", ".join(MESSAGE_ROW_COLUMNS + MESSAGE_COMMON_COLUMNS)
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {Message._meta.db_table} ({columns}) FROM STDIN"
    ) as copy:
        chunk: list[str] = []
        for message_id, conversation_id, chat_id, text in rows:
            chunk.append(f"{message_id}\t{conversation_id}\t{_copy_text(chat_id)}\t{_copy_text(text)}\t{shared}\n")
            if len(chunk) == 1000:
                copy.write("".join(chunk))
                count, chunk = count + len(chunk), []
        if chunk:
            copy.write("".join(chunk))
            count += len(chunk)
    return count


def wa_ids_assign(assignments: Sequence[tuple[object, str, str]]) -> None:
    """Store pre-generated ids (id, waha_message_id, wa_id) for many messages in one statement."""
    if not assignments:
        return
    values = ", ".join(["(%s::uuid, %s, %s)"] * len(assignments))
    params: list[Any] = [item for row in assignments for item in (str(row[0]), row[1], row[2])]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {Message._meta.db_table} AS m SET waha_message_id = v.waha_message_id, wa_id = v.wa_id
                  FROM (VALUES {values}) AS v(id, waha_message_id, wa_id) WHERE m.id = v.id""",  # noqa: S608  # nosec B608
            params,
        )
