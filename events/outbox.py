"""Recording events with the change they report (a transactional outbox).

Every writer of a reported change calls in here inside its own transaction,
or folds ``outbox_ctes`` into its own statement, so the event and its
deliveries commit (or roll back) with the change: a crash between the change
and the delivery loses nothing.

An event is written only when an enabled endpoint subscribes to its type, and
the test for that is part of the same statement (``WHERE EXISTS``), so a
tenant without endpoints pays one index probe on a tiny table, in a statement
it runs anyway, and never a stale in-process answer. Each subscribed endpoint
gets its ``Delivery`` row in the same statement, holding the endpoint's row
until commit so that a delete of it meanwhile waits (``events.locks``), and the
endpoints are kicked after commit (``events.kick.deliveries_kick``).

Message events written in SQL keep the message's row as it is right after the
change (``row``, without ``attempt_log``); the worker renders the API's view
of it (``events.render``) at the first delivery attempt.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from core.db.ids import RowId
from events import kick
from events.locks import HOLD_ENDPOINT_ROWS_SQL, endpoints_hold
from events.models import ALL_EVENTS, Delivery, DeliveryStatus, Endpoint, Event, EventType

logger = logging.getLogger("events")

# A time-ordered UUID (version 7) made in SQL: PostgreSQL 15 has no uuidv7(). The random bits of a version 4
# UUID get the time in milliseconds in front and the version bits set to 7 (see core.db.ids for why).
UUID7_SQL = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) "
    "from 1 for 6), 52, 1), 53, 1), 'hex')::uuid"
)

# Message statuses that are events (``message.<status>``); the others (queued, sending...) are not reported.
MESSAGE_EVENT_STATUSES = frozenset({"sent", "delivered", "read", "failed", "canceled", "received"})


def _tables() -> dict[str, str]:
    return {"event": Event._meta.db_table, "delivery": Delivery._meta.db_table, "endpoint": Endpoint._meta.db_table}


def subscribed_sql(type_sql: str, alias: str = "e") -> str:
    """``alias`` (an endpoint) is enabled and subscribed to the event type ``type_sql`` (an SQL expression)."""
    return f"{alias}.enabled AND {alias}.events && ARRAY[{type_sql}, '{ALL_EVENTS}']::varchar[]"


def outbox_ctes(
    *, source: str, type_sql: str, row_sql: str = "NULL::jsonb", data_sql: str = "NULL::jsonb", where: str = "TRUE"
) -> str:
    """CTEs to append to a statement's ``WITH``: one event per row of ``source`` (a CTE or table of the
    statement) that matches ``where`` and has a subscriber, and one pending delivery per subscribed endpoint.

    ``deliveries_written`` returns the endpoint of each delivery: select
    ``(SELECT array_agg(DISTINCT endpoint_id) FROM deliveries_written)`` to kick them after commit.
    """
    tables = _tables()
    return f"""
        , event_rows AS (
            SELECT {UUID7_SQL} AS id, {type_sql} AS type, clock_timestamp() AS created_at,
                   {row_sql} AS row, {data_sql} AS data
              FROM {source}
             WHERE ({where})
               AND EXISTS (SELECT 1 FROM {tables["endpoint"]} e WHERE {subscribed_sql(type_sql)}))
        , events_written AS (
            INSERT INTO {tables["event"]} (id, type, created_at, row, data)
            SELECT id, type, created_at, row, data FROM event_rows
            RETURNING id, type, created_at)
        , deliveries_written AS (
            INSERT INTO {tables["delivery"]} (id, event_id, endpoint_id, event_type, created_at, status, attempts,
                                              round_started_at_attempt, next_attempt_at, last_error, last_response)
            SELECT {UUID7_SQL}, ev.id, e.id, ev.type, ev.created_at, '{DeliveryStatus.PENDING}', 0, 0,
                   ev.created_at, '', ''
              FROM events_written ev JOIN {tables["endpoint"]} e ON {subscribed_sql("ev.type")}
               {HOLD_ENDPOINT_ROWS_SQL}
            RETURNING endpoint_id)"""  # noqa: S608 - our tables and fragments; values are parameters  # nosec B608


ENDPOINTS_WRITTEN_SQL = "(SELECT array_agg(DISTINCT endpoint_id) FROM deliveries_written)"


def messages_record(*, table: str, message_ids: Sequence[RowId], status: str) -> int:
    """``message.<status>`` for these messages of ``table`` (the messages' table: events sits below messaging),
    with their rows as they are now; how many events were written.

    Call inside the transaction that moved them (``messaging.services.status``, ``messaging.services.inbound``).
    """
    if not message_ids or status not in MESSAGE_EVENT_STATUSES:
        return 0
    sql = f"""
        WITH changed AS (SELECT * FROM {table} WHERE id = ANY(%s::uuid[]))
        {outbox_ctes(source="changed", type_sql="%s::varchar", row_sql="to_jsonb(changed) - 'attempt_log'")}
        SELECT (SELECT count(*) FROM events_written), {ENDPOINTS_WRITTEN_SQL}"""  # noqa: S608  # nosec B608
    event_type = f"message.{status}"
    # The type is a parameter twice: event_rows' SELECT list and its EXISTS (subscribed_sql).
    with connection.cursor() as cursor:
        cursor.execute(sql, [[str(pk) for pk in message_ids], event_type, event_type])
        written, endpoint_ids = cursor.fetchone()
    kick.kick_after_commit(endpoint_ids)
    return written


def event_record(*, type: str, data: dict[str, Any], endpoint_ids: Sequence[RowId] | None = None) -> Event | None:
    """One event whose ``data`` is already rendered (sessions, batches, pings); None when nobody subscribes.

    ``endpoint_ids`` delivers to exactly those endpoints whatever they subscribe to (the ``ping`` of
    ``POST /webhooks/endpoints/{id}/test``).
    """
    with transaction.atomic():
        targets = (
            endpoints_hold(where_sql="e.id = ANY(%s::uuid[])", params=[[str(pk) for pk in endpoint_ids]])
            if endpoint_ids is not None
            else endpoints_hold(where_sql=subscribed_sql("%s::varchar"), params=[type])
        )
        if not targets:
            return None
        now = timezone.now()
        event = Event.objects.create(type=type, created_at=now, data=json.loads(json.dumps(data, default=str)))
        Delivery.objects.bulk_create(
            [
                Delivery(event=event, endpoint_id=endpoint_id, event_type=type, created_at=now, next_attempt_at=now)
                for endpoint_id in targets
            ]
        )
        kick.kick_after_commit(targets)
    logger.info("event.recorded event_id=%s type=%s endpoints=%s", event.public_id, type, len(targets))
    return event


def subscribed(event_type: str) -> bool:
    """Whether an enabled endpoint of this tenant takes ``event_type``: callers skip rendering data nobody gets."""
    return Endpoint.objects.filter(enabled=True, events__overlap=[event_type, ALL_EVENTS]).exists()


def session_status_record(*, data: Callable[[], dict[str, Any]]) -> None:
    """``session.status`` with ``data()``, the session as ``GET /waha/sessions/{id}`` shows it (sessions_waha
    renders it: events sits below). Call with the change."""
    if subscribed(EventType.SESSION_STATUS):
        event_record(type=EventType.SESSION_STATUS, data=data())


def batch_completed_record(*, data: Callable[[], dict[str, Any]]) -> None:
    """``batch.completed`` with ``data()``, the batch as ``GET /messages/batches/{id}`` shows it (messaging
    renders it). Call with the change."""
    if subscribed(EventType.BATCH_COMPLETED):
        event_record(type=EventType.BATCH_COMPLETED, data=data())
