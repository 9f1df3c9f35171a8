"""One hand-written statement, run the cheapest safe way: the hot write paths use it.

A statement alone (autocommit) runs through psycopg's own cursor with
server-side binding, prepared once per connection (``prepare_threshold`` in
the settings: Django turns preparing off unless told): one round trip, no
``BEGIN``/``COMMIT``, no parsing or planning it again for every request.
Inside a caller's transaction it runs in a savepoint instead, so that a
failure does not poison that transaction.

Django probes a reused connection once per request (``CONN_HEALTH_CHECKS``),
but the database can still drop it between that probe and the statement, and
Celery tasks have no request. ``fetch_one_retrying`` retries once on a new
connection; callers use it only for statements that are idempotent (a
pre-generated id, ``ON CONFLICT``), so a first attempt that did commit before
the connection broke is not repeated. ``read_retrying`` does the same for
reads (the tenant, the webhook's route).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections, transaction

T = TypeVar("T")


def fetch_one(sql: str, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
    """The statement's first row (None if it returned none)."""
    database = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: each access through the proxy costs
    if database.in_atomic_block:
        with transaction.atomic(), database.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    database.ensure_connection()
    with database.wrap_database_errors:
        statement_cursor = _statement_cursor(database)
        # Results in binary: no text parsing of uuids and timestamps (a third of a short statement's CPU).
        statement_cursor.execute(sql, params, prepare=True, binary=True)
        return statement_cursor.fetchone()


def _statement_cursor(database: Any) -> psycopg.Cursor:
    """One psycopg cursor per database connection, kept for these statements: setting up a cursor (its
    adapters and transformer) cost about as much as running a prepared statement."""
    kept = getattr(database, "_statement_cursor", None)
    if kept is None or kept.connection is not database.connection or kept.closed:
        kept = database._statement_cursor = psycopg.Cursor(database.connection)
    return kept


def _again_on_new_connection(first: Callable[[], T], again: Callable[[], T]) -> T:
    """``first()``; if the database dropped the connection under it, ``again()`` on a new one."""
    try:
        return first()
    except (OperationalError, InterfaceError):
        if connection.in_atomic_block:
            raise  # a caller's transaction cannot move to a new connection
        connection.close()
        return again()


def fetch_one_retrying(sql: str, params: Mapping[str, Any], *, retry_sql: str | None = None
                       ) -> tuple[Any, ...] | None:
    """``fetch_one``, retried once on a new connection if the database dropped this one.

    Only for idempotent statements (see the module's docstring). ``retry_sql``, if given, is what the
    retry runs instead: a statement that can also tell whether the first attempt took effect.
    """
    return _again_on_new_connection(lambda: fetch_one(sql, params), lambda: fetch_one(retry_sql or sql, params))


def read_retrying(read: Callable[[], T]) -> T:
    """``read()``, run once more on a new connection if the database dropped this one. Only for reads."""
    return _again_on_new_connection(read, read)


def table(schema_name: str, model: Any) -> str:
    """``"schema"."table"`` for a model: a hand-written statement never depends on the search_path."""
    quote = connection.ops.quote_name
    return f"{quote(schema_name)}.{quote(model._meta.db_table)}"
